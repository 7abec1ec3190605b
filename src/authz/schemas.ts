import { z } from 'zod';
import { RECORD_ATTRIBUTES, type AttributeRule, type Condition, type Matrix, type ResourceDefinition } from './types.js';

/**
 * Structural checks for policy-set input that arrives as JSON (app spec, `rampart matrix set`).
 * Names become Cedar identifiers and policy ids, so they are restricted here; the meaning checks
 * (unknown resource, undeclared attribute) live in validate.ts.
 */

/** Lowercase Cedar identifiers minus Cedar's reserved words (`is`, `in`, `has`, `like`, ...). */
const RESERVED = new Set(['true', 'false', 'if', 'then', 'else', 'in', 'is', 'has', 'like']);
export const resourceName = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, 'use a lowercase identifier: a-z, 0-9, _ (max 64)')
  .refine((name) => !RESERVED.has(name), 'is a reserved word in Cedar');
export const actionName = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'use a-z, 0-9, _ and - (max 64), starting with a letter');
export const roleName = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'use a-z, 0-9, _ and - (max 64), starting with a letter');
export const ruleId = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'use a-z, 0-9, _, . and - (max 64)');

const attribute = z.enum(RECORD_ATTRIBUTES);
const literal = z.string().max(256);
const principalRef = z.strictObject({ principal: z.enum(['id', 'department', 'region']) });

export const conditionSchema = z.discriminatedUnion('op', [
  z.strictObject({ record: attribute, op: z.enum(['eq', 'neq']), value: z.union([literal, principalRef]) }),
  z.strictObject({ record: attribute, op: z.enum(['in', 'not_in']), value: z.array(literal).min(1).max(100) }),
]) satisfies z.ZodType<Condition>;

export const attributeRuleSchema = z.strictObject({
  id: ruleId,
  effect: z.enum(['permit', 'forbid']),
  roles: z.union([z.literal('*'), z.array(roleName).min(1)]),
  exceptRoles: z.array(roleName).optional(),
  resource: z.union([z.literal('*'), resourceName]),
  actions: z.array(actionName).min(1),
  when: z.array(conditionSchema).max(16),
  description: z.string().max(500).optional(),
}) satisfies z.ZodType<AttributeRule>;

export const resourceDefinitionSchema = z.strictObject({
  name: resourceName,
  actions: z.array(actionName).min(1),
  attributes: z.strictObject({ owner: z.literal(true).optional(), department: z.literal(true).optional(), region: z.literal(true).optional(), sensitivity: z.literal(true).optional() }).optional(),
  privileged: z.array(actionName).optional(),
}) satisfies z.ZodType<ResourceDefinition>;

export const matrixSchema = z.record(roleName, z.record(z.string(), z.array(z.string()))) satisfies z.ZodType<Matrix>;

export const policySetInputSchema = z.strictObject({
  resources: z.array(resourceDefinitionSchema),
  matrix: matrixSchema,
  rules: z.array(attributeRuleSchema).optional(),
  roles: z.array(roleName).optional(),
  customPolicies: z.string().max(200_000).optional(),
});
