import { BUILTIN_ROLES, type AttributeRule, type Matrix, type PolicySetInput, type ResourceDefinition } from '../../authz/index.js';
import { ANONYMOUS_ROLE, type AppSpec, type ResourceSpec } from '../spec/schema.js';
import { catalogName, resourceActions } from '../spec/model.js';

/**
 * The spec's authorization, in the engine's vocabulary (AZ-1, AZ-3): one catalog resource per app
 * resource (`<app>__<resource>`), the matrix, and the attribute rules with app-scoped ids. The
 * engine compiles these to Cedar (reference semantics), to TypeScript checks and to SQL constraints.
 */

export type AppAuthz = {
  resources: ResourceDefinition[];
  matrix: Matrix;
  rules: AttributeRule[];
  /** Roles the app declares (created in the tenant when missing) and whether it grants to anonymous. */
  roles: Array<{ name: string; description: string; highPrivilege: boolean }>;
  usesAnonymous: boolean;
};

export const appRuleId = (app: string, id: string): string => `app.${app}.${id}`;

export function resourceDefinition(app: string, resource: ResourceSpec): ResourceDefinition {
  const attributes: NonNullable<ResourceDefinition['attributes']> = {};
  if (resource.attributes.owner) attributes.owner = true;
  if (resource.attributes.department) attributes.department = true;
  if (resource.attributes.region) attributes.region = true;
  if (resource.attributes.sensitivity) attributes.sensitivity = true;
  const actions = resourceActions(resource);
  // Reading secrets and health data is owner-only: the tenant ceiling decides who may grant it.
  const privileged = actions.filter((action) => action === 'read_secret' || action === 'read_phi');
  return { name: catalogName(app, resource.name), actions, ...(Object.keys(attributes).length ? { attributes } : {}), ...(privileged.length ? { privileged } : {}) };
}

export function appAuthz(spec: AppSpec): AppAuthz {
  const matrix: Matrix = {};
  let usesAnonymous = false;
  for (const [role, grants] of Object.entries(spec.matrix)) {
    for (const [resource, actions] of Object.entries(grants)) {
      if (!actions.length) continue;
      if (role === ANONYMOUS_ROLE) usesAnonymous = true;
      (matrix[role] ??= {})[catalogName(spec.app, resource)] = [...new Set(actions)].sort();
    }
  }
  const rules: AttributeRule[] = spec.rules.map((rule) => ({
    id: appRuleId(spec.app, rule.id),
    effect: rule.effect,
    roles: rule.roles,
    ...(rule.exceptRoles ? { exceptRoles: rule.exceptRoles } : {}),
    resource: catalogName(spec.app, rule.resource),
    actions: rule.actions,
    when: rule.when,
    ...(rule.description ? { description: rule.description } : {}),
  }));
  return {
    resources: spec.resources.map((resource) => resourceDefinition(spec.app, resource)),
    matrix,
    rules,
    roles: spec.roles.map((role) => ({ name: role.name, description: role.label ?? `${spec.title}: ${role.name}`, highPrivilege: role.highPrivilege })),
    usesAnonymous,
  };
}

/** The app alone as a policy set (every built-in role known), for linting and for its Cedar text. */
export function authzInputFor(spec: AppSpec): PolicySetInput {
  const parts = appAuthz(spec);
  const roles = [...new Set([...BUILTIN_ROLES.map((r) => r.name), ...parts.roles.map((r) => r.name), ANONYMOUS_ROLE])].sort();
  return { resources: parts.resources, matrix: parts.matrix, rules: parts.rules, roles };
}
