import { sql } from 'kysely';
import { isRampartError, RampartError, requireJustification } from '../../core/index.js';
import { execScript, unsafeAsSystem } from '../../db/index.js';
import { appAuthz } from '../compile/authz.js';
import type { PlanStep } from '../plans/diff.js';
import type { AppSpec } from '../spec/schema.js';
import { findPlan, toPlanView, type PlanView } from '../store.js';
import { actorKey, type AppsDeps, type Caller } from './deps.js';
import { planHash } from './create-plan.js';
import { syncAuthz } from './sync-authz.js';

/** Lock space for applying one app of one tenant at a time (the key is hashtext(tenant/app)). */
const APPLY_LOCK_SPACE = 72_617_008;

/** Messages written here for SQLSTATEs a plan can hit on existing rows (driver messages can carry values). */
const FAILURES: Record<string, string> = {
  '23502': 'a field became required but existing rows hold no value for it',
  '23514': 'existing rows break a new constraint (enum values, bounds or format)',
  '23505': 'existing rows hold duplicate values for a field that became unique',
  '23503': 'existing rows reference records that do not exist',
  '22P02': 'existing values cannot be converted to the new type',
  '42804': 'existing values cannot be converted to the new type',
  '42846': 'existing values cannot be converted to the new type',
};

/**
 * Applies a stored plan (DE-4) as ONE owner-role transaction: the DDL (PostgreSQL DDL is
 * transactional), the installed spec, the tenant's matrix and rules, and an audit event per step.
 * It succeeds whole or leaves the schema as it was; a failure is recorded (plan `failed`, audited)
 * in a separate transaction after the rollback.
 *
 * Refused: a plan not approved by a second person in production, a destructive plan without an
 * explicit confirmation, a plan whose stored text no longer matches its hash (edited after review),
 * a stale plan (the installed version moved since it was made).
 */
export async function applyPlan(deps: AppsDeps, input: Caller & { planId: string; confirmDestructive?: boolean; justification: unknown }): Promise<PlanView> {
  const justification = requireJustification(input.justification);
  const appliedBy = actorKey(input.actor);
  const context = input.context ? { context: input.context } : {};
  let failedPlan: { id: string; app: string } | undefined;
  try {
    const view = await unsafeAsSystem(deps.db, { reason: 'app plans run DDL, which the app role may not (DE-2)', ...(deps.log ? { log: deps.log } : {}) }, async (trx) => {
      const peek = await findPlan(trx, input.tenantId, input.planId);
      if (!peek) throw new RampartError('not_found', { detail: 'no such plan' });
      await sql`select pg_advisory_xact_lock(${APPLY_LOCK_SPACE}, hashtext(${`${input.tenantId}/${peek.app}`}))`.execute(trx);
      const plan = (await findPlan(trx, input.tenantId, input.planId, { forUpdate: true }))!;
      if (plan.status === 'applied' || plan.status === 'failed') throw new RampartError('conflict', { detail: `the plan is ${plan.status}; make a new plan` });
      if ((deps.requireApproval || plan.requires_approval) && plan.status !== 'approved') throw new RampartError('conflict', { detail: 'this plan needs the approval of a second admin before it applies' });
      if (plan.plan_hash !== planHash(plan)) throw new RampartError('conflict', { detail: 'the stored plan does not match its hash (changed after it was made); refusing to apply it' });
      if (plan.destructive && input.confirmDestructive !== true) {
        throw new RampartError('validation_failed', { detail: 'the plan has destructive steps (drops or type changes); confirm them explicitly', issues: [{ in: 'body', pointer: '/confirmDestructive', message: 'must be true to apply destructive steps' }] });
      }
      const installed = await trx.selectFrom('app_installed').select(['version']).where('tenant_id', '=', input.tenantId).where('app', '=', plan.app).executeTakeFirst();
      if ((installed?.version ?? null) !== plan.from_version) {
        throw new RampartError('conflict', { detail: `stale plan: it was made against version ${plan.from_version ?? '(none)'}, the installed version is ${installed?.version ?? '(none)'}` });
      }
      failedPlan = { id: plan.id, app: plan.app };
      const spec = plan.spec as AppSpec;
      const steps = plan.steps as PlanStep[];
      const now = deps.clock.now();

      await execScript(trx, plan.sql);
      const parts = appAuthz(spec);
      const values = { version: spec.version, spec: JSON.stringify(spec), spec_hash: plan.spec_hash, resources: JSON.stringify(parts.resources), plan_id: plan.id, updated_at: now };
      await trx.insertInto('app_installed').values({ tenant_id: input.tenantId, app: plan.app, installed_at: now, ...values }).onConflict((oc) => oc.columns(['tenant_id', 'app']).doUpdateSet(values)).execute();
      await trx.updateTable('app_plans').set({ status: 'applied', applied_by: appliedBy, applied_at: now, error: null }).where('tenant_id', '=', input.tenantId).where('id', '=', plan.id).execute();
      const authzChanges = await syncAuthz(trx, { tenantId: input.tenantId, app: plan.app, parts, staticResources: deps.authz.resources, actor: input.actor, requestedBy: appliedBy, justification, now, audit: deps.audit, ...context });
      for (const [index, step] of steps.entries()) {
        await deps.audit.record(trx, { tenantId: input.tenantId, actor: input.actor, action: 'app.plan.step_applied', target: { type: 'app_plan', id: plan.id }, diff: { step: { after: index + 1 }, kind: { after: step.kind }, summary: { after: step.summary }, destructive: { after: step.destructive } }, justification, ...context });
      }
      await deps.audit.record(trx, {
        tenantId: input.tenantId,
        actor: input.actor,
        action: 'app.plan.applied',
        target: { type: 'app_plan', id: plan.id },
        diff: { app: { after: plan.app }, version: { before: plan.from_version, after: plan.to_version }, spec_hash: { after: plan.spec_hash }, plan_hash: { after: plan.plan_hash }, approved_by: { after: plan.approved_by }, grants_added: { after: authzChanges.added }, grants_removed: { after: authzChanges.removed }, rules_changed: { after: authzChanges.rulesChanged } },
        justification,
        ...context,
      });
      return toPlanView({ ...plan, status: 'applied', applied_by: appliedBy, applied_at: now, error: null });
    });
    deps.authz.invalidate(input.tenantId);
    return view;
  } catch (error) {
    if (!failedPlan || (isRampartError(error) && error.status < 500)) throw error;
    const state = (error as { code?: unknown }).code;
    const reason = (typeof state === 'string' && FAILURES[state]) || `a step failed${typeof state === 'string' ? ` (SQLSTATE ${state})` : ''}`;
    const failed = failedPlan;
    await unsafeAsSystem(deps.db, { reason: 'record a failed app plan after its rollback' }, async (trx) => {
      await trx.updateTable('app_plans').set({ status: 'failed', error: reason }).where('tenant_id', '=', input.tenantId).where('id', '=', failed.id).execute();
      await deps.audit.record(trx, { tenantId: input.tenantId, actor: input.actor, action: 'app.plan.failed', target: { type: 'app_plan', id: failed.id }, diff: { app: { after: failed.app }, reason: { after: reason } }, justification, ...context });
    });
    deps.log?.warn({ plan: failed.id, app: failed.app, state }, 'app plan failed; rolled back');
    throw new RampartError('conflict', { detail: `the plan failed and nothing was changed: ${reason}`, cause: error });
  }
}
