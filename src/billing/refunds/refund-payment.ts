import { RampartError, uuidv7 } from '../../core/index.js';
import { actorId } from '../../db/index.js';
import type { CreditApproval } from '../credits/approval.js';
import { fromDb, sum } from '../money/index.js';
import { getSettings } from '../store.js';
import { billingTables, type BillingDeps, type BillingTrx, type OperationContext, type PaymentRow, type RefundRow, type Tx } from '../types.js';

const refundThreshold = async (trx: BillingTrx, tenantId: string) => fromDb((await getSettings(trx, tenantId)).refund_approval_threshold);

/**
 * Full and partial refunds (BI-3, BI-5). Never more than was captured, in total, even under
 * concurrent requests: the payment row is locked for the whole operation, so a second refund
 * waits, then sees the first one's amount and is refused if the sum would exceed the capture.
 * Credit notes that moved value to the customer's balance count against it too: a credit note
 * plus a refund on one invoice never exceed what was paid. A refund above the tenant's
 * `refund_approval_threshold` is credit-like: it runs only with a second person's approval.
 * The PSP call uses the refund id as its idempotency key, so a retry cannot refund twice.
 */

/** What may still be refunded on a payment: its capture less refunds, and less balance credits on its invoice. */
export async function refundableOn(trx: BillingTrx, payment: PaymentRow): Promise<bigint> {
  if (payment.status !== 'succeeded' || !payment.provider_payment_id) throw new RampartError('conflict', { detail: 'only a captured payment can be refunded', extensions: { reason: 'payment_not_captured' } });
  const invoice = await trx.selectFrom('billing_invoices').selectAll().where('id', '=', payment.invoice_id).forUpdate().executeTakeFirstOrThrow();
  const refundedOnInvoice = sum((await trx.selectFrom('billing_payments').select('amount_refunded').where('invoice_id', '=', invoice.id).execute()).map((p) => fromDb(p.amount_refunded)));
  const invoiceRoom = fromDb(invoice.amount_paid) + fromDb(invoice.credit_applied) - refundedOnInvoice - fromDb(invoice.credited_to_balance);
  const paymentRoom = fromDb(payment.amount) - fromDb(payment.amount_refunded);
  return invoiceRoom < paymentRoom ? invoiceRoom : paymentRoom;
}

/** Refunds at once up to the threshold; above it, only with an approval (`null`: none). */
export async function refundPayment(tx: Tx, deps: BillingDeps, context: OperationContext, input: { paymentId: string; amount: bigint | null; justification: string }, approval: CreditApproval | null): Promise<RefundRow> {
  const trx = billingTables(tx);
  const payment = await trx.selectFrom('billing_payments').selectAll().where('id', '=', input.paymentId).forUpdate().executeTakeFirst();
  if (!payment) throw new RampartError('not_found', { detail: 'no such payment' });
  const refundable = await refundableOn(trx, payment);
  const refunded = fromDb(payment.amount_refunded);
  const amount = input.amount ?? refundable;
  if (amount <= 0n || amount > refundable) {
    throw new RampartError('conflict', { detail: 'the refund would exceed what was paid and not yet refunded or credited', extensions: { reason: 'refund_exceeds_capture', refundable: refundable.toString() } });
  }
  if (approval === null && amount > (await refundThreshold(trx, context.tenantId))) throw new RampartError('conflict', { detail: 'a refund above the approval threshold needs a second person: request it', extensions: { reason: 'approval_required' } });
  if (approval !== null && (approval.request.payment_id !== payment.id || fromDb(approval.request.amount) !== amount)) throw new RampartError('conflict', { detail: 'the approval is for another refund', extensions: { reason: 'approval_mismatch' } });
  const now = deps.clock.now();
  const id = uuidv7(now.getTime());
  const result = await deps.psp.refund({ paymentId: payment.provider_payment_id!, amount, idempotencyKey: `rampart:${context.tenantId}:refund:${id}`, metadata: { rampart_tenant: context.tenantId, rampart_payment: payment.id, rampart_refund: id } });
  if (result.status === 'failed') throw new RampartError('conflict', { detail: 'the payment provider refused the refund', extensions: { reason: 'psp_refused' } });
  await trx.updateTable('billing_payments').set({ amount_refunded: refunded + amount, updated_at: now }).where('id', '=', payment.id).execute();
  const refund = await trx
    .insertInto('billing_refunds')
    .values({ tenant_id: context.tenantId, id, payment_id: payment.id, amount, currency: payment.currency, status: result.status, provider_refund_id: result.id, justification: input.justification, requested_by: approval ? approval.request.requested_by : actorId(context.actor), created_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
  await deps.audit.record(tx, {
    tenantId: context.tenantId,
    actor: context.actor,
    action: 'billing.refund.created',
    target: { type: 'billing_payment', id: payment.id },
    diff: { amount_refunded: { before: refunded.toString(), after: (refunded + amount).toString() }, refund: { after: id }, ...(approval ? { request: { after: approval.request.id }, approved_by: { after: approval.approvedBy } } : {}) },
    justification: input.justification,
    ...(context.request ? { context: context.request } : {}),
  });
  return refund;
}
