import type { CompiledPolicySet } from './compile.js';
import { ruleApplies } from './fast.js';
import { actionId } from './schema.js';
import type { AuthzRequest } from './types.js';

/**
 * Table-driven matrix scenarios (control: AZ-1). For every (role, resource, action) of a compiled
 * set there is one case: a principal holding only that role, acting on a record with no
 * attributes. No attribute rule can fire on such a record (every condition needs a value), so the
 * expected decision is the matrix alone, less any unconditional forbid rule covering the role.
 * Permit rules always carry a condition (compile refuses unconditional ones), so a case expected
 * to deny fails if anything grants beyond the matrix.
 */
export type MatrixCase = {
  /** e.g. `AZ-1 viewer cannot export customer`. */
  name: string;
  role: string;
  resource: string;
  action: string;
  expected: 'allow' | 'deny';
  request: AuthzRequest;
};

export function matrixCases(set: CompiledPolicySet, options: { tenantId?: string } = {}): MatrixCase[] {
  const cases: MatrixCase[] = [];
  for (const role of set.roles) {
    for (const [resource, definition] of [...set.resources].sort(([a], [b]) => a.localeCompare(b))) {
      for (const action of [...definition.actions].sort()) {
        const granted = set.matrix[role]?.[resource]?.includes(action) ?? false;
        const forbidden = set.index.get(actionId(resource, action))?.forbids.some((rule) => rule.when.length === 0 && ruleApplies(rule, [role])) ?? false;
        const expected = granted && !forbidden ? 'allow' : 'deny';
        cases.push({
          name: `AZ-1 ${role} ${expected === 'allow' ? 'can' : 'cannot'} ${action} ${resource}`,
          role,
          resource,
          action,
          expected,
          request: {
            principal: { id: `az1-${role}`, tenantId: options.tenantId ?? 'az1-tenant', roles: [role] },
            action,
            resource: { type: resource, id: 'az1-record' },
          },
        });
      }
    }
  }
  return cases;
}

/** Every (role, action, resource) the matrix does not grant (AZ-1: each becomes a CI test). */
export function negativeMatrixCases(set: CompiledPolicySet, options: { tenantId?: string } = {}): MatrixCase[] {
  return matrixCases(set, options).filter((testCase) => testCase.expected === 'deny');
}
