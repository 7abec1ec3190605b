import { describe, expect, it } from 'vitest';
import { compilePolicySet } from './compile.js';
import { decide, decideWithCedar } from './decide.js';
import { matrixCases, negativeMatrixCases } from './cases.js';
import { samplePolicySet } from './sample.js';

// control: AZ-1. One test per (role, action, resource) of the sample catalog, named after it.
const set = compilePolicySet(samplePolicySet);
const cases = matrixCases(set);

describe('AZ-1 negative matrix (not granted -> denied by the compiled path and by Cedar)', () => {
  it.each(negativeMatrixCases(set).map((testCase) => [testCase.name, testCase] as const))('%s', (_name, testCase) => {
    const fast = decide(set, testCase.request);
    const reference = decideWithCedar(set, testCase.request);
    expect(fast.allowed).toBe(false);
    expect(reference.allowed).toBe(false);
    expect(fast.engine).toBe('compiled');
  });
});

describe('AZ-1 positive matrix (granted -> allowed by both engines)', () => {
  it.each(cases.filter((testCase) => testCase.expected === 'allow').map((testCase) => [testCase.name, testCase] as const))('%s', (_name, testCase) => {
    const expectedId = `matrix:${testCase.role}:${testCase.resource}:${testCase.action}`;
    expect(decide(set, testCase.request)).toMatchObject({ allowed: true, policyIds: [expectedId] });
    expect(decideWithCedar(set, testCase.request)).toMatchObject({ allowed: true, policyIds: [expectedId] });
  });
});

describe('AZ-1 case generator', () => {
  it('covers every (role, resource, action) once, and the negatives are exactly what the matrix leaves out', () => {
    const total = set.roles.length * [...set.resources.values()].reduce((sum, definition) => sum + definition.actions.size, 0);
    const granted = Object.values(samplePolicySet.matrix).reduce((sum, row) => sum + Object.values(row).reduce((inner, actions) => inner + actions.length, 0), 0);
    expect(cases).toHaveLength(total);
    expect(new Set(cases.map((testCase) => testCase.name)).size).toBe(total);
    expect(negativeMatrixCases(set)).toHaveLength(total - granted);
    expect(negativeMatrixCases(set).map((testCase) => testCase.name)).toContain('AZ-1 viewer cannot export customer');
    expect(negativeMatrixCases(set).map((testCase) => testCase.name)).toContain('AZ-1 finance cannot refund invoice');
    expect(negativeMatrixCases(set).map((testCase) => testCase.name)).toContain('AZ-1 dpo cannot read invoice');
  });

  it('the negative cases catch a grant the matrix does not make (the tests can fail)', () => {
    // A rogue grant slipped in beside the matrix: the cases generated from the approved set must catch it.
    const rogue = compilePolicySet({ ...samplePolicySet, customPolicies: 'permit (principal in Role::"viewer", action == Action::"customer:export", resource);' });
    const leaks = negativeMatrixCases(set).filter((testCase) => decide(rogue, testCase.request).allowed || decideWithCedar(rogue, testCase.request).allowed);
    expect(leaks.map((testCase) => testCase.name)).toEqual(['AZ-1 viewer cannot export customer']);
    const widened = compilePolicySet({ ...samplePolicySet, matrix: { ...samplePolicySet.matrix, viewer: { customer: ['list', 'read', 'delete'] } } });
    expect(negativeMatrixCases(set).filter((testCase) => decide(widened, testCase.request).allowed).map((testCase) => testCase.name)).toEqual(['AZ-1 viewer cannot delete customer']);
  });

  it('an unconditional forbid turns a matrix grant into an expected deny', () => {
    const locked = compilePolicySet({
      ...samplePolicySet,
      rules: [...(samplePolicySet.rules ?? []), { id: 'no-deletes', effect: 'forbid', roles: '*', exceptRoles: ['dpo'], resource: 'customer', actions: ['delete'], when: [] }],
    });
    const adminDelete = matrixCases(locked).find((testCase) => testCase.name.startsWith('AZ-1 admin') && testCase.action === 'delete' && testCase.resource === 'customer');
    expect(adminDelete).toMatchObject({ expected: 'deny', name: 'AZ-1 admin cannot delete customer' });
    expect(decide(locked, adminDelete!.request)).toMatchObject({ allowed: false, policyIds: ['rule:no-deletes'] });
    expect(negativeMatrixCases(locked, { tenantId: 'demo' })[0]?.request.principal.tenantId).toBe('demo');
  });
});
