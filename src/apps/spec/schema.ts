import { z } from 'zod';
import { conditionSchema } from '../../authz/index.js';

/**
 * The app spec (controls DA-1, AZ-1, AZ-3): the only thing an app author (a person, the no-code
 * editor or a model) writes. Tables, row security, policies and the data API are compiled from it,
 * so tenant isolation and authorization cannot be left out. One zod schema gives the TypeScript
 * types, the validation and the published JSON Schema (`app-spec.schema.json`).
 */

/** Identifiers become SQL and Cedar names: validated here, and always quoted in generated SQL. */
export const IDENTIFIER = /^[a-z][a-z0-9_]{0,40}$/;
const CEDAR_RESERVED = new Set(['true', 'false', 'if', 'then', 'else', 'in', 'is', 'has', 'like']);

export const identifier = z
  .string()
  .regex(IDENTIFIER, 'use a lowercase identifier: a-z, 0-9 and _, starting with a letter (max 41)')
  .refine((name) => !name.includes('__'), 'a double underscore is reserved (it separates app and resource names)')
  .refine((name) => !CEDAR_RESERVED.has(name), 'is a reserved word');

export const actionName = z.string().regex(/^[a-z][a-z0-9_]{0,40}$/, 'use a-z, 0-9 and _, starting with a letter (max 41)');
export const roleName = z.string().regex(/^[a-z][a-z0-9_-]{0,40}$/, 'use a-z, 0-9, _ and -, starting with a letter (max 41)');

export const DATA_CLASSES = ['public', 'internal', 'confidential', 'pii', 'phi', 'secret'] as const;
export type DataClass = (typeof DATA_CLASSES)[number];

export const FIELD_TYPES = ['text', 'long_text', 'integer', 'decimal', 'money', 'date', 'datetime', 'boolean', 'enum', 'email', 'phone', 'url', 'reference', 'json'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export const STANDARD_APP_ACTIONS = ['list', 'read', 'create', 'update', 'delete', 'export'] as const;

/** The role of callers who are not signed in; only a resource marked `public: true` may grant it anything. */
export const ANONYMOUS_ROLE = 'anonymous';

const enumValue = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'enum values: a-z, 0-9, _ and -');

export const fieldSchema = z.strictObject({
  name: identifier,
  type: z.enum(FIELD_TYPES),
  /** Required (DA-1): the class drives masking, encryption at rest, export and logging. */
  class: z.enum(DATA_CLASSES),
  label: z.string().min(1).max(100).optional(),
  required: z.boolean().default(false),
  unique: z.boolean().default(false),
  /** Numbers: value bounds; text: length bounds. */
  min: z.number().optional(),
  max: z.number().optional(),
  /** A JavaScript regular expression the whole value must match (text-like types). */
  pattern: z.string().min(1).max(500).optional(),
  /** enum: the allowed values. */
  values: z.array(enumValue).min(1).max(200).optional(),
  /** reference: the resource of this app it points to. */
  to: z.string().max(100).optional(),
  onDelete: z.enum(['restrict', 'cascade', 'set_null']).default('restrict'),
  /** Refused by the linter: references never cross tenants. */
  crossTenant: z.boolean().optional(),
  /** money: the ISO 4217 currency; values are integer minor units. */
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code, e.g. EUR').optional(),
  /** decimal: digits after the point. */
  scale: z.number().int().min(0).max(12).optional(),
  /** A plan renames this column instead of dropping and adding it. */
  renamedFrom: identifier.optional(),
});
export type FieldSpec = z.output<typeof fieldSchema>;

export const resourceSchema = z.strictObject({
  name: identifier,
  label: z.string().min(1).max(100).optional(),
  /** Anonymous callers may be granted list/read only when this says so out loud. */
  public: z.boolean().default(false),
  fields: z.array(fieldSchema).min(1).max(150),
  /**
   * Record attributes for attribute rules (AZ-3): `owner` is the creating user (column owner_id);
   * the others name a field of this resource holding the department, region or sensitivity.
   */
  attributes: z
    .strictObject({ owner: z.literal(true).optional(), department: identifier.optional(), region: identifier.optional(), sensitivity: identifier.optional() })
    .prefault({}),
  /** Custom actions besides list, read, create, update, delete and export (e.g. `close`). */
  actions: z.array(actionName).max(20).default([]),
});
export type ResourceSpec = z.output<typeof resourceSchema>;

export const roleSchema = z.strictObject({
  name: roleName,
  label: z.string().min(1).max(100).optional(),
  /** High-privilege roles need a passkey (ID-5). */
  highPrivilege: z.boolean().default(false),
});

export const ruleSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,40}$/, 'a-z, 0-9, _ and - (max 41)'),
  effect: z.enum(['permit', 'forbid']),
  roles: z.union([z.literal('*'), z.array(roleName).min(1)]),
  exceptRoles: z.array(roleName).optional(),
  resource: identifier,
  actions: z.array(actionName).min(1),
  when: z.array(conditionSchema).max(16),
  /**
   * The post-condition of a write rule: what the record must satisfy after the write (like
   * PostgreSQL's WITH CHECK). Without it "sales may update their own deals" would let them hand a
   * deal to someone else, or create one in another region.
   */
  check: z.array(conditionSchema).max(16).optional(),
  description: z.string().max(500).optional(),
});
export type RuleSpec = z.output<typeof ruleSchema>;

export const viewSchema = z.strictObject({
  list: z.strictObject({ columns: z.array(identifier).min(1).max(30), filters: z.array(identifier).max(30).default([]), sort: z.string().max(50).optional() }).optional(),
  form: z.strictObject({ sections: z.array(z.strictObject({ title: z.string().min(1).max(100), fields: z.array(identifier).min(1).max(60) })).min(1).max(20) }).optional(),
});

export const appSpecSchema = z.strictObject({
  $schema: z.string().max(500).optional(),
  app: identifier,
  version: z.number().int().min(1).max(1_000_000),
  title: z.string().min(1).max(200),
  description: z.string().max(2000).optional(),
  roles: z.array(roleSchema).max(50).default([]),
  resources: z.array(resourceSchema).min(1).max(100),
  /** role -> resource -> actions (AZ-1). Every resource needs at least one entry. */
  matrix: z.record(roleName, z.record(identifier, z.array(actionName))),
  rules: z.array(ruleSchema).max(100).default([]),
  views: z.record(identifier, viewSchema).default({}),
});

export type AppSpec = z.output<typeof appSpecSchema>;
export type AppSpecInput = z.input<typeof appSpecSchema>;
