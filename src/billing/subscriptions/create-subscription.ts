import { RampartError, uuidv7 } from '../../core/index.js';
import { priceAmount } from '../catalog/pricing.js';
import { collectInvoice, createDraftInvoice, finalizeInvoice } from '../invoices/index.js';
import { fromDb } from '../money/index.js';
import { getSettings, loadCustomer, loadPrice, priceModel } from '../store.js';
import { billingTables, type BillingDeps, type CouponRow, type InvoiceRow, type OperationContext, type PaymentRow, type SubscriptionRow, type Tx } from '../types.js';
import { addInterval } from './periods.js';

/**
 * Checkout: a subscription to one price (BI-3, BI-5). Every amount is computed here from the
 * catalog; a client may send the amount it showed the buyer (`expectedAmount`), and if that
 * disagrees with the server's the request is refused, never "corrected".
 *
 * - With a trial: no invoice now; at trial end the renewal job converts it (a payment method is
 *   on file) or cancels it (none), like Stripe's `missing_payment_method: cancel`.
 * - Without: the first period is invoiced in advance, finalized and collected now. A declined or
 *   3-D Secure payment leaves the subscription `incomplete` with an open invoice; the webhook or a
 *   later payment activates it.
 */

export type CreateSubscriptionInput = { customerId: string; priceId: string; quantity: bigint; trialDays?: number; couponCode?: string | null; expectedAmount?: bigint | null };

export async function findCoupon(tx: Tx, code: string | null | undefined): Promise<CouponRow | null> {
  if (!code) return null;
  const coupon = await billingTables(tx).selectFrom('billing_coupons').selectAll().where('code', '=', code).where('active', '=', true).executeTakeFirst();
  if (!coupon) throw new RampartError('validation_failed', { detail: 'no active coupon with that code', issues: [{ pointer: '/coupon', message: 'unknown or inactive coupon' }] });
  return coupon;
}

export async function createSubscription(tx: Tx, deps: BillingDeps, context: OperationContext, input: CreateSubscriptionInput): Promise<{ subscription: SubscriptionRow; invoice: InvoiceRow | null; payment: PaymentRow | null }> {
  const trx = billingTables(tx);
  const customer = await loadCustomer(trx, input.customerId);
  const price = await loadPrice(trx, input.priceId);
  if (!price.active) throw new RampartError('conflict', { detail: 'the price is archived', extensions: { reason: 'price_inactive' } });
  const coupon = await findCoupon(tx, input.couponCode);
  const settings = await getSettings(trx, context.tenantId);
  if (coupon?.percent_off_bp && coupon.percent_off_bp > settings.max_discount_percent_bp) {
    throw new RampartError('validation_failed', { detail: 'the coupon is above the tenant discount cap', issues: [{ pointer: '/coupon', message: 'above the discount cap' }], extensions: { reason: 'discount_cap' } });
  }
  const now = deps.clock.now();
  const trialDays = input.trialDays ?? 0;
  const periodEnd = trialDays > 0 ? new Date(now.getTime() + trialDays * 86_400_000) : addInterval(now, price.billing_interval);
  const subscription = await trx
    .insertInto('billing_subscriptions')
    .values({
      tenant_id: context.tenantId,
      id: uuidv7(now.getTime()),
      customer_id: customer.id,
      price_id: price.id,
      quantity: input.quantity,
      status: trialDays > 0 ? 'trialing' : 'incomplete',
      currency: price.currency,
      current_period_start: now,
      current_period_end: periodEnd,
      trial_end: trialDays > 0 ? periodEnd : null,
      cancel_at_period_end: false,
      coupon_id: coupon?.id ?? null,
      coupon_periods_used: 0,
      dunning_attempt: 0,
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await deps.audit.record(tx, {
    tenantId: context.tenantId,
    actor: context.actor,
    action: 'billing.subscription.created',
    target: { type: 'billing_subscription', id: subscription.id },
    diff: { price: { after: price.id }, quantity: { after: input.quantity.toString() }, trial_days: { after: trialDays } },
    ...(context.request ? { context: context.request } : {}),
  });

  if (trialDays > 0) {
    if (input.expectedAmount !== undefined && input.expectedAmount !== null && input.expectedAmount !== 0n) throw amountMismatch(0n);
    return { subscription, invoice: null, payment: null };
  }
  // Metered prices bill usage in arrears: nothing is due up front.
  const amount = price.type === 'metered' ? 0n : priceAmount(priceModel(price), input.quantity);
  const draft = await createDraftInvoice(tx, deps, context, {
    customer,
    subscriptionId: subscription.id,
    kind: 'subscription',
    currency: price.currency,
    lines: [{ description: `Subscription, ${price.billing_interval}ly`, priceId: price.id, quantity: input.quantity, amount, taxBehavior: price.tax_behavior, periodStart: now, periodEnd }],
    coupon,
    periodStart: now,
    periodEnd,
  });
  if (input.expectedAmount !== undefined && input.expectedAmount !== null && input.expectedAmount !== fromDb(draft.total)) throw amountMismatch(fromDb(draft.total));
  const invoice = await finalizeInvoice(tx, deps, context, draft.id);
  if (coupon) await trx.updateTable('billing_subscriptions').set({ coupon_periods_used: 1 }).where('id', '=', subscription.id).execute();
  const payment = await collectInvoice(tx, deps, context, invoice, `checkout:${subscription.id}`);
  const paid = invoice.status === 'paid' || payment?.status === 'succeeded';
  const current = await trx
    .updateTable('billing_subscriptions')
    .set({ status: paid ? 'active' : 'incomplete', updated_at: now })
    .where('id', '=', subscription.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  const latest = await trx.selectFrom('billing_invoices').selectAll().where('id', '=', invoice.id).executeTakeFirstOrThrow();
  return { subscription: current, invoice: latest, payment };
}

export const amountMismatch = (computed: bigint) =>
  new RampartError('conflict', {
    detail: 'the amount sent does not match the amount computed from the catalog; amounts are never taken from the client',
    extensions: { reason: 'amount_mismatch', computed_amount: computed.toString() },
  });
