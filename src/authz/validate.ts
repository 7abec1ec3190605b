import { RampartError, toPointer, type FieldIssue } from '../core/index.js';
import { policySetInputSchema } from './schemas.js';
import type { AttributeRule, Matrix, PolicySetInput, RecordAttribute } from './types.js';

/** The input after checking: every name resolves, every rule knows the (resource, action) pairs it covers. */
export type Catalog = {
  resources: Map<string, { actions: Set<string>; attributes: Set<RecordAttribute>; privileged: Set<string> }>;
  roles: string[];
  matrix: Matrix;
  rules: ResolvedRule[];
};

export type ResolvedRule = AttributeRule & { targets: Array<{ resource: string; action: string }> };

/**
 * Refuses a policy set that names something that does not exist: an unknown resource or action in
 * the matrix, a rule on an attribute its resource does not declare. A typo in a permission must
 * fail loudly at compile time, not turn into a silent deny (or, for a forbid, a silent allow).
 */
export function checkInput(input: PolicySetInput): Catalog {
  const parsed = policySetInputSchema.safeParse(input);
  if (!parsed.success) {
    throw invalid(parsed.error.issues.map((issue) => ({ pointer: toPointer(issue.path), message: issue.message })));
  }
  const issues: FieldIssue[] = [];
  const resources: Catalog['resources'] = new Map();
  parsed.data.resources.forEach((resource, index) => {
    if (resources.has(resource.name)) issues.push({ pointer: `/resources/${index}/name`, message: `resource "${resource.name}" is defined twice` });
    const attributes = new Set(Object.keys(resource.attributes ?? {}) as RecordAttribute[]);
    (resource.privileged ?? []).forEach((action, position) => {
      if (!resource.actions.includes(action)) issues.push({ pointer: `/resources/${index}/privileged/${position}`, message: `resource "${resource.name}" has no action "${action}"` });
    });
    resources.set(resource.name, { actions: new Set(resource.actions), attributes, privileged: new Set(resource.privileged) });
  });
  const roles = resolveRoles(input, issues);
  const matrix = checkMatrix(input.matrix, resources, issues);
  const rules = (input.rules ?? []).map((rule, index) => resolveRule(rule, index, resources, issues));
  const ids = new Set<string>();
  (input.rules ?? []).forEach((rule, index) => {
    if (ids.has(rule.id)) issues.push({ pointer: `/rules/${index}/id`, message: `rule id "${rule.id}" is used twice` });
    ids.add(rule.id);
  });
  if (issues.length) throw invalid(issues);
  return { resources, roles, matrix, rules };
}

export function invalid(issues: FieldIssue[]): RampartError {
  const first = issues[0];
  const detail = first ? `policy set ${first.pointer}: ${first.message}` : 'policy set is invalid';
  return new RampartError('validation_failed', { detail, issues });
}

function resolveRoles(input: PolicySetInput, issues: FieldIssue[]): string[] {
  const mentioned = new Set(Object.keys(input.matrix));
  for (const rule of input.rules ?? []) {
    for (const role of [...(rule.roles === '*' ? [] : rule.roles), ...(rule.exceptRoles ?? [])]) mentioned.add(role);
  }
  if (!input.roles) return [...mentioned].sort();
  const declared = new Set(input.roles);
  for (const role of Object.keys(input.matrix)) {
    if (!declared.has(role)) issues.push({ pointer: `/matrix/${role}`, message: `unknown role "${role}"` });
  }
  (input.rules ?? []).forEach((rule, index) => {
    const listed = [...(rule.roles === '*' ? [] : rule.roles.map((role) => ['roles', role] as const)), ...(rule.exceptRoles ?? []).map((role) => ['exceptRoles', role] as const)];
    for (const [field, role] of listed) {
      if (!declared.has(role)) issues.push({ pointer: `/rules/${index}/${field}`, message: `unknown role "${role}"` });
    }
  });
  return [...declared].sort();
}

function checkMatrix(matrix: Matrix, resources: Catalog['resources'], issues: FieldIssue[]): Matrix {
  const clean: Matrix = {};
  for (const [role, grants] of Object.entries(matrix)) {
    const row: Record<string, string[]> = {};
    clean[role] = row;
    for (const [resource, actions] of Object.entries(grants)) {
      const definition = resources.get(resource);
      if (!definition) {
        issues.push({ pointer: toPointer(['matrix', role, resource]), message: `unknown resource "${resource}"` });
        continue;
      }
      actions.forEach((action, index) => {
        if (!definition.actions.has(action)) issues.push({ pointer: toPointer(['matrix', role, resource, index]), message: `resource "${resource}" has no action "${action}"` });
      });
      row[resource] = [...new Set(actions)].filter((action) => definition.actions.has(action)).sort();
    }
  }
  return clean;
}

function resolveRule(rule: AttributeRule, index: number, resources: Catalog['resources'], issues: FieldIssue[]): ResolvedRule {
  const at = `/rules/${index}`;
  if (rule.effect === 'permit' && rule.when.length === 0) {
    issues.push({ pointer: `${at}/when`, message: 'a permit rule needs at least one condition; unconditional grants belong in the matrix' });
  }
  const used = new Set(rule.when.map((condition) => condition.record));
  rule.when.forEach((condition, position) => {
    const where = `${at}/when/${position}`;
    if (typeof condition.value !== 'object' || Array.isArray(condition.value)) return;
    const ref = condition.value.principal;
    if (ref === 'id' && condition.record !== 'owner') issues.push({ pointer: `${where}/value`, message: `principal.id compares only with owner, not ${condition.record}` });
    if (ref !== 'id' && condition.record === 'owner') issues.push({ pointer: `${where}/value`, message: `owner compares only with principal.id or user ids, not principal.${ref}` });
  });
  const targets: ResolvedRule['targets'] = [];
  if (rule.resource === '*') {
    rule.actions.forEach((action, position) => {
      if (![...resources.values()].some((definition) => definition.actions.has(action))) {
        issues.push({ pointer: `${at}/actions/${position}`, message: `no resource has action "${action}"` });
      }
    });
    for (const [name, definition] of resources) {
      if (![...used].every((attribute) => definition.attributes.has(attribute))) continue;
      for (const action of rule.actions) if (definition.actions.has(action)) targets.push({ resource: name, action });
    }
    return { ...rule, targets };
  }
  const definition = resources.get(rule.resource);
  if (!definition) {
    issues.push({ pointer: `${at}/resource`, message: `unknown resource "${rule.resource}"` });
    return { ...rule, targets };
  }
  rule.actions.forEach((action, position) => {
    if (!definition.actions.has(action)) issues.push({ pointer: `${at}/actions/${position}`, message: `resource "${rule.resource}" has no action "${action}"` });
    else targets.push({ resource: rule.resource, action });
  });
  rule.when.forEach((condition, position) => {
    if (!definition.attributes.has(condition.record)) {
      issues.push({ pointer: `${at}/when/${position}/record`, message: `resource "${rule.resource}" does not declare attribute "${condition.record}"` });
    }
  });
  return { ...rule, targets };
}
