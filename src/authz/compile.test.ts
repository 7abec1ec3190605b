import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { describe, expect, it } from 'vitest';
import { RampartError } from '../core/index.js';
import { compilePolicySet } from './compile.js';
import { cedarString } from './policies.js';
import { samplePolicySet, sampleRules } from './sample.js';
import type { AttributeRule, PolicySetInput } from './types.js';

function refusal(input: PolicySetInput): RampartError {
  try {
    compilePolicySet(input);
  } catch (error) {
    expect(error).toBeInstanceOf(RampartError);
    expect((error as RampartError).code).toBe('validation_failed');
    return error as RampartError;
  }
  throw new Error('expected compilePolicySet to refuse the input');
}

const withRule = (rule: Partial<AttributeRule>): PolicySetInput => ({
  ...samplePolicySet,
  rules: [{ id: 'extra', effect: 'permit', roles: ['viewer'], resource: 'invoice', actions: ['update'], when: [{ record: 'region', op: 'eq', value: 'eu' }], ...rule } as AttributeRule],
});

describe('compilePolicySet refuses what names nothing', () => {
  it('an unknown resource or action in the matrix, with a pointer to it', () => {
    const error = refusal({ ...samplePolicySet, matrix: { viewer: { customer: ['read', 'purge'], spaceship: ['read'] } } });
    expect(error.issues).toEqual([
      { pointer: '/matrix/viewer/customer/1', message: 'resource "customer" has no action "purge"' },
      { pointer: '/matrix/viewer/spaceship', message: 'unknown resource "spaceship"' },
    ]);
    expect(error.detail).toContain('/matrix/viewer/customer/1');
  });
  it('a rule on an attribute its resource does not declare', () => {
    const error = refusal(withRule({ resource: 'audit_event', actions: ['read'], when: [{ record: 'owner', op: 'eq', value: { principal: 'id' } }] }));
    expect(error.issues).toContainEqual({ pointer: '/rules/0/when/0/record', message: 'resource "audit_event" does not declare attribute "owner"' });
  });
  it('unknown resources, actions and roles in rules', () => {
    expect(refusal(withRule({ resource: 'spaceship' })).issues).toContainEqual({ pointer: '/rules/0/resource', message: 'unknown resource "spaceship"' });
    expect(refusal(withRule({ actions: ['teleport'] })).issues).toContainEqual({ pointer: '/rules/0/actions/0', message: 'resource "invoice" has no action "teleport"' });
    expect(refusal(withRule({ resource: '*', actions: ['teleport'] })).issues).toContainEqual({ pointer: '/rules/0/actions/0', message: 'no resource has action "teleport"' });
    expect(refusal(withRule({ roles: ['root'] })).issues).toContainEqual({ pointer: '/rules/0/roles', message: 'unknown role "root"' });
    expect(refusal(withRule({ exceptRoles: ['root'] })).issues).toContainEqual({ pointer: '/rules/0/exceptRoles', message: 'unknown role "root"' });
    expect(refusal({ ...samplePolicySet, matrix: { root: { customer: ['read'] } } }).issues).toContainEqual({ pointer: '/matrix/root', message: 'unknown role "root"' });
  });
  it('an unconditional permit rule (a grant the matrix would not show)', () => {
    expect(refusal(withRule({ when: [] })).issues?.[0]).toMatchObject({ pointer: '/rules/0/when' });
  });
  it('comparisons that mix owner and principal attributes', () => {
    expect(refusal(withRule({ when: [{ record: 'region', op: 'eq', value: { principal: 'id' } }] })).issues?.[0]?.message).toBe('principal.id compares only with owner, not region');
    expect(refusal(withRule({ when: [{ record: 'owner', op: 'neq', value: { principal: 'region' } }] })).issues?.[0]?.message).toBe('owner compares only with principal.id or user ids, not principal.region');
  });
  it('duplicate ids and names, malformed names, Cedar reserved words, bad shapes', () => {
    expect(refusal({ ...samplePolicySet, rules: [sampleRules[0]!, sampleRules[0]!] }).issues).toContainEqual({ pointer: '/rules/1/id', message: 'rule id "finance-refunds-own-region" is used twice' });
    expect(refusal({ ...samplePolicySet, resources: [...samplePolicySet.resources, samplePolicySet.resources[0]!] }).issues?.[0]?.message).toContain('defined twice');
    expect(refusal({ ...samplePolicySet, resources: [{ name: 'Invoice', actions: ['read'] }] }).issues?.[0]?.pointer).toBe('/resources/0/name');
    expect(refusal({ ...samplePolicySet, resources: [{ name: 'is', actions: ['read'] }] }).issues?.[0]?.message).toBe('is a reserved word in Cedar');
    expect(refusal(withRule({ when: [{ record: 'region', op: 'in', value: [] }] })).issues?.[0]?.pointer).toBe('/rules/0/when/0/value');
    expect(refusal(withRule({ when: [{ record: 'colour', op: 'eq', value: 'red' } as never] })).issues?.[0]?.pointer).toBe('/rules/0/when/0/record');
  });
});

describe('compilePolicySet output', () => {
  const set = compilePolicySet(samplePolicySet);
  it('one Cedar policy per matrix grant and per rule, with stable ids', () => {
    const grants = Object.values(samplePolicySet.matrix).flatMap((row) => Object.values(row).flat()).length;
    expect(Object.keys(set.policies)).toHaveLength(grants + sampleRules.length);
    expect(set.policies['matrix:finance:invoice:read']).toBe('permit (principal in Role::"finance", action == Action::"invoice:read", resource is invoice);');
    expect(set.policies['rule:only-dpo-exports-pii']).toContain('unless { principal in [Role::"dpo"] }');
    expect(compilePolicySet(samplePolicySet).policyText).toBe(set.policyText);
    expect(compilePolicySet(samplePolicySet).preparsed).toEqual(set.preparsed);
  });
  it('the schema has User, an enum of roles, one entity type per resource and one action per (resource, action)', () => {
    const namespace = set.schema[''];
    expect(Object.keys(namespace?.entityTypes ?? {})).toEqual(['User', 'Role', 'customer', 'invoice', 'audit_event']);
    expect(namespace?.entityTypes.Role).toEqual({ enum: ['admin', 'dpo', 'finance', 'member', 'viewer'] });
    expect(namespace?.entityTypes.audit_event).toEqual({ shape: { type: 'Record', attributes: { region: { type: 'String', required: false } } } });
    expect(namespace?.actions['invoice:refund']).toEqual({ appliesTo: { principalTypes: ['User'], resourceTypes: ['invoice'] } });
    expect(Object.keys(namespace?.actions ?? {})).toHaveLength(16);
  });
  it('the full policy text parses and validates against the schema', () => {
    const answer = cedar.validate({ schema: set.schema, policies: { staticPolicies: set.policyText }, validationSettings: { mode: 'strict' } });
    expect(answer).toMatchObject({ type: 'success', validationErrors: [] });
  });
  it('roles default to those the matrix and rules mention; an empty catalog compiles and denies', () => {
    const { roles: _roles, ...withoutRoles } = samplePolicySet;
    expect(compilePolicySet(withoutRoles).roles).toEqual(['admin', 'dpo', 'finance', 'member', 'viewer']);
    const empty = compilePolicySet({ resources: [], matrix: {} });
    expect(empty.roles).toEqual([]);
    expect(empty.evaluate({ principal: { id: 'u', tenantId: 't', roles: [] }, action: 'read', resource: { type: 'x' } }).allowed).toBe(false);
  });
  it('literals are escaped for Cedar', () => {
    expect(cedarString('a"b\\c\nd')).toBe('"a\\"b\\\\c\\u{a}d"');
    const tricky = compilePolicySet(withRule({ when: [{ record: 'region', op: 'eq', value: 'eu" || true || "' }] }));
    const request = { principal: { id: 'u', tenantId: 't', roles: ['viewer'] }, action: 'update', resource: { type: 'invoice', attributes: { region: 'us' } } };
    expect(tricky.evaluate(request).allowed).toBe(false);
  });
});
