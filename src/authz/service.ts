import type { Transaction } from 'kysely';
import type { AuditLog, RequestContext } from '../audit/index.js';
import { MIN_JUSTIFICATION, RampartError, requireJustification, systemClock, uuidv7, type Clock } from '../core/index.js';
import { withTenant, type Actor, type Database, type GrantTriple, type Schema, type Tenant } from '../db/index.js';
import { BUILTIN_RESOURCES, BUILTIN_ROLES, DEFAULT_MATRIX } from './builtin.js';
import { compilePolicySet, type CompiledPolicySet } from './compile.js';
import { constraintFor, type Constraint } from './constraint.js';
import { decide } from './decide.js';
import { customPolicyText, diffGrants, fromMatrix, loadPolicyData, toMatrix, type PolicyData } from './store.js';
import { attributeRuleSchema } from './schemas.js';
import type { AttributeRule, AuthzPrincipal, AuthzResource, Decision, ResourceDefinition } from './types.js';

/**
 * The authorization service: each tenant's compiled policy set (cached), decisions for the request
 * pipeline, and the only way the matrix and policies change — justified (AZ-5), audited in the same
 * transaction (invariant 3, raising a permission-change alert, MO-2) and recorded as a change that
 * drift detection can match grants against (AZ-4).
 */

export { MIN_JUSTIFICATION, requireJustification };

/**
 * Resources a tenant adds to its catalog (app resources, once an app is applied), read in the
 * caller's transaction. Without it the catalog is the static one.
 */
export type TenantResources = (trx: Transaction<Schema>, tenantId: string) => Promise<ResourceDefinition[]>;

export type ChangeInput = { tenantId: string; actor: Actor; justification: unknown; context?: RequestContext };

export type Authz = {
  resources: ResourceDefinition[];
  /** Creates the built-in roles and default matrix for a new tenant, inside its creation transaction. */
  provisionTenant(trx: Transaction<Schema>, tenant: Tenant): Promise<void>;
  policySet(tenantId: string): Promise<CompiledPolicySet>;
  data(tenantId: string): Promise<PolicyData>;
  check(principal: AuthzPrincipal, action: string, resource: AuthzResource): Promise<Decision>;
  constraint(principal: AuthzPrincipal, action: string, resourceType: string): Promise<Constraint>;
  setGrants(input: ChangeInput & { role: string; resource: string; actions: string[] }): Promise<{ changeId: string | null; added: GrantTriple[]; removed: GrantTriple[] }>;
  putPolicy(input: ChangeInput & { id: string; cedar: string; description?: string }): Promise<{ changeId: string; warnings: readonly string[] }>;
  deletePolicy(input: ChangeInput & { id: string }): Promise<{ changeId: string }>;
  putRule(input: ChangeInput & { rule: AttributeRule }): Promise<{ changeId: string }>;
  deleteRule(input: ChangeInput & { id: string }): Promise<{ changeId: string }>;
  invalidate(tenantId: string): void;
};

type CacheEntry = { set: CompiledPolicySet; expires: number };

export function createAuthz({ db, audit, clock = systemClock, resources = BUILTIN_RESOURCES, cacheTtlMs = 2000, tenantResources }: { db: Database; audit: AuditLog; clock?: Clock; resources?: ResourceDefinition[]; cacheTtlMs?: number; tenantResources?: TenantResources }): Authz {
  const cache = new Map<string, CacheEntry>();
  const compile = (data: PolicyData, override: Partial<{ grants: GrantTriple[]; policies: PolicyData['policies']; rules: AttributeRule[] }> = {}) =>
    compilePolicySet({
      resources: data.resources?.length ? [...resources, ...data.resources] : resources,
      roles: data.roles.map((r) => r.name),
      matrix: toMatrix(override.grants ?? data.grants),
      rules: override.rules ?? data.rules,
      customPolicies: customPolicyText(override.policies ?? data.policies),
    });
  const system = (tenantId: string) => ({ tenantId, actor: { type: 'system', id: 'authz' } as const });
  const load = async (trx: Transaction<Schema>, tenantId: string): Promise<PolicyData> => {
    const loaded = await loadPolicyData(trx, tenantId);
    return tenantResources ? { ...loaded, resources: await tenantResources(trx, tenantId) } : loaded;
  };
  const data = (tenantId: string) => withTenant(db, system(tenantId), (trx) => load(trx, tenantId), { readOnly: true });

  async function policySet(tenantId: string): Promise<CompiledPolicySet> {
    const hit = cache.get(tenantId);
    if (hit && hit.expires > clock.now().getTime()) return hit.set;
    const set = compile(await data(tenantId));
    if (cache.size > 10_000) cache.clear();
    cache.set(tenantId, { set, expires: clock.now().getTime() + cacheTtlMs });
    return set;
  }

  async function recordChange(trx: Transaction<Schema>, input: ChangeInput & { kind: 'matrix' | 'policy' | 'rule'; summary: string; added: unknown[]; removed: unknown[]; justification: string; action: string; target: { type: string; id: string } }): Promise<string> {
    const id = uuidv7(clock.now().getTime());
    const requestedBy = input.actor.type === 'anonymous' ? 'anonymous' : input.actor.id;
    await trx
      .insertInto('authz_changes')
      .values({ tenant_id: input.tenantId, id, kind: input.kind, summary: input.summary, added: JSON.stringify(input.added), removed: JSON.stringify(input.removed), justification: input.justification, requested_by: requestedBy, approved_by: requestedBy, status: 'applied', created_at: clock.now(), applied_at: clock.now() })
      .execute();
    await audit.record(trx, {
      tenantId: input.tenantId,
      actor: input.actor,
      action: input.action,
      target: input.target,
      diff: { added: { after: input.added }, removed: { after: input.removed }, change: { after: id } },
      justification: input.justification,
      ...(input.context ? { context: input.context } : {}),
    });
    return id;
  }

  return {
    resources,
    async provisionTenant(trx, tenant) {
      const now = clock.now();
      await trx.insertInto('authz_roles').values(BUILTIN_ROLES.map((r) => ({ tenant_id: tenant.id, name: r.name, description: r.description, high_privilege: r.highPrivilege, created_at: now }))).execute();
      const grants = fromMatrix(DEFAULT_MATRIX);
      const changeId = uuidv7(now.getTime());
      await trx
        .insertInto('authz_changes')
        .values({ tenant_id: tenant.id, id: changeId, kind: 'bootstrap', summary: 'built-in roles and default matrix', added: JSON.stringify(grants), removed: '[]', justification: 'tenant created with the default matrix', requested_by: 'system', approved_by: 'system', status: 'applied', created_at: now, applied_at: now })
        .execute();
      await trx.insertInto('authz_grants').values(grants.map((g) => ({ tenant_id: tenant.id, ...g, change_id: changeId, created_at: now }))).execute();
      await audit.record(trx, { tenantId: tenant.id, actor: { type: 'system', id: 'provisioning' }, action: 'tenant.created', target: { type: 'tenant', id: tenant.id }, diff: { slug: { after: tenant.slug }, name: { after: tenant.name } } });
    },
    policySet,
    data,
    async check(principal, action, resource) {
      return decide(await policySet(principal.tenantId), { principal, action, resource });
    },
    async constraint(principal, action, resourceType) {
      return constraintFor(await policySet(principal.tenantId), { principal, action, resourceType });
    },
    async setGrants(input) {
      const justification = requireJustification(input.justification);
      const result = await withTenant(db, { tenantId: input.tenantId, actor: input.actor }, async (trx) => {
        const current = await load(trx, input.tenantId);
        if (!current.roles.some((r) => r.name === input.role)) throw new RampartError('not_found', { detail: `no role "${input.role}"` });
        const others = current.grants.filter((g) => !(g.role === input.role && g.resource === input.resource));
        const next = [...others, ...[...new Set(input.actions)].map((action) => ({ role: input.role, resource: input.resource, action }))];
        compile(current, { grants: next }); // refuses unknown resources and actions with a 400
        const { added, removed } = diffGrants(current.grants, next);
        if (!added.length && !removed.length) return { changeId: null, added, removed };
        const changeId = await recordChange(trx, {
          ...input,
          kind: 'matrix',
          justification,
          summary: `${input.role} on ${input.resource}: ${[...new Set(input.actions)].sort().join(', ') || '(nothing)'}`,
          added,
          removed,
          action: 'authz.matrix.updated',
          target: { type: 'matrix', id: `${input.role}/${input.resource}` },
        });
        for (const g of removed) await trx.deleteFrom('authz_grants').where('tenant_id', '=', input.tenantId).where('role', '=', g.role).where('resource', '=', g.resource).where('action', '=', g.action).execute();
        if (added.length) await trx.insertInto('authz_grants').values(added.map((g) => ({ tenant_id: input.tenantId, ...g, change_id: changeId }))).execute();
        return { changeId, added, removed };
      });
      cache.delete(input.tenantId);
      return result;
    },
    async putPolicy(input) {
      const justification = requireJustification(input.justification);
      const result = await withTenant(db, { tenantId: input.tenantId, actor: input.actor }, async (trx) => {
        const current = await load(trx, input.tenantId);
        const policy = { id: input.id, cedar: input.cedar, description: input.description ?? '' };
        const set = compile(current, { policies: [...current.policies.filter((p) => p.id !== input.id), policy] }); // 400 on invalid Cedar
        const existed = current.policies.some((p) => p.id === input.id);
        const changeId = await recordChange(trx, { ...input, kind: 'policy', justification, summary: `${existed ? 'replaced' : 'added'} policy ${input.id}`, added: [policy], removed: existed ? current.policies.filter((p) => p.id === input.id) : [], action: 'authz.policy.updated', target: { type: 'authz_policy', id: input.id } });
        await trx.deleteFrom('authz_policies').where('tenant_id', '=', input.tenantId).where('id', '=', input.id).execute();
        await trx.insertInto('authz_policies').values({ tenant_id: input.tenantId, ...policy, change_id: changeId }).execute();
        return { changeId, warnings: set.warnings };
      });
      cache.delete(input.tenantId);
      return result;
    },
    async deletePolicy(input) {
      const justification = requireJustification(input.justification);
      const result = await withTenant(db, { tenantId: input.tenantId, actor: input.actor }, async (trx) => {
        const current = await load(trx, input.tenantId);
        const existing = current.policies.find((p) => p.id === input.id);
        if (!existing) throw new RampartError('not_found', { detail: `no policy "${input.id}"` });
        const changeId = await recordChange(trx, { ...input, kind: 'policy', justification, summary: `removed policy ${input.id}`, added: [], removed: [existing], action: 'authz.policy.deleted', target: { type: 'authz_policy', id: input.id } });
        await trx.deleteFrom('authz_policies').where('tenant_id', '=', input.tenantId).where('id', '=', input.id).execute();
        return { changeId };
      });
      cache.delete(input.tenantId);
      return result;
    },
    async putRule(input) {
      const justification = requireJustification(input.justification);
      const parsed = attributeRuleSchema.safeParse(input.rule);
      if (!parsed.success) throw new RampartError('validation_failed', { detail: 'the rule is malformed', issues: parsed.error.issues.map((i) => ({ in: 'body', pointer: `/rule/${i.path.join('/')}`, message: i.message })) });
      const rule = parsed.data;
      const result = await withTenant(db, { tenantId: input.tenantId, actor: input.actor }, async (trx) => {
        const current = await load(trx, input.tenantId);
        compile(current, { rules: [...current.rules.filter((r) => r.id !== rule.id), rule] }); // 400 on an invalid rule
        const previous = current.rules.filter((r) => r.id === rule.id);
        const changeId = await recordChange(trx, { ...input, kind: 'rule', justification, summary: `${previous.length ? 'replaced' : 'added'} rule ${rule.id}`, added: [rule], removed: previous, action: 'authz.rule.updated', target: { type: 'authz_rule', id: rule.id } });
        await trx.deleteFrom('authz_rules').where('tenant_id', '=', input.tenantId).where('id', '=', rule.id).execute();
        await trx.insertInto('authz_rules').values({ tenant_id: input.tenantId, id: rule.id, definition: JSON.stringify(rule), change_id: changeId }).execute();
        return { changeId };
      });
      cache.delete(input.tenantId);
      return result;
    },
    async deleteRule(input) {
      const justification = requireJustification(input.justification);
      const outcome = await withTenant(db, { tenantId: input.tenantId, actor: input.actor }, async (trx) => {
        const current = await load(trx, input.tenantId);
        const existing = current.rules.find((r) => r.id === input.id);
        if (!existing) throw new RampartError('not_found', { detail: `no rule "${input.id}"` });
        const changeId = await recordChange(trx, { ...input, kind: 'rule', justification, summary: `removed rule ${input.id}`, added: [], removed: [existing], action: 'authz.rule.deleted', target: { type: 'authz_rule', id: input.id } });
        await trx.deleteFrom('authz_rules').where('tenant_id', '=', input.tenantId).where('id', '=', input.id).execute();
        return { changeId };
      });
      cache.delete(input.tenantId);
      return outcome;
    },
    invalidate: (tenantId) => void cache.delete(tenantId),
  };
}
