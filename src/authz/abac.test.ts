import { describe, expect, it } from 'vitest';
import { compilePolicySet } from './compile.js';
import { constraintFor, constraintMatches } from './constraint.js';
import { decide, decideWithCedar } from './decide.js';
import { samplePolicySet } from './sample.js';
import type { AuthzPrincipal, AuthzRequest, RecordAttributes } from './types.js';

// control: AZ-3. The attribute rules the controls name, decided by both engines.
const set = compilePolicySet(samplePolicySet);

const user = (roles: string[], extra: Partial<AuthzPrincipal> = {}): AuthzPrincipal => ({ id: 'u-1', tenantId: 't-1', roles, ...extra });

/** Both engines (pre-parsed and stateless Cedar) must give the same decision and reasons. */
function both(principal: AuthzPrincipal, action: string, type: string, attributes?: RecordAttributes) {
  const request: AuthzRequest = { principal, action, resource: { type, id: 'r-1', ...(attributes ? { attributes } : {}) } };
  const fast = decide(set, request);
  const reference = decideWithCedar(set, request);
  const stateless = decideWithCedar(set, request, { api: 'stateless' });
  expect({ allowed: fast.allowed, policyIds: fast.policyIds }).toEqual({ allowed: reference.allowed, policyIds: reference.policyIds });
  expect(stateless).toEqual(reference);
  // The list constraint must say the same about this record.
  const constraint = constraintFor(set, { principal, action, resourceType: type });
  expect(constraintMatches(constraint, attributes)).toBe(fast.allowed);
  return fast;
}

describe('AZ-3 finance may refund only invoices of their region', () => {
  const finance = user(['finance'], { region: 'eu' });
  it('AZ-3 finance refunds an invoice of their region', () => {
    expect(both(finance, 'refund', 'invoice', { region: 'eu' })).toMatchObject({ allowed: true, policyIds: ['rule:finance-refunds-own-region'] });
  });
  it('AZ-3 finance cannot refund an invoice of another region', () => {
    expect(both(finance, 'refund', 'invoice', { region: 'us' })).toMatchObject({ allowed: false, reason: 'no permit' });
  });
  it('AZ-3 finance cannot refund an invoice without a region', () => {
    expect(both(finance, 'refund', 'invoice', {}).allowed).toBe(false);
    expect(both(finance, 'refund', 'invoice', { region: null }).allowed).toBe(false);
  });
  it('AZ-3 finance without a region refunds nothing', () => {
    expect(both(user(['finance']), 'refund', 'invoice', { region: 'eu' }).allowed).toBe(false);
  });
  it('AZ-3 refund is not a finance matrix grant; admin refunds anywhere; viewer never', () => {
    expect(set.matrix.finance?.invoice).not.toContain('refund');
    expect(both(user(['admin'], { region: 'eu' }), 'refund', 'invoice', { region: 'us' })).toMatchObject({ allowed: true, policyIds: ['matrix:admin:invoice:refund'] });
    expect(both(user(['viewer'], { region: 'eu' }), 'refund', 'invoice', { region: 'eu' }).allowed).toBe(false);
  });
});

describe('AZ-3 nobody but the dpo role exports PII', () => {
  for (const sensitivity of ['pii', 'phi']) {
    it(`AZ-3 admin cannot export a ${sensitivity} customer`, () => {
      expect(both(user(['admin']), 'export', 'customer', { sensitivity })).toMatchObject({ allowed: false, policyIds: ['rule:only-dpo-exports-pii'] });
    });
    it(`AZ-3 finance cannot export a ${sensitivity} invoice`, () => {
      expect(both(user(['finance']), 'export', 'invoice', { sensitivity })).toMatchObject({ allowed: false, policyIds: ['rule:only-dpo-exports-pii'] });
    });
    it(`AZ-3 dpo exports a ${sensitivity} customer`, () => {
      expect(both(user(['dpo']), 'export', 'customer', { sensitivity })).toMatchObject({ allowed: true, policyIds: ['matrix:dpo:customer:export'] });
    });
  }
  it('AZ-3 admin exports records that are not PII', () => {
    expect(both(user(['admin']), 'export', 'customer', { sensitivity: 'internal' }).allowed).toBe(true);
    expect(both(user(['admin']), 'export', 'customer', {}).allowed).toBe(true);
  });
  it('AZ-3 holding dpo beside another role exempts; the forbid does not grant dpo what the matrix does not', () => {
    expect(both(user(['admin', 'dpo']), 'export', 'customer', { sensitivity: 'pii' }).allowed).toBe(true);
    expect(both(user(['dpo']), 'export', 'invoice', { sensitivity: 'pii' })).toMatchObject({ allowed: false, reason: 'no permit' });
  });
  it('AZ-3 the rule covers every resource with export and sensitivity, and skips those without sensitivity', () => {
    const rule = set.rules.find((candidate) => candidate.id === 'only-dpo-exports-pii');
    expect(rule?.targets).toEqual([
      { resource: 'customer', action: 'export' },
      { resource: 'invoice', action: 'export' },
    ]);
    expect(both(user(['dpo']), 'export', 'audit_event', { region: 'eu' }).allowed).toBe(true);
  });
});

describe('AZ-3 a member may update only records they own', () => {
  const member = user(['member']);
  it('AZ-3 member updates a customer they own', () => {
    expect(both(member, 'update', 'customer', { owner: 'u-1' })).toMatchObject({ allowed: true, policyIds: ['rule:members-update-own-customers'] });
  });
  it("AZ-3 member cannot update someone else's customer or an ownerless one", () => {
    expect(both(member, 'update', 'customer', { owner: 'u-2' }).allowed).toBe(false);
    expect(both(member, 'update', 'customer', {}).allowed).toBe(false);
  });
  it('AZ-3 ownership does not extend to actions without a rule', () => {
    expect(both(member, 'delete', 'customer', { owner: 'u-1' }).allowed).toBe(false);
  });
});

describe('AZ-3 department and region rules, and deny by default', () => {
  const scoped = compilePolicySet({
    ...samplePolicySet,
    rules: [
      ...(samplePolicySet.rules ?? []),
      { id: 'same-department-only', effect: 'forbid', roles: ['viewer'], resource: 'customer', actions: ['read'], when: [{ record: 'department', op: 'neq', value: { principal: 'department' } }] },
      { id: 'eu-viewers-read-eu-invoices', effect: 'forbid', roles: ['viewer'], resource: 'invoice', actions: ['read'], when: [{ record: 'region', op: 'not_in', value: ['eu', 'uk'] }] },
    ],
  });
  const viewer = user(['viewer'], { department: 'sales' });
  const check = (action: string, type: string, attributes: RecordAttributes) => {
    const request = { principal: viewer, action, resource: { type, attributes } };
    const fast = decide(scoped, request);
    expect(fast.allowed).toBe(decideWithCedar(scoped, request).allowed);
    return fast.allowed;
  };
  it('AZ-3 viewer reads customers of their department only (a record without a department is not "another department")', () => {
    expect(check('read', 'customer', { department: 'sales' })).toBe(true);
    expect(check('read', 'customer', { department: 'ops' })).toBe(false);
    expect(check('read', 'customer', {})).toBe(true);
  });
  it('AZ-3 viewer reads invoices of listed regions', () => {
    expect(check('read', 'invoice', { region: 'uk' })).toBe(true);
    expect(check('read', 'invoice', { region: 'us' })).toBe(false);
  });
  it('AZ-2 unknown action or resource type is denied, not thrown', () => {
    const request = { principal: user(['admin']), action: 'purge', resource: { type: 'customer' } };
    expect(decide(set, request)).toMatchObject({ allowed: false, reason: 'unknown action "purge" on resource "customer"' });
    expect(decideWithCedar(set, request).allowed).toBe(false);
    expect(decide(set, { ...request, action: 'read', resource: { type: 'spaceship' } }).allowed).toBe(false);
    expect(decideWithCedar(set, { ...request, action: 'read', resource: { type: 'spaceship' } }).allowed).toBe(false);
    expect(constraintFor(set, { principal: user(['admin']), action: 'purge', resourceType: 'customer' })).toEqual({ kind: 'none' });
  });
  it('AZ-2 a principal without roles, or with unknown roles, gets nothing', () => {
    expect(both(user([]), 'read', 'customer', {}).allowed).toBe(false);
    expect(both(user(['root', 'superuser']), 'read', 'customer', {}).allowed).toBe(false);
    expect(both(user(['root', 'viewer']), 'read', 'customer', {}).allowed).toBe(true);
  });
});
