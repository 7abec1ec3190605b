import { RampartError, requireJustification } from '../../core/index.js';
import { withTenant } from '../../db/index.js';
import { findPlan, toPlanView, type PlanView } from '../store.js';
import { actorKey, type AppsDeps, type Caller } from './deps.js';

/**
 * The second pair of eyes (DE-4): another person than the author approves a pending plan. A model
 * (an agent principal) never approves: approving schema changes is a human decision (DA-5).
 */
export async function approvePlan(deps: AppsDeps, input: Caller & { planId: string; justification: unknown }): Promise<PlanView> {
  const justification = requireJustification(input.justification);
  if (input.actor.type === 'agent' || input.actor.type === 'anonymous') throw new RampartError('forbidden', { detail: 'plans are approved by a person, not by an agent' });
  return withTenant(deps.db, { tenantId: input.tenantId, actor: input.actor }, async (trx) => {
    const plan = await findPlan(trx, input.tenantId, input.planId, { forUpdate: true });
    if (!plan) throw new RampartError('not_found', { detail: 'no such plan' });
    if (plan.status !== 'pending') throw new RampartError('conflict', { detail: `the plan is ${plan.status}, not pending` });
    const approver = actorKey(input.actor);
    if (approver === plan.created_by) throw new RampartError('forbidden', { detail: 'the author of a plan cannot approve it; a second admin must' });
    const now = deps.clock.now();
    await trx.updateTable('app_plans').set({ status: 'approved', approved_by: approver, approved_at: now }).where('tenant_id', '=', input.tenantId).where('id', '=', plan.id).execute();
    await deps.audit.record(trx, {
      tenantId: input.tenantId,
      actor: input.actor,
      action: 'app.plan.approved',
      target: { type: 'app_plan', id: plan.id },
      diff: { status: { before: 'pending', after: 'approved' }, plan_hash: { after: plan.plan_hash }, author: { after: plan.created_by } },
      justification,
      ...(input.context ? { context: input.context } : {}),
    });
    return toPlanView({ ...plan, status: 'approved', approved_by: approver, approved_at: now });
  });
}
