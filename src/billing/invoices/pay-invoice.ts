import { RampartError, uuidv7 } from '../../core/index.js';
import { outstanding } from './outstanding.js';
import { fromDb } from '../money/index.js';
import { billingTables, type BillingDeps, type InvoiceRow, type OperationContext, type PaymentRow, type PaymentStatus, type Tx } from '../types.js';

/**
 * Collects an open invoice through the PSP (BI-1, BI-3). The amount is the invoice's remaining
 * amount due, computed here; the customer's stored token is the only payment data used. The PSP
 * call carries an idempotency key derived from the attempt, so a retried job or request cannot
 * charge twice. The outcome is applied by `applyPaymentOutcome`, the same function the webhook
 * intake uses, so the synchronous answer and the later webhook converge on one state.
 */

export async function collectInvoice(tx: Tx, deps: BillingDeps, context: OperationContext, invoice: InvoiceRow, attemptKey: string): Promise<PaymentRow | null> {
  const trx = billingTables(tx);
  const remaining = outstanding(invoice);
  if (invoice.status !== 'open' || remaining <= 0n) return null;
  const customer = await trx.selectFrom('billing_customers').selectAll().where('id', '=', invoice.customer_id).executeTakeFirstOrThrow();
  const now = deps.clock.now();
  const paymentId = uuidv7(now.getTime());
  const base = { tenant_id: context.tenantId, id: paymentId, invoice_id: invoice.id, customer_id: invoice.customer_id, provider: deps.psp.name, amount: remaining, currency: invoice.currency, created_at: now, updated_at: now };
  if (!customer.payment_method) {
    const payment = await trx.insertInto('billing_payments').values({ ...base, status: 'failed', failure_code: 'no_payment_method', provider_payment_id: null }).returningAll().executeTakeFirstOrThrow();
    await auditPayment(tx, deps, context, payment);
    return payment;
  }
  const result = await deps.psp.charge({
    amount: remaining,
    currency: invoice.currency,
    paymentMethod: customer.payment_method,
    idempotencyKey: `rampart:${context.tenantId}:${attemptKey}`,
    metadata: { rampart_tenant: context.tenantId, rampart_invoice: invoice.id, rampart_payment: paymentId },
    description: `Invoice ${invoice.series}-${invoice.number ?? 'draft'}`,
  });
  // A replayed idempotent call returns the first attempt's intent, which may already be recorded.
  const known = await trx.selectFrom('billing_payments').selectAll().where('provider', '=', deps.psp.name).where('provider_payment_id', '=', result.id).executeTakeFirst();
  if (known) return known;
  const payment = await trx
    .insertInto('billing_payments')
    .values({ ...base, status: 'pending', provider_payment_id: result.id, next_action_url: result.nextActionUrl ?? null })
    .returningAll()
    .executeTakeFirstOrThrow();
  return applyPaymentOutcome(tx, deps, context, payment, { status: result.status, failureCode: result.failureCode ?? null, at: now });
}

const RANK: Record<PaymentStatus, number> = { pending: 0, requires_action: 1, failed: 2, succeeded: 3 };

/**
 * Moves a payment forward, never back: a success is final, so a late `payment_failed` webhook
 * (out of order) after a success changes nothing; a failure may still be followed by success
 * (3-D Secure completed, a retry). Marks the invoice paid and ends dunning on success.
 */
export async function applyPaymentOutcome(
  tx: Tx,
  deps: BillingDeps,
  context: OperationContext,
  payment: PaymentRow,
  outcome: { status: PaymentStatus; failureCode: string | null; at: Date },
): Promise<PaymentRow> {
  const trx = billingTables(tx);
  if (payment.status === 'succeeded' || (payment.status === outcome.status && outcome.status !== 'pending')) return payment;
  if (RANK[outcome.status] < RANK[payment.status] && outcome.status !== 'succeeded') return payment;
  const now = deps.clock.now();
  const updated = await trx
    .updateTable('billing_payments')
    .set({ status: outcome.status, failure_code: outcome.status === 'failed' ? (outcome.failureCode ?? 'failed') : null, last_event_at: outcome.at, updated_at: now })
    .where('id', '=', payment.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await auditPayment(tx, deps, context, updated);
  if (outcome.status !== 'succeeded') return updated;
  const invoice = await trx.selectFrom('billing_invoices').selectAll().where('id', '=', payment.invoice_id).forUpdate().executeTakeFirstOrThrow();
  if (invoice.status === 'open' || invoice.status === 'uncollectible') {
    const paid = fromDb(invoice.amount_paid) + fromDb(payment.amount);
    const due = fromDb(invoice.amount_due) - fromDb(invoice.amount_credited);
    const settled = paid >= due;
    await trx
      .updateTable('billing_invoices')
      .set({ amount_paid: settled ? due : paid, ...(settled ? { status: 'paid', paid_at: now } : {}) })
      .where('id', '=', invoice.id)
      .execute();
    if (settled && invoice.subscription_id) {
      const subscription = await trx.selectFrom('billing_subscriptions').selectAll().where('id', '=', invoice.subscription_id).forUpdate().executeTakeFirst();
      if (subscription && ['past_due', 'incomplete', 'suspended'].includes(subscription.status)) {
        await trx
          .updateTable('billing_subscriptions')
          .set({ status: 'active', dunning_attempt: 0, next_retry_at: null, past_due_since: null, updated_at: now })
          .where('id', '=', subscription.id)
          .execute();
        await deps.audit.record(tx, {
          tenantId: context.tenantId,
          actor: context.actor,
          action: 'billing.subscription.recovered',
          target: { type: 'billing_subscription', id: subscription.id },
          diff: { status: { before: subscription.status, after: 'active' } },
        });
      }
    }
  }
  return updated;
}

async function auditPayment(tx: Tx, deps: BillingDeps, context: OperationContext, payment: PaymentRow): Promise<void> {
  await deps.audit.record(tx, {
    tenantId: context.tenantId,
    actor: context.actor,
    action: `billing.payment.${payment.status}`,
    target: { type: 'billing_payment', id: payment.id },
    diff: { amount: { after: fromDb(payment.amount).toString() }, currency: { after: payment.currency }, ...(payment.failure_code ? { failure_code: { after: payment.failure_code } } : {}) },
    ...(context.request ? { context: context.request } : {}),
  });
}

export function assertOpen(invoice: InvoiceRow): void {
  if (invoice.status !== 'open') throw new RampartError('conflict', { detail: `the invoice is ${invoice.status}`, extensions: { reason: 'invoice_not_open' } });
}
