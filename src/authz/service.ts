import type { Transaction } from 'kysely';
import type { AuditLog, RequestContext } from '../audit/index.js';
import { MIN_JUSTIFICATION, RampartError, requireJustification, systemClock, uuidv7, type Clock } from '../core/index.js';
import { withTenant, type Actor, type Database, type GrantTriple, type Schema, type Tenant } from '../db/index.js';
import { BUILTIN_RESOURCES, BUILTIN_ROLES, DEFAULT_MATRIX } from './builtin.js';
import { compilePolicySet, type CompiledPolicySet } from './compile.js';
import { constraintFor, type Constraint } from './constraint.js';
import { decide } from './decide.js';
import { checkCeiling, type CeilingRole } from './ceiling.js';
import { planChange, type ChangeRequest, type PlannedChange } from './changes.js';
import { customPolicyText, fromMatrix, loadPolicyData, toMatrix, type PolicyData } from './store.js';
import { attributeRuleSchema } from './schemas.js';
import type { AttributeRule, AuthzPrincipal, AuthzResource, Decision, Matrix, ResourceDefinition } from './types.js';

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

/**
 * Who changes what and why. `author` is the person's authorization principal: the ceiling holds a
 * change to what they hold themselves. The host's CLI (break-glass) passes none.
 */
export type ChangeInput = { tenantId: string; actor: Actor; author?: AuthzPrincipal | undefined; justification: unknown; context?: RequestContext };

/** `pending`: it grants an owner-only permission and waits for a second admin (`approveChange`). */
export type ChangeResult = { changeId: string | null; status: 'applied' | 'pending' | 'unchanged'; added: unknown[]; removed: unknown[]; warnings: readonly string[] };

export type Authz = {
  resources: ResourceDefinition[];
  /** Creates the built-in roles and default matrix for a new tenant, inside its creation transaction. */
  provisionTenant(trx: Transaction<Schema>, tenant: Tenant): Promise<void>;
  policySet(tenantId: string): Promise<CompiledPolicySet>;
  data(tenantId: string): Promise<PolicyData>;
  check(principal: AuthzPrincipal, action: string, resource: AuthzResource): Promise<Decision>;
  constraint(principal: AuthzPrincipal, action: string, resourceType: string): Promise<Constraint>;
  setGrants(input: ChangeInput & { role: string; resource: string; actions: string[] }): Promise<ChangeResult>;
  putPolicy(input: ChangeInput & { id: string; cedar: string; description?: string }): Promise<ChangeResult>;
  deletePolicy(input: ChangeInput & { id: string }): Promise<ChangeResult>;
  putRule(input: ChangeInput & { rule: AttributeRule }): Promise<ChangeResult>;
  deleteRule(input: ChangeInput & { id: string }): Promise<ChangeResult>;
  approveChange(input: ChangeInput & { changeId: string }): Promise<ChangeResult>;
  /**
   * The ceiling for an app spec's grants (app plans, DE-4): the tenant's policy set with this app's
   * resources, grants and rules replaced by `next`, judged like any other change. Throws what
   * `checkCeiling` throws; `needsApproval` when the spec grants an owner-only permission.
   */
  checkAppChange(trx: Transaction<Schema>, input: { tenantId: string; app: string; author?: AuthzPrincipal | undefined; next: { resources: ResourceDefinition[]; matrix: Matrix; rules: AttributeRule[]; roles: CeilingRole[] } }): Promise<{ needsApproval: boolean }>;
  pendingChanges(tenantId: string): Promise<Array<{ id: string; kind: string; summary: string; requestedBy: string; justification: string; createdAt: Date }>>;
  invalidate(tenantId: string): void;
};

type CacheEntry = { set: CompiledPolicySet; expires: number };

const actorName = (actor: Actor): string => (actor.type === 'anonymous' ? 'anonymous' : actor.id);

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

  /** One row in `authz_changes` and its audit event (AZ-4 drift reads the row, MO-2 alerts on the event). */
  async function recordChange(trx: Transaction<Schema>, input: ChangeInput & { plan: PlannedChange; justification: string; status: 'applied' | 'pending'; request?: ChangeRequest }): Promise<string> {
    const id = uuidv7(clock.now().getTime());
    const requestedBy = actorName(input.actor);
    const { plan } = input;
    await trx
      .insertInto('authz_changes')
      .values({
        tenant_id: input.tenantId,
        id,
        kind: plan.kind,
        summary: plan.summary,
        added: JSON.stringify(plan.added),
        removed: JSON.stringify(plan.removed),
        justification: input.justification,
        requested_by: requestedBy,
        approved_by: input.status === 'applied' ? requestedBy : null,
        status: input.status,
        created_at: clock.now(),
        applied_at: input.status === 'applied' ? clock.now() : null,
        request: input.request ? JSON.stringify(input.request) : null,
      })
      .execute();
    await auditChange(trx, input, input.status === 'applied' ? plan.action : 'authz.change.requested', id, input.justification);
    return id;
  }

  const auditChange = (trx: Transaction<Schema>, input: ChangeInput & { plan: PlannedChange }, action: string, changeId: string, justification: string) =>
    audit.record(trx, {
      tenantId: input.tenantId,
      actor: input.actor,
      action,
      target: action === 'authz.change.requested' || action === 'authz.change.approved' ? { type: 'authz_change', id: changeId } : input.plan.target,
      diff: { summary: { after: input.plan.summary }, added: { after: input.plan.added }, removed: { after: input.plan.removed }, change: { after: changeId } },
      justification,
      ...(input.context ? { context: input.context } : {}),
    });

  /**
   * Every change to who may do what takes this path: plan it on the current state, compile the
   * result (a set that does not compile is a 400), hold it to the ceiling (ceiling.ts), then apply
   * it, or, when it grants an owner-only permission, record it as pending for a second admin.
   */
  async function change(input: ChangeInput, request: ChangeRequest): Promise<ChangeResult> {
    const justification = requireJustification(input.justification);
    const result = await withTenant(db, { tenantId: input.tenantId, actor: input.actor }, async (trx): Promise<ChangeResult> => {
      const current = await load(trx, input.tenantId);
      const plan = planChange(current, request);
      if (!plan) return { changeId: null, status: 'unchanged', added: [], removed: [], warnings: [] };
      const after = compile(current, plan.override);
      const verdict = checkCeiling({ before: compile(current), after, roles: current.roles, author: input.author });
      const pending = verdict.needsApproval && input.author !== undefined;
      const changeId = await recordChange(trx, { ...input, plan, justification, status: pending ? 'pending' : 'applied', request });
      if (!pending) await plan.write(trx, input.tenantId, changeId);
      return { changeId, status: pending ? 'pending' : 'applied', added: plan.added, removed: plan.removed, warnings: after.warnings };
    });
    cache.delete(input.tenantId);
    return result;
  }

  /** A second admin applies a pending change: re-planned and re-checked on the state as it is now. */
  async function approveChange(input: ChangeInput & { changeId: string }): Promise<ChangeResult> {
    const justification = requireJustification(input.justification);
    const result = await withTenant(db, { tenantId: input.tenantId, actor: input.actor }, async (trx): Promise<ChangeResult> => {
      const row = await trx.selectFrom('authz_changes').select(['id', 'status', 'requested_by', 'request']).where('tenant_id', '=', input.tenantId).where('id', '=', input.changeId).forUpdate().executeTakeFirst();
      if (!row || row.status !== 'pending' || !row.request) throw new RampartError('not_found', { detail: 'no pending change with this id' });
      if (row.requested_by === actorName(input.actor)) throw new RampartError('forbidden', { detail: 'a change is approved by someone other than its author', extensions: { reason: 'approver_is_author' } });
      const request = row.request as ChangeRequest;
      const current = await load(trx, input.tenantId);
      const plan = planChange(current, request);
      if (!plan) throw new RampartError('conflict', { detail: 'the pending change no longer changes anything' });
      const after = compile(current, plan.override);
      // The author's ceiling held when it was requested; the role and lockout rules must still hold now.
      checkCeiling({ before: compile(current), after, roles: current.roles });
      await trx.updateTable('authz_changes').set({ status: 'applied', approved_by: actorName(input.actor), applied_at: clock.now() }).where('tenant_id', '=', input.tenantId).where('id', '=', row.id).execute();
      await auditChange(trx, { ...input, plan }, 'authz.change.approved', row.id, justification);
      await auditChange(trx, { ...input, plan }, plan.action, row.id, justification);
      await plan.write(trx, input.tenantId, row.id);
      return { changeId: row.id, status: 'applied', added: plan.added, removed: plan.removed, warnings: after.warnings };
    });
    cache.delete(input.tenantId);
    return result;
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
    setGrants: (input) => change(input, { kind: 'matrix', role: input.role, resource: input.resource, actions: input.actions }),
    putPolicy: (input) => change(input, { kind: 'policy_put', id: input.id, cedar: input.cedar, description: input.description ?? '' }),
    deletePolicy: (input) => change(input, { kind: 'policy_delete', id: input.id }),
    putRule(input) {
      const parsed = attributeRuleSchema.safeParse(input.rule);
      if (!parsed.success) throw new RampartError('validation_failed', { detail: 'the rule is malformed', issues: parsed.error.issues.map((i) => ({ in: 'body', pointer: `/rule/${i.path.join('/')}`, message: i.message })) });
      return change(input, { kind: 'rule_put', rule: parsed.data });
    },
    deleteRule: (input) => change(input, { kind: 'rule_delete', id: input.id }),
    approveChange,
    async checkAppChange(trx, { tenantId, app, author, next }) {
      const current = await load(trx, tenantId);
      const prefix = `${app}__`;
      const roles = [...current.roles, ...next.roles.filter((r) => !current.roles.some((c) => c.name === r.name))];
      const after: PolicyData = {
        ...current,
        roles: roles.map((r) => ({ name: r.name, description: '', highPrivilege: r.highPrivilege })),
        resources: [...(current.resources ?? []).filter((r) => !r.name.startsWith(prefix)), ...next.resources],
        grants: [...current.grants.filter((g) => !g.resource.startsWith(prefix)), ...fromMatrix(next.matrix)],
        rules: [...current.rules.filter((r) => !r.id.startsWith(`app.${app}.`)), ...next.rules],
      };
      return checkCeiling({ before: compile(current), after: compile(after), roles, author });
    },
    async pendingChanges(tenantId) {
      const rows = await withTenant(db, system(tenantId), (trx) => trx.selectFrom('authz_changes').select(['id', 'kind', 'summary', 'requested_by', 'justification', 'created_at']).where('status', '=', 'pending').orderBy('created_at').execute(), { readOnly: true });
      return rows.map((r) => ({ id: r.id, kind: r.kind, summary: r.summary, requestedBy: r.requested_by, justification: r.justification, createdAt: r.created_at }));
    },
    invalidate: (tenantId) => void cache.delete(tenantId),
  };
}
