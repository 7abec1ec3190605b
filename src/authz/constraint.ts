import { sql, type Expression, type SelectQueryBuilder, type SqlBool } from 'kysely';
import { RampartError } from '../core/index.js';
import type { CompiledPolicySet } from './compile.js';
import { customTerms, principalInScope } from './custom-constraint.js';
import { customPoliciesFor } from './decide.js';
import { atomMatches, ruleApplies, toAtom, type Atom, type CompiledRule, type Entry } from './fast.js';
import { actionId } from './schema.js';
import type { AuthzPrincipal, RecordAttribute, RecordAttributes } from './types.js';

/**
 * "A rule returns a constraint, not only a boolean": which records of a type a principal may act
 * on, as an OR of ANDs of column tests, for list queries (and, later, RLS predicates).
 *
 * A term's semantics is SQL's: a NULL column satisfies only `is_null`; `neq` and `not_in` do not
 * match NULL. The decision follows the same rule (a missing value never satisfies a condition),
 * so `where` is exact: a record satisfies it iff `decide` allows it. Forbid rules become AND NOT
 * terms, pushed into the OR of ANDs: NOT (region eq "eu") is (region neq "eu") OR (region is null).
 *
 * Tenant-written Cedar policies are read for the principal asking (custom-constraint.ts): a policy
 * whose scope names another role or user adds nothing, and one whose conditions test record
 * attributes becomes terms like a rule's, so the constraint stays exact.
 *
 * `needsRowCheck: true` marks a sound over-approximation: every allowed record matches, but so may
 * some denied ones, and the caller must run `decide` on each row. It happens when a tenant policy
 * that can apply to this principal uses Cedar the reader does not compile (a permit then lets its
 * records through in SQL, a forbid is left to the row check), or when distributing the forbids
 * would exceed MAX_TERMS conjunctions (then the forbids are dropped). It never widens what the
 * caller sees: the rows are checked one by one before anything of them is returned.
 */
export type ConstraintTerm = Atom;
export type Constraint =
  | { kind: 'all'; needsRowCheck?: true }
  | { kind: 'none' }
  | { kind: 'where'; anyOf: ConstraintTerm[][]; needsRowCheck?: true };

export type ConstraintRequest = { principal: AuthzPrincipal; action: string; resourceType: string };

const MAX_TERMS = 64;
const NONE: Constraint = { kind: 'none' };
const ALL: Constraint = { kind: 'all' };

export function constraintFor(set: CompiledPolicySet, request: ConstraintRequest): Constraint {
  const entry = set.index.get(actionId(request.resourceType, request.action));
  if (!entry) return NONE;
  const declared = set.resources.get(request.resourceType)?.attributes ?? new Set();
  const context = { principal: request.principal, roles: set.roleSet, declared };
  // Tenant policies are read for this principal: one naming another role or user adds nothing.
  const custom = { permits: [] as Atom[][], forbids: [] as Atom[][], unreadable: false };
  for (const policy of customPoliciesFor(set, request.resourceType, request.action)) {
    const terms = customTerms(policy.json, context);
    if (terms === undefined) {
      // Cedar this reader cannot compile: SQL lets the policy's records through and every row is
      // checked by Cedar. Only a principal the policy's scope can cover pays for it.
      if (!principalInScope(policy.json, context)) continue;
      custom.unreadable = true;
      if (policy.effect === 'permit') custom.permits.push([]);
      continue;
    }
    (policy.effect === 'permit' ? custom.permits : custom.forbids).push(...terms);
  }
  const compiled = compiledConstraint(entry, request.principal, custom);
  if (custom.unreadable && compiled.kind !== 'none') return { ...compiled, needsRowCheck: true };
  return compiled;
}

function compiledConstraint(entry: Entry, principal: AuthzPrincipal, custom: { permits: Atom[][]; forbids: Atom[][] }): Constraint {
  const forbidClauses: Atom[][] = [];
  const forbids = [...entry.forbids.map((rule) => ruleAtoms(rule, principal)), ...custom.forbids];
  for (const atoms of forbids) {
    if (atoms === false) continue;
    if (atoms.length === 0) return NONE;
    forbidClauses.push(atoms.flatMap(negate));
  }
  const grantedByMatrix = principal.roles.some((role) => entry.matrix.has(role));
  const permits: Atom[][] = [];
  if (grantedByMatrix) permits.push([]);
  else {
    for (const rule of entry.permits) {
      const atoms = ruleAtoms(rule, principal);
      if (atoms !== false) permits.push(atoms);
    }
    permits.push(...custom.permits);
  }
  let terms = prune(permits.map(normalize).filter((term): term is Atom[] => term !== false));
  const overApproximation = toConstraint(terms, true);
  for (const clause of forbidClauses) {
    const next: Atom[][] = [];
    for (const term of terms) {
      for (const atom of clause) {
        const combined = normalize([...term, atom]);
        if (combined !== false) next.push(combined);
      }
    }
    terms = prune(next);
    if (terms.length > MAX_TERMS) return overApproximation;
  }
  return toConstraint(terms, false);
}

function toConstraint(terms: Atom[][], needsRowCheck: boolean): Constraint {
  if (!terms.length) return NONE;
  if (terms.some((term) => term.length === 0)) return needsRowCheck ? { kind: 'all', needsRowCheck: true } : ALL;
  return needsRowCheck ? { kind: 'where', anyOf: terms, needsRowCheck: true } : { kind: 'where', anyOf: terms };
}

/** A rule's conditions as atoms for this principal; `false` when the rule cannot apply. */
function ruleAtoms(rule: CompiledRule, principal: AuthzPrincipal): Atom[] | false {
  if (!ruleApplies(rule, principal.roles)) return false;
  const atoms: Atom[] = [];
  for (const condition of rule.when) {
    const atom = toAtom(condition, principal);
    if (atom === false) return false;
    atoms.push(atom);
  }
  return atoms;
}

/** NOT atom, under the rule that NULL satisfies only is_null. */
function negate(atom: Atom): Atom[] {
  const isNull: Atom = { column: atom.column, op: 'is_null' };
  switch (atom.op) {
    case 'eq':
      return [{ column: atom.column, op: 'neq', value: atom.value }, isNull];
    case 'neq':
      return [{ column: atom.column, op: 'eq', value: atom.value }, isNull];
    case 'in':
      return [{ column: atom.column, op: 'not_in', value: atom.value }, isNull];
    case 'not_in':
      return [{ column: atom.column, op: 'in', value: atom.value }, isNull];
    case 'is_null':
      return [{ column: atom.column, op: 'not_in', value: [] }];
  }
}

const COLUMNS: RecordAttribute[] = ['owner', 'department', 'region', 'sensitivity'];

/**
 * A conjunction in canonical form (per column: is_null, or a finite set of allowed values, or a
 * set of excluded values), or `false` when it cannot be satisfied.
 */
function normalize(term: Atom[]): Atom[] | false {
  const out: Atom[] = [];
  for (const column of COLUMNS) {
    const atoms = term.filter((atom) => atom.column === column);
    if (!atoms.length) continue;
    let isNull = false;
    let present = false;
    let allowed: Set<string> | undefined;
    const excluded = new Set<string>();
    for (const atom of atoms) {
      if (atom.op === 'is_null') {
        isNull = true;
        continue;
      }
      present = true;
      if (atom.op === 'eq' || atom.op === 'in') {
        const values = new Set(atom.op === 'eq' ? [atom.value] : atom.value);
        allowed = allowed ? new Set([...allowed].filter((value) => values.has(value))) : values;
      } else for (const value of atom.op === 'neq' ? [atom.value] : atom.value) excluded.add(value);
    }
    if (isNull && present) return false;
    if (isNull) out.push({ column, op: 'is_null' });
    else if (allowed) {
      const values = [...allowed].filter((value) => !excluded.has(value)).sort();
      if (!values.length) return false;
      out.push(values.length === 1 ? { column, op: 'eq', value: values[0] as string } : { column, op: 'in', value: values });
    } else {
      const values = [...excluded].sort();
      out.push(values.length === 1 ? { column, op: 'neq', value: values[0] as string } : { column, op: 'not_in', value: values });
    }
  }
  return out;
}

/** Drops duplicate terms and terms implied by a smaller one (A subset of B: B adds nothing). */
function prune(terms: Atom[][]): Atom[][] {
  const keyed = terms.map((term) => ({ term, keys: new Set(term.map((atom) => JSON.stringify(atom))) })).sort((a, b) => a.keys.size - b.keys.size);
  const kept: typeof keyed = [];
  for (const candidate of keyed) {
    if (kept.some((small) => [...small.keys].every((key) => candidate.keys.has(key)))) continue;
    kept.push(candidate);
  }
  return kept.map(({ term }) => term);
}

/** Evaluates a constraint against one record in TypeScript (same semantics as the SQL form). */
export function constraintMatches(constraint: Constraint, attributes: RecordAttributes | undefined): boolean {
  if (constraint.kind === 'all') return true;
  if (constraint.kind === 'none') return false;
  return constraint.anyOf.some((term) => term.every((atom) => atomMatches(atom, attributes)));
}

/** Where each record attribute lives in the caller's table (a column or `alias.column`). */
export type ConstraintColumns = Partial<Record<RecordAttribute, string>>;

/** The constraint as a SQL boolean expression; values are bound parameters. */
export function constraintSql(constraint: Constraint, columns: ConstraintColumns): Expression<SqlBool> {
  if (constraint.kind === 'all') return sql<SqlBool>`true`;
  if (constraint.kind === 'none' || !constraint.anyOf.length) return sql<SqlBool>`false`;
  const terms = constraint.anyOf.map((term) => (term.length ? sql`(${sql.join(term.map((atom) => atomSql(atom, columns)), sql` and `)})` : sql`true`));
  return sql<SqlBool>`(${sql.join(terms, sql` or `)})`;
}

function atomSql(atom: Atom, columns: ConstraintColumns) {
  const column = columns[atom.column];
  // Fail closed: a constraint on a column the caller did not map cannot be applied.
  if (!column) throw new RampartError('internal', { detail: `applyConstraint: no column mapped for record attribute "${atom.column}"` });
  const ref = sql.ref(column);
  switch (atom.op) {
    case 'is_null':
      return sql`${ref} is null`;
    case 'eq':
      return sql`${ref} = ${atom.value}`;
    case 'neq':
      return sql`${ref} <> ${atom.value}`;
    case 'in':
      return atom.value.length ? sql`${ref} in (${sql.join(atom.value)})` : sql`false`;
    case 'not_in':
      return atom.value.length ? sql`${ref} not in (${sql.join(atom.value)})` : sql`${ref} is not null`;
  }
}

/** Adds the constraint to a Kysely select as one parenthesised WHERE condition. */
export function applyConstraint<DB, TB extends keyof DB, O>(
  qb: SelectQueryBuilder<DB, TB, O>,
  constraint: Constraint,
  columns: ConstraintColumns,
): SelectQueryBuilder<DB, TB, O> {
  if (constraint.kind === 'all') return qb;
  return qb.where(constraintSql(constraint, columns));
}
