import type { SelectQueryBuilder } from 'kysely';
import { RampartError } from '../core/index.js';
import type { CompiledPolicySet } from './compile.js';
import { applyConstraint, constraintFor, type ConstraintColumns } from './constraint.js';
import { decide } from './decide.js';
import type { AuthzPrincipal, RecordAttributes } from './types.js';

/**
 * Record-level authorization for data routes (AZ-2, AZ-3). Both take the tenant's compiled policy
 * set, fetched with `authz.policySet()` *before* the route opens its transaction (the embedded
 * database is a single session: loading the set from inside a transaction would wait on itself).
 *
 * - `authorizeRecord`: a single-record route loads the record, then decides with its attributes.
 *   A record the caller may not even read answers 404, so its existence is not revealed; one the
 *   caller may read but not act on answers 403.
 * - `listAuthorized`: a list route pushes what it can of the rules into SQL (the constraint), caps
 *   the page, and still checks every returned row, so an over-approximated constraint (or a
 *   tenant's own Cedar policy) can never leak a row.
 */

export const HARD_PAGE_LIMIT = 200;

export function authorizeRecord(set: CompiledPolicySet, principal: AuthzPrincipal, action: string, resource: { type: string; id?: string; attributes: RecordAttributes }): void {
  if (decide(set, { principal, action, resource }).allowed) return;
  const canRead = action !== 'read' && decide(set, { principal, action: 'read', resource }).allowed;
  if (!canRead) throw new RampartError('not_found', { detail: `no such ${resource.type}` });
  throw new RampartError('forbidden', { detail: `not allowed to ${action} this ${resource.type}` });
}

export async function listAuthorized<DB, TB extends keyof DB, O>(input: {
  set: CompiledPolicySet;
  principal: AuthzPrincipal;
  action: string;
  resourceType: string;
  query: SelectQueryBuilder<DB, TB, O>;
  columns: ConstraintColumns;
  attributesOf: (row: O) => RecordAttributes;
  limit?: number;
}): Promise<{ rows: O[]; filtered: number }> {
  const constraint = constraintFor(input.set, { principal: input.principal, action: input.action, resourceType: input.resourceType });
  if (constraint.kind === 'none') return { rows: [], filtered: 0 };
  const limit = Math.min(Math.max(1, input.limit ?? 50), HARD_PAGE_LIMIT);
  const candidates = await applyConstraint(input.query, constraint, input.columns).limit(limit).execute();
  const rows = candidates.filter((row) => decide(input.set, { principal: input.principal, action: input.action, resource: { type: input.resourceType, attributes: input.attributesOf(row) } }).allowed);
  return { rows, filtered: candidates.length - rows.length };
}
