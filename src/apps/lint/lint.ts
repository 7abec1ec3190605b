import { BUILTIN_ROLES, compilePolicySet, type Condition } from '../../authz/index.js';
import { isRampartError, toPointer } from '../../core/index.js';
import { appSpecSchema, ANONYMOUS_ROLE, type AppSpec, type ResourceSpec } from '../spec/schema.js';
import { GATED_CLASSES, isEncrypted, MAX_SQL_IDENTIFIER, resourceActions, SYSTEM_COLUMNS, tableName, TEXT_TYPES } from '../spec/model.js';
import { authzInputFor } from '../compile/authz.js';

/**
 * The linter (`rampart app lint`, and before every plan and apply). It refuses the mistakes that
 * made generated apps unsafe elsewhere: a resource nobody thought about in the matrix, public
 * access nobody asked for, personal data readable by anonymous callers, a field nobody classified,
 * a write rule that does not say what the record must look like afterwards, a reference across
 * tenants. Each finding has a stable code, a message and a JSON pointer into the spec.
 */

export type Finding = { code: string; message: string; pointer: string; severity: 'error' | 'warning' };
export type LintResult = { ok: boolean; spec?: AppSpec; findings: Finding[] };

const BUILTIN_ROLE_NAMES: ReadonlySet<string> = new Set(BUILTIN_ROLES.map((r) => r.name));
const WRITE_ACTIONS = new Set(['create', 'update']);

export function lintSpec(input: unknown): LintResult {
  const parsed = appSpecSchema.safeParse(input);
  if (!parsed.success) {
    const findings = parsed.error.issues.map((issue): Finding => {
      const pointer = toPointer(issue.path);
      const isMissingClass = issue.path.at(-1) === 'class' && issue.path.includes('fields') && issue.code === 'invalid_value';
      if (isMissingClass && issue.input === undefined) return { code: 'field/no-class', message: 'every field needs a data class: public, internal, confidential, pii, phi or secret', pointer, severity: 'error' };
      return { code: 'spec/invalid', message: issue.message, pointer, severity: 'error' };
    });
    return { ok: false, findings };
  }
  const spec = parsed.data;
  const findings: Finding[] = [];
  const add = (code: string, pointer: string, message: string, severity: Finding['severity'] = 'error') => findings.push({ code, message, pointer, severity });

  const resources = new Map<string, ResourceSpec>();
  spec.resources.forEach((resource, r) => {
    const at = `/resources/${r}`;
    if (resources.has(resource.name)) add('resource/duplicate', `${at}/name`, `resource "${resource.name}" is defined twice`);
    resources.set(resource.name, resource);
    if (tableName('0'.repeat(12), spec.app, resource.name).length > MAX_SQL_IDENTIFIER) add('name/too-long', `${at}/name`, `app and resource names together are too long for a table name (max ${MAX_SQL_IDENTIFIER - 19} characters)`);
    lintResource(spec, resource, at, add);
  });

  const declaredRoles = new Set<string>();
  spec.roles.forEach((role, i) => {
    if (role.name === ANONYMOUS_ROLE) add('role/reserved', `/roles/${i}/name`, '"anonymous" is the role of callers who are not signed in; it cannot be declared');
    else if (BUILTIN_ROLE_NAMES.has(role.name)) add('role/builtin', `/roles/${i}/name`, `"${role.name}" is a built-in role; an app uses it without declaring it`);
    if (declaredRoles.has(role.name)) add('role/duplicate', `/roles/${i}/name`, `role "${role.name}" is declared twice`);
    declaredRoles.add(role.name);
  });
  const knownRole = (role: string) => role === ANONYMOUS_ROLE || BUILTIN_ROLE_NAMES.has(role) || declaredRoles.has(role);

  const granted = new Set<string>();
  for (const [role, grants] of Object.entries(spec.matrix)) {
    if (!knownRole(role)) add('matrix/unknown-role', toPointer(['matrix', role]), `role "${role}" is neither built in nor declared under roles`);
    for (const [resourceName, actions] of Object.entries(grants)) {
      const at = toPointer(['matrix', role, resourceName]);
      const resource = resources.get(resourceName);
      if (!resource) {
        add('matrix/unknown-resource', at, `no resource "${resourceName}" in this app`);
        continue;
      }
      const known = new Set(resourceActions(resource));
      actions.forEach((action, i) => {
        if (!known.has(action)) add('matrix/unknown-action', `${at}/${i}`, `resource "${resourceName}" has no action "${action}" (it has ${[...known].join(', ')})`);
      });
      if (actions.length) granted.add(resourceName);
      if (role === ANONYMOUS_ROLE && actions.length) lintAnonymousGrant(resource, actions, at, add);
    }
  }
  spec.resources.forEach((resource, r) => {
    if (!granted.has(resource.name)) add('matrix/missing', `/resources/${r}`, `resource "${resource.name}" has no entry in the matrix: say which roles may do what with it`);
  });

  const ruleIds = new Set<string>();
  spec.rules.forEach((rule, i) => {
    const at = `/rules/${i}`;
    if (ruleIds.has(rule.id)) add('rule/duplicate', `${at}/id`, `rule id "${rule.id}" is used twice`);
    ruleIds.add(rule.id);
    for (const [field, roles] of [['roles', rule.roles === '*' ? [] : rule.roles], ['exceptRoles', rule.exceptRoles ?? []]] as const) {
      roles.forEach((role, j) => {
        if (!knownRole(role)) add('rule/unknown-role', `${at}/${field}/${j}`, `role "${role}" is neither built in nor declared under roles`);
      });
    }
    const resource = resources.get(rule.resource);
    if (!resource) {
      add('rule/unknown-resource', `${at}/resource`, `no resource "${rule.resource}" in this app`);
      return;
    }
    const actions = new Set(resourceActions(resource));
    rule.actions.forEach((action, j) => {
      if (!actions.has(action)) add('rule/unknown-action', `${at}/actions/${j}`, `resource "${rule.resource}" has no action "${action}"`);
    });
    const declared = declaredAttributes(resource);
    const checkConditions = (conditions: Condition[], field: 'when' | 'check') =>
      conditions.forEach((condition, j) => {
        if (!declared.has(condition.record)) add('rule/unknown-attribute', `${at}/${field}/${j}/record`, `resource "${rule.resource}" does not declare the record attribute "${condition.record}" (see attributes)`);
      });
    checkConditions(rule.when, 'when');
    checkConditions(rule.check ?? [], 'check');
    if (rule.effect === 'permit') {
      if (rule.actions.some((a) => WRITE_ACTIONS.has(a)) && !rule.check?.length) {
        add('rule/no-postcondition', `${at}/check`, 'a permit rule on create or update needs a post-condition (check): what the record must satisfy after the write');
      }
      const coversAnonymous = rule.roles === '*' ? !(rule.exceptRoles ?? []).includes(ANONYMOUS_ROLE) : rule.roles.includes(ANONYMOUS_ROLE);
      if (coversAnonymous && !resource.public) add('public/not-declared', `${at}/roles`, `this permit also covers anonymous callers, but resource "${rule.resource}" is not marked public: true; list the roles it is for`);
    } else if (rule.check?.length) add('rule/check-on-forbid', `${at}/check`, 'a forbid rule has no post-condition; remove check', 'warning');
  });

  for (const [resourceName, view] of Object.entries(spec.views)) {
    const resource = resources.get(resourceName);
    const at = toPointer(['views', resourceName]);
    if (!resource) {
      add('view/unknown-resource', at, `no resource "${resourceName}" in this app`);
      continue;
    }
    const names = new Set([...resource.fields.map((f) => f.name), ...SYSTEM_COLUMNS.filter((c) => c !== 'tenant_id')]);
    const check = (list: string[], pointer: string) => list.forEach((name, i) => !names.has(name) && add('view/unknown-field', `${pointer}/${i}`, `resource "${resourceName}" has no field "${name}"`));
    if (view.list) {
      check(view.list.columns, `${at}/list/columns`);
      check(view.list.filters, `${at}/list/filters`);
    }
    view.form?.sections.forEach((section, s) => check(section.fields, `${at}/form/sections/${s}/fields`));
  }

  // The engine compiles what the linter passed; anything it still refuses is a finding, not a crash.
  if (!findings.some((f) => f.severity === 'error')) {
    try {
      compilePolicySet(authzInputFor(spec));
    } catch (error) {
      if (!isRampartError(error) || error.status >= 500) throw error;
      for (const issue of error.issues ?? [{ pointer: '/', message: error.detail ?? error.title }]) add('authz/invalid', issue.pointer, issue.message);
    }
  }
  return { ok: !findings.some((f) => f.severity === 'error'), spec, findings };
}

type Add = (code: string, pointer: string, message: string, severity?: Finding['severity']) => void;

function declaredAttributes(resource: ResourceSpec): Set<string> {
  const attributes = new Set<string>();
  for (const [name, value] of Object.entries(resource.attributes)) if (value !== undefined) attributes.add(name);
  return attributes;
}

function lintResource(spec: AppSpec, resource: ResourceSpec, at: string, add: Add): void {
  const fields = new Map<string, number>();
  const system: ReadonlySet<string> = new Set(SYSTEM_COLUMNS);
  resource.fields.forEach((field, f) => {
    const fat = `${at}/fields/${f}`;
    if (fields.has(field.name)) add('field/duplicate', `${fat}/name`, `field "${field.name}" is defined twice`);
    fields.set(field.name, f);
    if (system.has(field.name)) add('field/reserved', `${fat}/name`, `"${field.name}" is a system column (${SYSTEM_COLUMNS.join(', ')})`);
    if (field.type === 'enum' && !field.values) add('field/enum-values', `${fat}/values`, 'an enum field needs its values');
    if (field.type !== 'enum' && field.values) add('field/enum-values', `${fat}/values`, 'values are for enum fields only');
    if (field.type === 'money' && !field.currency) add('field/money-currency', `${fat}/currency`, 'a money field needs its ISO 4217 currency (values are integer minor units)');
    if (field.type === 'reference') {
      if (field.crossTenant) add('reference/cross-tenant', `${fat}/crossTenant`, 'references never cross tenants: every reference is checked against the same tenant’s rows');
      if (!field.to) add('reference/missing-target', `${fat}/to`, 'a reference needs the resource it points to (to)');
      else if (field.to.includes('.')) add('reference/cross-tenant', `${fat}/to`, `"${field.to}" is outside this app; a reference may only point to a resource of this app, inside the tenant`);
      else if (!spec.resources.some((r) => r.name === field.to)) add('reference/unknown-target', `${fat}/to`, `no resource "${field.to}" in this app`);
    } else if (field.to || field.crossTenant) add('reference/not-a-reference', `${fat}/to`, 'to and crossTenant are for reference fields only');
    if (field.onDelete === 'set_null' && field.required) add('reference/set-null-required', `${fat}/onDelete`, 'a required reference cannot be set to null when its target is deleted');
    if (isEncrypted(field.class) && field.type === 'reference') add('field/encrypted-reference', `${fat}/class`, 'a reference holds a record id, which cannot be encrypted (the database checks it against the tenant’s rows); classify the referenced record’s fields instead');
    if (isEncrypted(field.class) && field.unique) add('field/encrypted-unique', `${fat}/unique`, `${field.class} fields are encrypted at rest; they cannot be unique`);
    if (field.min !== undefined && field.max !== undefined && field.min > field.max) add('field/bounds', `${fat}/min`, 'min is greater than max');
    if (field.pattern !== undefined) {
      if (!TEXT_TYPES.has(field.type)) add('field/pattern', `${fat}/pattern`, 'pattern applies to text-like fields only');
      try {
        new RegExp(field.pattern, 'u');
      } catch {
        add('field/pattern', `${fat}/pattern`, 'pattern is not a valid regular expression');
      }
    }
  });
  for (const attribute of ['department', 'region', 'sensitivity'] as const) {
    const name = resource.attributes[attribute];
    if (name === undefined) continue;
    const index = fields.get(name);
    const field = index === undefined ? undefined : resource.fields[index];
    if (!field) add('attribute/unknown-field', `${at}/attributes/${attribute}`, `no field "${name}" in resource "${resource.name}"`);
    else if (!TEXT_TYPES.has(field.type) || isEncrypted(field.class)) add('attribute/field-type', `${at}/attributes/${attribute}`, `attribute ${attribute} needs a plaintext text or enum field`);
  }
  const standard = new Set(['list', 'read', 'create', 'update', 'delete', 'export', ...Object.values(GATED_CLASSES)]);
  resource.actions.forEach((action, i) => {
    if (standard.has(action)) add('resource/action-duplicate', `${at}/actions/${i}`, `"${action}" is a standard action`);
  });
}

function lintAnonymousGrant(resource: ResourceSpec, actions: string[], at: string, add: Add): void {
  if (!resource.public) {
    add('public/not-declared', at, `anonymous access to "${resource.name}" needs public: true on the resource`);
    return;
  }
  actions.forEach((action, i) => {
    if (action !== 'list' && action !== 'read') add('public/write', `${at}/${i}`, 'anonymous callers may only list and read');
  });
  const exposed = resource.fields.filter((f) => f.class === 'pii' || f.class === 'phi' || f.class === 'secret');
  if (exposed.length && actions.some((a) => a === 'list' || a === 'read')) {
    add('public/pii-readable', at, `anonymous callers could read ${exposed.map((f) => `${f.name} (${f.class})`).join(', ')}; move those fields to a resource that is not public`);
  }
}
