import { RampartError, uuidv7 } from '../../core/index.js';
import { actorId } from '../../db/index.js';
import { fromDb } from '../money/index.js';
import { getSettings } from '../store.js';
import { mintApproval } from './approval.js';
import { applyApprovedCreditLike, prepareCreditLike, type CreditLikeInput } from './credit-like.js';
import { billingTables, type BillingDeps, type CreditRequestRow, type OperationContext, type Tx } from '../types.js';

/**
 * Every credit-like operation (BI-3: credit, write-off, credit note, void, refund above the
 * threshold; see credit-like.ts) needs two people: one requests (with a justification and a fresh
 * step-up), a second person holding the approve permission approves (step-up again), and only
 * then is it applied, exactly once. The requester can
 * never approve their own request: checked here and again by a CHECK constraint in the database.
 * Unapproved requests expire (tenant setting, default 72 h). Every step is audited.
 */

const forbiddenSelfApproval = () => new RampartError('forbidden', { detail: 'the requester cannot approve their own credit or write-off; a second person must', extensions: { reason: 'self_approval' } });

export async function requestCredit(tx: Tx, deps: BillingDeps, context: OperationContext, input: CreditLikeInput & { justification: string }): Promise<CreditRequestRow> {
  const trx = billingTables(tx);
  const { kind, customerId, invoiceId, paymentId, amount, currency } = await prepareCreditLike(tx, input);
  const settings = await getSettings(trx, context.tenantId);
  const now = deps.clock.now();
  const request = await trx
    .insertInto('billing_credit_requests')
    .values({
      tenant_id: context.tenantId,
      id: uuidv7(now.getTime()),
      kind,
      customer_id: customerId,
      invoice_id: invoiceId,
      payment_id: paymentId,
      amount,
      currency,
      justification: input.justification,
      status: 'pending',
      requested_by: actorId(context.actor),
      expires_at: new Date(now.getTime() + settings.credit_request_ttl_hours * 3_600_000),
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await deps.audit.record(tx, { tenantId: context.tenantId, actor: context.actor, action: `billing.${kind}.requested`, target: { type: 'billing_credit_request', id: request.id }, diff: { amount: { after: amount.toString() }, currency: { after: currency }, ...(invoiceId ? { invoice: { after: invoiceId } } : {}), ...(paymentId ? { payment: { after: paymentId } } : {}) }, justification: input.justification, ...(context.request ? { context: context.request } : {}) });
  return request;
}

export async function decideCredit(tx: Tx, deps: BillingDeps, context: OperationContext, input: { id: string; approve: boolean; justification: string }): Promise<CreditRequestRow> {
  const trx = billingTables(tx);
  const request = await trx.selectFrom('billing_credit_requests').selectAll().where('id', '=', input.id).forUpdate().executeTakeFirst();
  if (!request) throw new RampartError('not_found', { detail: 'no such credit request' });
  const decider = actorId(context.actor);
  if (request.requested_by === decider || (context.actor.type === 'agent' && request.requested_by === `user:${context.actor.onBehalfOf}`)) throw forbiddenSelfApproval();
  const now = deps.clock.now();
  if (request.status === 'pending' && request.expires_at <= now) {
    await expire(tx, deps, context, request);
    throw new RampartError('conflict', { detail: 'the request expired before it was approved', extensions: { reason: 'credit_request_expired' } });
  }
  if (request.status !== 'pending') throw new RampartError('conflict', { detail: `the request is ${request.status}`, extensions: { reason: 'credit_request_decided' } });
  // The row lock above serialises concurrent approvals: the second one sees `applied` and is refused.
  if (input.approve) await applyApprovedCreditLike(tx, deps, context, mintApproval(request, decider));
  const decided = await trx
    .updateTable('billing_credit_requests')
    .set({ status: input.approve ? 'applied' : 'rejected', decided_by: decider, decided_at: now })
    .where('id', '=', request.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await deps.audit.record(tx, {
    tenantId: context.tenantId,
    actor: context.actor,
    action: `billing.${request.kind}.${input.approve ? 'approved' : 'rejected'}`,
    target: { type: 'billing_credit_request', id: request.id },
    diff: { status: { before: 'pending', after: decided.status }, requested_by: { after: request.requested_by }, amount: { after: fromDb(request.amount).toString() } },
    justification: input.justification,
    ...(context.request ? { context: context.request } : {}),
  });
  return decided;
}

async function expire(tx: Tx, deps: BillingDeps, context: OperationContext, request: CreditRequestRow): Promise<void> {
  await billingTables(tx).updateTable('billing_credit_requests').set({ status: 'expired' }).where('id', '=', request.id).execute();
  await deps.audit.record(tx, { tenantId: context.tenantId, actor: context.actor, action: `billing.${request.kind}.expired`, target: { type: 'billing_credit_request', id: request.id }, diff: { status: { before: 'pending', after: 'expired' } } });
}

/** Expires pending requests past their deadline (maintenance job, per tenant). */
export async function expireCreditRequests(tx: Tx, deps: BillingDeps, context: OperationContext): Promise<number> {
  const due = await billingTables(tx).selectFrom('billing_credit_requests').selectAll().where('status', '=', 'pending').where('expires_at', '<=', deps.clock.now()).forUpdate().execute();
  for (const request of due) await expire(tx, deps, context, request);
  return due.length;
}
