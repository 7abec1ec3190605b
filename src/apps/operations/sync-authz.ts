import type { Transaction } from 'kysely';
import type { AuditLog, RequestContext } from '../../audit/index.js';
import { canonicalJson } from '../../audit/index.js';
import { compilePolicySet, customPolicyText, diffGrants, fromMatrix, loadPolicyData, toMatrix, type AttributeRule, type ResourceDefinition } from '../../authz/index.js';
import { uuidv7 } from '../../core/index.js';
import type { Actor, Schema } from '../../db/index.js';
import type { AppAuthz } from '../compile/authz.js';
import { ANONYMOUS_ROLE } from '../spec/schema.js';
import { installedResources } from '../store.js';

/**
 * Brings the tenant's matrix and attribute rules for one app in line with its spec, inside the
 * apply transaction. Each change is recorded in `authz_changes` (so drift detection explains it,
 * AZ-4) and audited as `authz.matrix.updated` / `authz.rule.updated` (raising the permission-change
 * alert, MO-2). The whole tenant policy set is compiled before commit: an apply can never leave a
 * tenant with a policy set that does not compile.
 */
export async function syncAuthz(
  trx: Transaction<Schema>,
  input: { tenantId: string; app: string; parts: AppAuthz; staticResources: ResourceDefinition[]; actor: Actor; requestedBy: string; justification: string; now: Date; audit: AuditLog; context?: RequestContext },
): Promise<{ added: number; removed: number; rulesChanged: number }> {
  const { tenantId, app, parts, now } = input;
  const existingRoles = new Set((await trx.selectFrom('authz_roles').select('name').where('tenant_id', '=', tenantId).execute()).map((r) => r.name));
  const newRoles = [...parts.roles, ...(parts.usesAnonymous ? [{ name: ANONYMOUS_ROLE, description: 'Callers who are not signed in (public app resources only)', highPrivilege: false }] : [])].filter((r) => !existingRoles.has(r.name));
  const record = async (kind: 'matrix' | 'rule' | 'role', summary: string, added: unknown[], removed: unknown[], action: string, target: string) => {
    const id = uuidv7(now.getTime());
    await trx.insertInto('authz_changes').values({ tenant_id: tenantId, id, kind, summary, added: JSON.stringify(added), removed: JSON.stringify(removed), justification: input.justification, requested_by: input.requestedBy, approved_by: input.requestedBy, status: 'applied', created_at: now, applied_at: now }).execute();
    await input.audit.record(trx, { tenantId, actor: input.actor, action, target: { type: kind === 'rule' ? 'authz_rule' : kind, id: target }, diff: { added: { after: added }, removed: { after: removed }, change: { after: id } }, justification: input.justification, ...(input.context ? { context: input.context } : {}) });
    return id;
  };
  if (newRoles.length) {
    await record('role', `app ${app}: roles ${newRoles.map((r) => r.name).join(', ')}`, newRoles, [], 'authz.role.created', `app/${app}`);
    await trx.insertInto('authz_roles').values(newRoles.map((r) => ({ tenant_id: tenantId, name: r.name, description: r.description.slice(0, 500), high_privilege: r.highPrivilege, created_at: now }))).execute();
  }

  const prefix = `${app}__`;
  const current = (await trx.selectFrom('authz_grants').select(['role', 'resource', 'action']).where('tenant_id', '=', tenantId).execute()).filter((g) => g.resource.startsWith(prefix));
  const next = fromMatrix(parts.matrix);
  const { added, removed } = diffGrants(current, next);
  if (added.length || removed.length) {
    const changeId = await record('matrix', `app ${app}: +${added.length} -${removed.length} grant(s) from its spec`, added, removed, 'authz.matrix.updated', `app/${app}`);
    for (const g of removed) await trx.deleteFrom('authz_grants').where('tenant_id', '=', tenantId).where('role', '=', g.role).where('resource', '=', g.resource).where('action', '=', g.action).execute();
    if (added.length) await trx.insertInto('authz_grants').values(added.map((g) => ({ tenant_id: tenantId, ...g, change_id: changeId, created_at: now }))).execute();
  }

  const rulePrefix = `app.${app}.`;
  const currentRules = new Map((await trx.selectFrom('authz_rules').select(['id', 'definition']).where('tenant_id', '=', tenantId).execute()).filter((r) => r.id.startsWith(rulePrefix)).map((r) => [r.id, { ...(r.definition as AttributeRule), id: r.id }]));
  const nextRules = new Map(parts.rules.map((r) => [r.id, r]));
  let rulesChanged = 0;
  for (const id of new Set([...currentRules.keys(), ...nextRules.keys()])) {
    const before = currentRules.get(id);
    const after = nextRules.get(id);
    if (before && after && canonicalJson(before) === canonicalJson(after)) continue;
    rulesChanged++;
    const changeId = await record('rule', `app ${app}: ${after ? (before ? 'replaced' : 'added') : 'removed'} rule ${id}`, after ? [after] : [], before ? [before] : [], after ? 'authz.rule.updated' : 'authz.rule.deleted', id);
    await trx.deleteFrom('authz_rules').where('tenant_id', '=', tenantId).where('id', '=', id).execute();
    if (after) await trx.insertInto('authz_rules').values({ tenant_id: tenantId, id, definition: JSON.stringify(after), change_id: changeId }).execute();
  }

  const data = await loadPolicyData(trx, tenantId);
  compilePolicySet({
    resources: [...input.staticResources, ...(await installedResources(trx, tenantId))],
    roles: data.roles.map((r) => r.name),
    matrix: toMatrix(data.grants),
    rules: data.rules,
    customPolicies: customPolicyText(data.policies),
  });
  return { added: added.length, removed: removed.length, rulesChanged };
}
