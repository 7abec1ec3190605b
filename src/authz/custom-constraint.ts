import type { PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import { isPresent } from './cedar.js';
import type { Atom } from './fast.js';
import { RECORD_ATTRIBUTES, type AuthzPrincipal, type RecordAttribute } from './types.js';

/**
 * A tenant-written Cedar policy read as a list constraint for one principal (AZ-3): the records it
 * is satisfied on, as an OR of ANDs of attribute tests (`Atom[][]`), or `undefined` when the policy
 * uses Cedar this reader does not understand (then the list checks every row with Cedar itself).
 *
 * The principal is known when a list runs, so everything about the principal (its scope, `principal
 * in Role::…`, `principal.region == …`) is evaluated here to true or false; only record attributes
 * remain as tests. A policy naming another role or user therefore contributes nothing.
 *
 * Cedar's evaluation errors are kept exact: reading a missing attribute is an error, and a policy
 * whose condition errors is not satisfied. Every expression is read into two sets, where it is
 * true (`yes`) and where it is false (`no`); where it errors is in neither. `when { e }` holds on
 * yes(e), `unless { e }` on no(e); `!` swaps them, `&&` and `||` short-circuit as Cedar does.
 */

type Terms = Atom[][];
type Bool = { kind: 'bool'; yes: Terms; no: Terms };
type Value = { kind: 'value'; value: string | string[] | { entity: string; id: string } } | { kind: 'attribute'; column: RecordAttribute } | { kind: 'error' };
type Read = Bool | Value;

export type CustomContext = { principal: AuthzPrincipal; roles: ReadonlySet<string>; declared: ReadonlySet<RecordAttribute> };

const MAX_TERMS = 64;
const TRUE: Terms = [[]];
const FALSE: Terms = [];
const bool = (yes: Terms, no: Terms): Bool => ({ kind: 'bool', yes, no });
const constant = (value: boolean): Bool => bool(value ? TRUE : FALSE, value ? FALSE : TRUE);
const ERROR: Bool = bool(FALSE, FALSE);

class Unreadable extends Error {}
const unreadable = (): never => {
  throw new Unreadable();
};

/** Whether the policy's principal scope can hold for this principal (unknown shapes: yes, to stay sound). */
export function principalInScope(policy: PolicyJson, context: CustomContext): boolean {
  const scope = policy.principal as { op: string; entity?: { type: string; id: string }; entity_type?: string; in?: { entity: { type: string; id: string } } };
  if (scope.op === 'All') return true;
  const entity = scope.op === 'is' ? scope.in?.entity : scope.entity;
  if (scope.op === 'is' && !entity) return scope.entity_type === 'User';
  if (!entity || !('type' in entity)) return true;
  if (entity.type === 'User') return entity.id === context.principal.id;
  if (entity.type === 'Role' && scope.op !== '==') return hasRole(context, entity.id);
  return true;
}

const hasRole = (context: CustomContext, role: string): boolean => context.roles.has(role) && context.principal.roles.includes(role);

/** The records the policy is satisfied on for this principal, or `undefined` when it cannot be read. */
export function customTerms(policy: PolicyJson, context: CustomContext): Terms | undefined {
  if (!principalInScope(policy, context)) return FALSE;
  // A scope on one record (`resource == T::"id"`) has no attribute form.
  if (policy.resource.op !== 'All' && policy.resource.op !== 'is') return undefined;
  if ('in' in policy.resource && policy.resource.in) return undefined;
  try {
    let terms = TRUE;
    for (const condition of policy.conditions) {
      const read = asBool(expression(condition.body as Expr, context));
      terms = and(terms, condition.kind === 'when' ? read.yes : read.no);
    }
    return terms;
  } catch (error) {
    if (error instanceof Unreadable) return undefined;
    throw error;
  }
}

type Expr = Record<string, unknown>;
type Binary = { left: Expr; right: Expr };

function expression(expr: Expr, context: CustomContext): Read {
  const [op, raw] = Object.entries(expr)[0] ?? unreadable();
  const arg = raw as Binary & { arg: Expr; attr: string };
  switch (op) {
    case 'Value':
      return literal(raw);
    case 'Var':
      return raw === 'principal' ? { kind: 'value', value: { entity: 'User', id: context.principal.id } } : unreadable();
    case 'Set':
      return { kind: 'value', value: (raw as Expr[]).map((item) => text(expression(item, context))) };
    case '.':
      return attribute(arg.left, arg.attr, context);
    case 'has':
      return has(arg.left, arg.attr, context);
    case '==':
    case '!=': {
      const equal = equals(expression(arg.left, context), expression(arg.right, context));
      return op === '==' ? equal : bool(equal.no, equal.yes);
    }
    case 'contains':
      return contains(expression(arg.left, context), expression(arg.right, context));
    case 'in':
      return principalIn(arg, context);
    case '!': {
      const inner = asBool(expression(arg.arg, context));
      return bool(inner.no, inner.yes);
    }
    case '&&': {
      const left = asBool(expression(arg.left, context));
      const right = asBool(expression(arg.right, context));
      return bool(and(left.yes, right.yes), or(left.no, and(left.yes, right.no)));
    }
    case '||': {
      const left = asBool(expression(arg.left, context));
      const right = asBool(expression(arg.right, context));
      return bool(or(left.yes, and(left.no, right.yes)), and(left.no, right.no));
    }
    default:
      return unreadable();
  }
}

function literal(raw: unknown): Read {
  if (typeof raw === 'boolean') return constant(raw);
  if (typeof raw === 'string') return { kind: 'value', value: raw };
  const entity = (raw as { __entity?: { type: string; id: string } } | null)?.__entity;
  if (entity && typeof entity.type === 'string' && typeof entity.id === 'string') return { kind: 'value', value: { entity: entity.type, id: entity.id } };
  return unreadable();
}

const text = (read: Read): string => (read.kind === 'value' && typeof read.value === 'string' ? read.value : unreadable());
const isVar = (expr: Expr, name: string): boolean => expr.Var === name;
const isColumn = (name: string): name is RecordAttribute => (RECORD_ATTRIBUTES as readonly string[]).includes(name);

function attribute(left: Expr, name: string, context: CustomContext): Read {
  if (isVar(left, 'resource') && isColumn(name)) return context.declared.has(name) ? { kind: 'attribute', column: name } : { kind: 'error' };
  if (isVar(left, 'principal') && (name === 'department' || name === 'region')) {
    const value = context.principal[name];
    return isPresent(value) ? { kind: 'value', value } : { kind: 'error' };
  }
  return unreadable();
}

function has(left: Expr, name: string, context: CustomContext): Bool {
  if (isVar(left, 'resource') && isColumn(name)) return context.declared.has(name) ? bool([[{ column: name, op: 'not_in', value: [] }]], [[{ column: name, op: 'is_null' }]]) : constant(false);
  if (isVar(left, 'principal') && (name === 'department' || name === 'region')) return constant(isPresent(context.principal[name]));
  return unreadable();
}

/** `==` of two reads; the owner attribute holds a User entity, the others strings. */
function equals(left: Read, right: Read): Bool {
  if (left.kind === 'error' || right.kind === 'error') return ERROR;
  if (left.kind === 'bool' || right.kind === 'bool') return unreadable();
  if (left.kind === 'attribute' && right.kind === 'attribute') return unreadable();
  if (left.kind === 'value' && right.kind === 'value') return constant(JSON.stringify(left.value) === JSON.stringify(right.value));
  const [column, value] = left.kind === 'attribute' ? [left.column, (right as Extract<Value, { kind: 'value' }>).value] : [(right as Extract<Value, { kind: 'attribute' }>).column, (left as Extract<Value, { kind: 'value' }>).value];
  const wanted = column === 'owner' ? (typeof value === 'object' && !Array.isArray(value) && value.entity === 'User' ? value.id : undefined) : typeof value === 'string' ? value : unreadable();
  // A different type compares unequal: false on a record that has the attribute, an error on one that lacks it.
  if (wanted === undefined) return bool(FALSE, [[{ column, op: 'not_in', value: [] }]]);
  return bool([[{ column, op: 'eq', value: wanted }]], [[{ column, op: 'neq', value: wanted }]]);
}

function contains(set: Read, element: Read): Bool {
  if (set.kind === 'error' || element.kind === 'error') return ERROR;
  if (set.kind !== 'value' || !Array.isArray(set.value)) return unreadable();
  if (element.kind === 'value') return constant(typeof element.value === 'string' && set.value.includes(element.value));
  if (element.kind !== 'attribute' || element.column === 'owner') return unreadable();
  return bool([[{ column: element.column, op: 'in', value: [...set.value] }]], [[{ column: element.column, op: 'not_in', value: [...set.value] }]]);
}

/** `principal in Role::"r"` (or `== User::"u"` spelled with in): known once the principal is. */
function principalIn(arg: Binary, context: CustomContext): Bool {
  if (!isVar(arg.left, 'principal')) return unreadable();
  const target = expression(arg.right, context);
  if (target.kind !== 'value' || typeof target.value !== 'object' || Array.isArray(target.value)) return unreadable();
  if (target.value.entity === 'Role') return constant(hasRole(context, target.value.id));
  if (target.value.entity === 'User') return constant(target.value.id === context.principal.id);
  return unreadable();
}

function asBool(read: Read): Bool {
  if (read.kind === 'bool') return read;
  if (read.kind === 'error') return ERROR;
  return unreadable();
}

/** Conjunction of two ORs of ANDs; contradictory terms drop out. */
function and(left: Terms, right: Terms): Terms {
  const out: Terms = [];
  for (const a of left) {
    for (const b of right) {
      const term = [...a, ...b];
      if (satisfiable(term)) out.push(term);
      if (out.length > MAX_TERMS) return unreadable();
    }
  }
  return out;
}

function or(left: Terms, right: Terms): Terms {
  const out = [...left, ...right];
  return out.length > MAX_TERMS ? unreadable() : out;
}

/** A cheap contradiction check (present and missing on one column); `normalize` does the rest. */
function satisfiable(term: Atom[]): boolean {
  const missing = new Set(term.filter((atom) => atom.op === 'is_null').map((atom) => atom.column));
  return !term.some((atom) => atom.op !== 'is_null' && missing.has(atom.column));
}
