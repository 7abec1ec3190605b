import { RampartError, uuidv7 } from '../../core/index.js';
import { actorId } from '../../db/index.js';
import { fromDb } from '../money/index.js';
import { billingTables, type BillingDeps, type OperationContext, type RefundRow, type Tx } from '../types.js';

/**
 * Full and partial refunds (BI-3, BI-5). Never more than was captured, in total, even under
 * concurrent requests: the payment row is locked for the whole operation, so a second refund
 * waits, then sees the first one's amount and is refused if the sum would exceed the capture.
 * The route requires step-up authentication and a justification; both are in the audit event.
 * The PSP call uses the refund id as its idempotency key, so a retry cannot refund twice.
 */

export async function refundPayment(tx: Tx, deps: BillingDeps, context: OperationContext, input: { paymentId: string; amount: bigint | null; justification: string }): Promise<RefundRow> {
  const trx = billingTables(tx);
  const payment = await trx.selectFrom('billing_payments').selectAll().where('id', '=', input.paymentId).forUpdate().executeTakeFirst();
  if (!payment) throw new RampartError('not_found', { detail: 'no such payment' });
  if (payment.status !== 'succeeded' || !payment.provider_payment_id) throw new RampartError('conflict', { detail: 'only a captured payment can be refunded', extensions: { reason: 'payment_not_captured' } });
  const captured = fromDb(payment.amount);
  const refunded = fromDb(payment.amount_refunded);
  const amount = input.amount ?? captured - refunded;
  if (amount <= 0n || refunded + amount > captured) {
    throw new RampartError('conflict', { detail: 'the refund would exceed the captured amount', extensions: { reason: 'refund_exceeds_capture', refundable: (captured - refunded).toString() } });
  }
  const now = deps.clock.now();
  const id = uuidv7(now.getTime());
  const result = await deps.psp.refund({ paymentId: payment.provider_payment_id, amount, idempotencyKey: `rampart:${context.tenantId}:refund:${id}`, metadata: { rampart_tenant: context.tenantId, rampart_payment: payment.id, rampart_refund: id } });
  if (result.status === 'failed') throw new RampartError('conflict', { detail: 'the payment provider refused the refund', extensions: { reason: 'psp_refused' } });
  await trx.updateTable('billing_payments').set({ amount_refunded: refunded + amount, updated_at: now }).where('id', '=', payment.id).execute();
  const refund = await trx
    .insertInto('billing_refunds')
    .values({ tenant_id: context.tenantId, id, payment_id: payment.id, amount, currency: payment.currency, status: result.status, provider_refund_id: result.id, justification: input.justification, requested_by: actorId(context.actor), created_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
  await deps.audit.record(tx, {
    tenantId: context.tenantId,
    actor: context.actor,
    action: 'billing.refund.created',
    target: { type: 'billing_payment', id: payment.id },
    diff: { amount_refunded: { before: refunded.toString(), after: (refunded + amount).toString() }, refund: { after: id } },
    justification: input.justification,
    ...(context.request ? { context: context.request } : {}),
  });
  return refund;
}
