import { isPresent } from './cedar.js';
import { matrixPolicyId, rulePolicyId } from './policies.js';
import { actionId } from './schema.js';
import type { Catalog } from './validate.js';
import type { AuthzPrincipal, AuthzRequest, Condition, Decision, RecordAttribute, RecordAttributes } from './types.js';

/**
 * The hot path: the matrix and attribute rules compiled into an index keyed by
 * `resource:action`, evaluated with plain comparisons. Same answer as Cedar on the generated
 * policies (differential tests prove it), without crossing into wasm with entity JSON.
 */

/** One attribute test with the principal's value resolved: missing values never match. */
export type Atom =
  | { column: RecordAttribute; op: 'eq' | 'neq'; value: string }
  | { column: RecordAttribute; op: 'in' | 'not_in'; value: string[] }
  | { column: RecordAttribute; op: 'is_null' };

export type CompiledRule = {
  policyId: string;
  roles: ReadonlySet<string> | '*';
  exceptRoles: ReadonlySet<string>;
  when: Condition[];
};

export type Entry = {
  /** role -> policy id of its matrix grant. */
  matrix: ReadonlyMap<string, string>;
  permits: CompiledRule[];
  forbids: CompiledRule[];
};

export type DecisionIndex = ReadonlyMap<string, Entry>;

export function buildIndex(catalog: Catalog): DecisionIndex {
  const index = new Map<string, { matrix: Map<string, string>; permits: CompiledRule[]; forbids: CompiledRule[] }>();
  for (const [resource, definition] of catalog.resources) {
    for (const action of definition.actions) index.set(actionId(resource, action), { matrix: new Map(), permits: [], forbids: [] });
  }
  for (const [role, grants] of Object.entries(catalog.matrix)) {
    for (const [resource, actions] of Object.entries(grants)) {
      for (const action of actions) index.get(actionId(resource, action))?.matrix.set(role, matrixPolicyId(role, resource, action));
    }
  }
  for (const rule of catalog.rules) {
    const compiled: CompiledRule = {
      policyId: rulePolicyId(rule.id),
      roles: rule.roles === '*' ? '*' : new Set(rule.roles),
      exceptRoles: new Set(rule.exceptRoles ?? []),
      when: rule.when,
    };
    for (const target of rule.targets) {
      const entry = index.get(actionId(target.resource, target.action));
      if (entry) (rule.effect === 'permit' ? entry.permits : entry.forbids).push(compiled);
    }
  }
  return index;
}

/** Whether a rule's role scope covers the principal (before its conditions). */
export function ruleApplies(rule: CompiledRule, roles: readonly string[]): boolean {
  if (roles.some((role) => rule.exceptRoles.has(role))) return false;
  return rule.roles === '*' || roles.some((role) => (rule.roles as ReadonlySet<string>).has(role));
}

/**
 * The condition as a test on one record column, with the principal's value filled in; `false`
 * when the principal lacks the attribute it refers to (such a condition can never hold).
 */
export function toAtom(condition: Condition, principal: AuthzPrincipal): Atom | false {
  switch (condition.op) {
    case 'in':
    case 'not_in':
      return { column: condition.record, op: condition.op, value: condition.value };
    case 'eq':
    case 'neq': {
      if (typeof condition.value === 'string') return { column: condition.record, op: condition.op, value: condition.value };
      const value = principal[condition.value.principal];
      return isPresent(value) ? { column: condition.record, op: condition.op, value } : false;
    }
  }
}

export function atomMatches(atom: Atom, attributes: RecordAttributes | undefined): boolean {
  const value = attributes?.[atom.column];
  if (atom.op === 'is_null') return !isPresent(value);
  if (!isPresent(value)) return false;
  switch (atom.op) {
    case 'eq':
      return value === atom.value;
    case 'neq':
      return value !== atom.value;
    case 'in':
      return atom.value.includes(value);
    case 'not_in':
      return !atom.value.includes(value);
  }
}

function ruleMatches(rule: CompiledRule, principal: AuthzPrincipal, attributes: RecordAttributes | undefined): boolean {
  if (!ruleApplies(rule, principal.roles)) return false;
  for (const condition of rule.when) {
    const atom = toAtom(condition, principal);
    if (atom === false || !atomMatches(atom, attributes)) return false;
  }
  return true;
}

/** Cedar's combining rule: any satisfied forbid denies; otherwise any satisfied permit allows. */
export function evaluate(index: DecisionIndex, request: AuthzRequest): Decision {
  const entry = index.get(actionId(request.resource.type, request.action));
  if (!entry) return unknownRequest(request, 'compiled');
  const { principal } = request;
  const attributes = request.resource.attributes;
  const forbidden = entry.forbids.filter((rule) => ruleMatches(rule, principal, attributes)).map((rule) => rule.policyId);
  if (forbidden.length) return decision(false, forbidden);
  const permitted: string[] = [];
  for (const role of principal.roles) {
    const policyId = entry.matrix.get(role);
    if (policyId !== undefined) permitted.push(policyId);
  }
  for (const rule of entry.permits) if (ruleMatches(rule, principal, attributes)) permitted.push(rule.policyId);
  return decision(permitted.length > 0, permitted);
}

function decision(allowed: boolean, ids: string[]): Decision {
  const policyIds = [...new Set(ids)].sort();
  return { allowed, reason: policyIds.length ? policyIds.join(', ') : 'no permit', policyIds, engine: 'compiled' };
}

export function unknownRequest(request: AuthzRequest, engine: Decision['engine']): Decision {
  return { allowed: false, reason: `unknown action "${request.action}" on resource "${request.resource.type}"`, policyIds: [], engine };
}
