import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RampartError } from '../core/index.js';
import { BUILTIN_RESOURCES, BUILTIN_ROLES, DEFAULT_MATRIX } from './builtin.js';
import { checkCeiling, OWNER_ADMINISTRATION } from './ceiling.js';
import { compilePolicySet, type CompiledPolicySet } from './compile.js';
import { decideWithCedar } from './decide.js';
import type { Matrix } from './types.js';

/**
 * The ceiling, generated: random authors propose random matrix changes and random tenant Cedar
 * policies on the default catalogue. Whatever `checkCeiling` accepts is then judged by Cedar itself
 * (the reference semantics, not the compiled form the ceiling reads): no role ends up allowed
 * something it was not allowed before unless the author was, no owner-only permission reaches a
 * role without high privilege, and the owner keeps administration.
 */

const TENANT = '01900000-0000-7000-8000-000000000001';
const roles = BUILTIN_ROLES.map((r) => ({ name: r.name, highPrivilege: r.highPrivilege }));
const high = new Set(roles.filter((r) => r.highPrivilege).map((r) => r.name));
const compile = (matrix: Matrix, customPolicies = '') => compilePolicySet({ resources: BUILTIN_RESOURCES, matrix, roles: roles.map((r) => r.name), customPolicies });
const pairs = BUILTIN_RESOURCES.flatMap((r) => r.actions.map((action) => ({ resource: r.name, action, privileged: (r.privileged ?? []).includes(action) })));
const allowed = (set: CompiledPolicySet, roleNames: string[], resource: string, action: string) =>
  decideWithCedar(set, { principal: { id: 'u', tenantId: TENANT, roles: roleNames }, action, resource: { type: resource } }).allowed;

const matrixChange = fc.record({
  role: fc.constantFrom(...roles.map((r) => r.name)),
  resource: fc.constantFrom(...BUILTIN_RESOURCES),
}).chain(({ role, resource }) => fc.subarray(resource.actions).map((actions) => ({ role, resource: resource.name, actions })));
const cedarPolicy = fc
  .record({
    effect: fc.constantFrom('permit', 'forbid'),
    principal: fc.option(fc.constantFrom(...roles.map((r) => r.name)), { nil: undefined }),
    resource: fc.option(fc.constantFrom(...BUILTIN_RESOURCES), { nil: undefined }),
  })
  .chain(({ effect, principal, resource }) =>
    fc.option(fc.constantFrom(...(resource?.actions ?? ['read'])), { nil: undefined }).map((action) => {
      const who = principal ? `principal in Role::"${principal}"` : 'principal';
      const what = resource && action ? `action == Action::"${resource.name}:${action}"` : 'action';
      const on = resource ? `resource is ${resource.name}` : 'resource';
      return { text: `${effect} (${who}, ${what}, ${on});`, resource: resource?.name };
    }),
  );
const applyMatrix = (matrix: Matrix, change: { role: string; resource: string; actions: string[] }): Matrix => ({ ...matrix, [change.role]: { ...(matrix[change.role] ?? {}), [change.resource]: change.actions } });

describe('AZ-2 the tenant ceiling, generated and judged by Cedar', () => {
  it('AZ-2 whatever the ceiling accepts widens no role past its author, sends owner-only only to high privilege, keeps the owner', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.constantFrom(...roles.map((r) => r.name)), fc.oneof(matrixChange.map((c) => ({ matrix: c })), cedarPolicy.map((p) => ({ cedar: p }))), (authorRole, change) => {
        const before = compile(DEFAULT_MATRIX);
        const after = 'matrix' in change ? compile(applyMatrix(DEFAULT_MATRIX, change.matrix)) : compile(DEFAULT_MATRIX, change.cedar.text);
        // Only the resource a change names can change (every resource for a policy that names none).
        const touched = 'matrix' in change ? change.matrix.resource : change.cedar.resource;
        const author = { id: 'author', tenantId: TENANT, roles: [authorRole] };
        try {
          checkCeiling({ before, after, roles, author });
        } catch (error) {
          if (!(error instanceof RampartError)) throw error;
          refused++;
          return;
        }
        accepted++;
        for (const role of roles.map((r) => r.name)) {
          for (const { resource, action, privileged } of pairs) {
            if (touched !== undefined && resource !== touched) continue;
            if (!allowed(after, [role], resource, action) || allowed(before, [role], resource, action)) continue;
            expect(allowed(before, [authorRole], resource, action), `${authorRole} widened ${role} to ${resource}:${action}`).toBe(true);
            if (privileged) {
              expect(high.has(role)).toBe(true);
              expect(authorRole).toBe('owner');
            }
          }
        }
        for (const permission of OWNER_ADMINISTRATION) {
          const [resource, action] = permission.split(':') as [string, string];
          expect(allowed(after, ['owner'], resource, action)).toBe(true);
        }
      }),
      { numRuns: 150, seed: 12 },
    );
    // The generator reaches both outcomes, so neither half of the property is vacuous.
    expect(accepted).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(20);
  }, 180_000);

  it('AZ-2 the host’s break-glass (no author) is still held to the role and lockout rules', () => {
    const before = compile(DEFAULT_MATRIX);
    expect(() => checkCeiling({ before, after: compile(applyMatrix(DEFAULT_MATRIX, { role: 'viewer', resource: 'client', actions: ['create'] })), roles })).toThrow(/high-privilege/);
    expect(() => checkCeiling({ before, after: compile(DEFAULT_MATRIX, 'forbid (principal in Role::"owner", action, resource is matrix);'), roles })).toThrow(/owner/);
    expect(checkCeiling({ before, after: compile(applyMatrix(DEFAULT_MATRIX, { role: 'finance', resource: 'client', actions: ['create'] })), roles }).needsApproval).toBe(true);
  });
});
