import { describe, expect, it } from 'vitest';
import { RampartError } from '../core/index.js';
import { compilePolicySet } from './compile.js';
import { constraintFor, constraintMatches } from './constraint.js';
import { decide, decideWithCedar } from './decide.js';
import { samplePolicySet } from './sample.js';

const withCustom = (customPolicies: string) => compilePolicySet({ ...samplePolicySet, customPolicies });

function refusedWith(customPolicies: string): string[] {
  try {
    withCustom(customPolicies);
  } catch (error) {
    expect(error).toBeInstanceOf(RampartError);
    expect((error as RampartError).code).toBe('validation_failed');
    return ((error as RampartError).issues ?? []).map((issue) => `${issue.pointer} ${issue.message}`);
  }
  throw new Error('expected the custom policies to be refused');
}

const admin = { id: 'u-1', tenantId: 't-1', roles: ['admin'] };

describe('tenant custom policies are refused with a clear error', () => {
  it('a syntax error, with line and column', () => {
    const [message] = refusedWith('permit (principal, action, resource);\nforbid (principal action, resource);');
    expect(message).toMatch(/^\/customPolicies syntax error at line 2, column 19: .*unexpected token `action`/);
  });
  it('an unknown entity type', () => {
    const messages = refusedWith('forbid (principal, action, resource is spaceship);');
    expect(messages.join('\n')).toMatch(/custom:0 is invalid at line 1, column \d+: .*spaceship/);
  });
  it('an unknown attribute, naming the policy by its @id', () => {
    const messages = refusedWith('permit (principal, action, resource);\n@id("colours")\nforbid (principal, action == Action::"customer:read", resource) when { resource.colour == "red" };');
    expect(messages).toEqual([expect.stringMatching(/^\/customPolicies custom:colours is invalid at line 3, column \d+: for policy `custom:colours`, attribute `colour` on entity type `customer` not found/)]);
  });
  it('an unknown role, an unguarded optional attribute, a template, duplicate ids', () => {
    expect(refusedWith('permit (principal in Role::"root", action, resource);').join()).toContain('`"root"` is not declared as a valid eid');
    expect(refusedWith('forbid (principal, action == Action::"customer:read", resource) when { resource.region == "eu" };').join()).toContain('optional attribute `region`');
    expect(refusedWith('permit (principal == ?principal, action, resource);').join()).toContain('includes a template');
    expect(refusedWith('@id("a") permit (principal, action, resource is customer);\n@id("a") forbid (principal, action, resource is customer);').join()).toContain('"custom:a" is used twice');
  });
});

describe('valid custom policies take effect', () => {
  const set = withCustom('@id("no-eu-deletes")\nforbid (principal, action == Action::"customer:delete", resource)\nwhen { resource has region && resource.region == "eu" };');

  it('a custom forbid denies what the matrix grants, decided by Cedar', () => {
    const request = { principal: admin, action: 'delete', resource: { type: 'customer', attributes: { region: 'eu' } } };
    expect(decide(set, request)).toEqual({ allowed: false, reason: 'custom:no-eu-deletes', policyIds: ['custom:no-eu-deletes'], engine: 'cedar' });
    expect(decideWithCedar(set, request).allowed).toBe(false);
    expect(decide(set, { ...request, resource: { type: 'customer', attributes: { region: 'us' } } })).toMatchObject({ allowed: true, engine: 'cedar' });
  });
  it('actions no custom policy can touch stay on the compiled path', () => {
    expect(decide(set, { principal: admin, action: 'read', resource: { type: 'customer', attributes: { region: 'eu' } } })).toMatchObject({ allowed: true, engine: 'compiled' });
  });
  it('AZ-3 the list constraint reads the custom forbid as record tests (exact, no row check)', () => {
    expect(constraintFor(set, { principal: admin, action: 'delete', resourceType: 'customer' })).toEqual({ kind: 'where', anyOf: [[{ column: 'region', op: 'is_null' }], [{ column: 'region', op: 'neq', value: 'eu' }]] });
    expect(constraintFor(set, { principal: admin, action: 'read', resourceType: 'customer' })).toEqual({ kind: 'all' });
    expect(constraintFor(set, { principal: { ...admin, roles: ['viewer'] }, action: 'delete', resourceType: 'customer' })).toEqual({ kind: 'none' });
  });
  it('AZ-3 a custom permit grants its role only, and its constraint is the permit\'s record tests', () => {
    const permitting = withCustom('permit (principal in Role::"viewer", action in [Action::"invoice:export"], resource) when { resource has region && resource.region == "eu" };');
    const viewer = { ...admin, roles: ['viewer'] };
    expect(decide(permitting, { principal: viewer, action: 'export', resource: { type: 'invoice', attributes: { region: 'eu' } } })).toMatchObject({ allowed: true, policyIds: ['custom:0'] });
    expect(decide(permitting, { principal: viewer, action: 'export', resource: { type: 'invoice', attributes: { region: 'us' } } }).allowed).toBe(false);
    // The PII forbid still overrides a custom permit.
    expect(decide(permitting, { principal: viewer, action: 'export', resource: { type: 'invoice', attributes: { region: 'eu', sensitivity: 'pii' } } }).policyIds).toEqual(['rule:only-dpo-exports-pii']);
    expect(constraintFor(permitting, { principal: viewer, action: 'export', resourceType: 'invoice' })).toEqual({
      kind: 'where',
      anyOf: [
        [{ column: 'region', op: 'eq', value: 'eu' }, { column: 'sensitivity', op: 'not_in', value: ['phi', 'pii'] }],
        [{ column: 'region', op: 'eq', value: 'eu' }, { column: 'sensitivity', op: 'is_null' }],
      ],
    });
    // A role the permit does not name gains nothing from it.
    expect(constraintFor(permitting, { principal: { ...admin, roles: ['member'] }, action: 'export', resourceType: 'invoice' })).toEqual({ kind: 'none' });
  });
  it('AZ-3 Cedar the constraint reader does not compile falls back to a row check, only for principals it can cover', () => {
    const opaque = withCustom('permit (principal in Role::"viewer", action in [Action::"invoice:export"], resource) when { resource has region && resource.region like "e*" };');
    expect(constraintFor(opaque, { principal: { ...admin, roles: ['viewer'] }, action: 'export', resourceType: 'invoice' })).toMatchObject({ needsRowCheck: true });
    expect(constraintFor(opaque, { principal: { ...admin, roles: ['member'] }, action: 'export', resourceType: 'invoice' })).toEqual({ kind: 'none' });
  });
  it('a policy scoped by resource type touches only that type; an unscoped one touches everything', () => {
    const typed = withCustom('forbid (principal, action, resource is audit_event) when { resource has region && resource.region == "us" };');
    expect(decide(typed, { principal: admin, action: 'read', resource: { type: 'audit_event', attributes: { region: 'us' } } })).toMatchObject({ allowed: false, engine: 'cedar' });
    expect(decide(typed, { principal: admin, action: 'read', resource: { type: 'customer' } }).engine).toBe('compiled');
    const everything = withCustom('forbid (principal, action, resource) when { principal has region && principal.region == "mars" };');
    expect(decide(everything, { principal: admin, action: 'read', resource: { type: 'customer' } })).toMatchObject({ allowed: true, engine: 'cedar' });
    expect(decide(everything, { principal: { ...admin, region: 'mars' }, action: 'read', resource: { type: 'customer' } }).allowed).toBe(false);
  });
  it('ids follow text order for many policies (Cedar sorts them internally), and warnings are kept', () => {
    const many = Array.from({ length: 12 }, (_, index) => `forbid (principal, action == Action::"customer:read", resource) when { principal has region && principal.region == "r${index}" };`).join('\n');
    const set12 = withCustom(many);
    expect(set12.custom.map((policy) => policy.id)).toEqual(Array.from({ length: 12 }, (_, index) => `custom:${index}`));
    expect(set12.custom[10]?.text).toContain('"r10"');
    expect(decide(set12, { principal: { ...admin, region: 'r10' }, action: 'read', resource: { type: 'customer' } }).policyIds).toEqual(['custom:10']);
    const impossible = withCustom('forbid (principal, action == Action::"customer:read", resource is invoice);');
    expect(impossible.warnings.join()).toContain('custom:0');
    expect(withCustom('  \n').custom).toEqual([]);
  });
});

describe('AZ-3 tenant Cedar read into the list constraint: exact on every record, or flagged for a row check', () => {
  const owners = ['u-1', 'u-2', null];
  const regions = ['eu', 'us', null];
  const departments = ['sales', null];
  const records = owners.flatMap((owner) => regions.flatMap((region) => departments.map((department) => ({ owner, region, department, sensitivity: null }))));
  const principals = [admin, { ...admin, roles: ['member'] }, { ...admin, id: 'u-2', roles: ['member'], region: 'eu' }, { ...admin, roles: ['member', 'finance'], region: 'us', department: 'sales' }];
  const exact = [
    'permit (principal is User in Role::"member", action == Action::"invoice:refund", resource) unless { resource has region && resource.region == "eu" };',
    'permit (principal, action == Action::"invoice:refund", resource) when { (resource has owner && resource.owner == principal) || !(resource has department) };',
    'permit (principal, action == Action::"invoice:refund", resource) when { resource has region && ["eu", "us"].contains(resource.region) && !(principal has region && resource.region == principal.region) };',
    'forbid (principal in Role::"finance", action == Action::"invoice:refund", resource) unless { resource has department && principal has department && resource.department == principal.department };',
    'permit (principal, action == Action::"invoice:refund", resource) when { resource has owner && resource.owner == User::"u-2" && principal in Role::"member" };',
  ];
  const unreadable = [
    'permit (principal in Role::"member", action == Action::"invoice:refund", resource) when { if resource has region then resource.region == "eu" else false };',
    'permit (principal in Role::"member", action == Action::"invoice:refund", resource == invoice::"x");',
  ];
  it.each([...exact.map((text) => ({ text, exact: true })), ...unreadable.map((text) => ({ text, exact: false }))])('$text', ({ text, exact: isExact }) => {
    const set = withCustom(text);
    for (const principal of principals) {
      const constraint = constraintFor(set, { principal, action: 'refund', resourceType: 'invoice' });
      const covered = !text.includes('Role::"member"') || principal.roles.includes('member');
      for (const attributes of records) {
        const allowed = decideWithCedar(set, { principal, action: 'refund', resource: { type: 'invoice', id: 'y', attributes } }).allowed;
        const matches = constraintMatches(constraint, attributes);
        if (isExact || !covered) expect(matches, JSON.stringify({ principal, attributes, constraint })).toBe(allowed);
        else if (allowed) expect(matches).toBe(true);
      }
      if (!isExact && covered) expect(constraint).toMatchObject({ needsRowCheck: true });
      else expect('needsRowCheck' in constraint).toBe(false);
    }
  });
});
