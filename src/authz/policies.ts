import { actionId } from './schema.js';
import type { Catalog, ResolvedRule } from './validate.js';
import type { Condition, PrincipalRef } from './types.js';

/**
 * Cedar text for the matrix and the attribute rules, one policy per matrix grant
 * (`matrix:<role>:<resource>:<action>`) and one per rule (`rule:<id>`). Ids are stable, so a
 * decision's reason and a drift snapshot name the same policy across compilations.
 *
 * Every attribute access is guarded with `has`: Cedar skips a policy whose evaluation errors, and
 * for a forbid that would be a silent allow. The guards also make "a missing value never matches"
 * explicit, which is the rule the compiled TypeScript and SQL forms follow.
 */
export function generatePolicies(catalog: Catalog): Record<string, string> {
  const policies: Record<string, string> = {};
  for (const role of Object.keys(catalog.matrix).sort()) {
    const grants = catalog.matrix[role] ?? {};
    for (const resource of Object.keys(grants).sort()) {
      for (const action of grants[resource] ?? []) {
        policies[matrixPolicyId(role, resource, action)] =
          `permit (principal in Role::${cedarString(role)}, action == Action::${cedarString(actionId(resource, action))}, resource is ${resource});`;
      }
    }
  }
  for (const rule of catalog.rules) {
    if (rule.targets.length) policies[rulePolicyId(rule.id)] = rulePolicy(rule);
  }
  return policies;
}

export const matrixPolicyId = (role: string, resource: string, action: string): string => `matrix:${role}:${resource}:${action}`;
export const rulePolicyId = (id: string): string => `rule:${id}`;

function rulePolicy(rule: ResolvedRule): string {
  const single = rule.roles !== '*' && rule.roles.length === 1 ? rule.roles[0] : undefined;
  const principal = single === undefined ? 'principal' : `principal in Role::${cedarString(single)}`;
  const actions = rule.targets.map((target) => `Action::${cedarString(actionId(target.resource, target.action))}`).join(', ');
  const resources = [...new Set(rule.targets.map((target) => target.resource))];
  const resource = resources.length === 1 ? `resource is ${resources[0]}` : 'resource';
  const when: string[] = [];
  if (rule.roles !== '*' && single === undefined) when.push(`principal in [${rule.roles.map(roleRef).join(', ')}]`);
  for (const condition of rule.when) when.push(`(${conditionExpr(condition)})`);
  const lines = [`${rule.effect} (${principal}, action in [${actions}], ${resource})`];
  if (when.length) lines.push(`when { ${when.join(' && ')} }`);
  if (rule.exceptRoles?.length) lines.push(`unless { principal in [${rule.exceptRoles.map(roleRef).join(', ')}] }`);
  return `${lines.join('\n')};`;
}

const roleRef = (role: string): string => `Role::${cedarString(role)}`;

function conditionExpr(condition: Condition): string {
  const attribute = condition.record;
  const guards = [`resource has ${attribute}`];
  const left = `resource.${attribute}`;
  const literal = (value: string): string => (attribute === 'owner' ? `User::${cedarString(value)}` : cedarString(value));
  switch (condition.op) {
    case 'in':
    case 'not_in': {
      const set = `[${condition.value.map(literal).join(', ')}].contains(${left})`;
      return [...guards, condition.op === 'in' ? set : `!${set}`].join(' && ');
    }
    case 'eq':
    case 'neq': {
      const operator = condition.op === 'eq' ? '==' : '!=';
      if (typeof condition.value === 'string') return [...guards, `${left} ${operator} ${literal(condition.value)}`].join(' && ');
      const right = principalExpr(condition.value, guards);
      return [...guards, `${left} ${operator} ${right}`].join(' && ');
    }
  }
}

function principalExpr(ref: PrincipalRef, guards: string[]): string {
  if (ref.principal === 'id') return 'principal';
  guards.push(`principal has ${ref.principal}`);
  return `principal.${ref.principal}`;
}

/** A Cedar string literal: backslash, quote and control characters escaped. */
export function cedarString(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"' || char === '\\') out += `\\${char}`;
    else if (code < 0x20 || code === 0x7f) out += `\\u{${code.toString(16)}}`;
    else out += char;
  }
  return `${out}"`;
}
