import { RampartError } from '../../core/index.js';
import { priceAmount } from '../catalog/pricing.js';
import { collectInvoice, createDraftInvoice, finalizeInvoice, subscriptionOwes, type LineSpec } from '../invoices/index.js';
import { fromDb } from '../money/index.js';
import { getSettings, loadCustomer, loadPrice, loadSubscription, priceModel } from '../store.js';
import { computeDocument, decideVat } from '../tax/index.js';
import { billingTables, type BillingDeps, type InvoiceRow, type OperationContext, type PaymentRow, type PriceRow, type SubscriptionRow, type Tx } from '../types.js';
import { addInterval, prorate } from './periods.js';

/**
 * Upgrades, downgrades and quantity changes with proration by the second (formula in periods.ts),
 * a side-effect-free preview of the same computation, cancellation (at period end, or now with a
 * credit for the unused time) and pause/resume. Proration invoices are finalized at once: a net
 * charge is collected, a net credit goes to the customer's balance for the next invoice.
 */

export type ChangeInput = { priceId?: string; quantity?: bigint; expectedAmount?: bigint | null };

const periodAmount = (price: PriceRow, quantity: bigint) => (price.type === 'metered' ? 0n : priceAmount(priceModel(price), quantity));

async function prorationLines(tx: Tx, deps: BillingDeps, subscription: SubscriptionRow, input: ChangeInput): Promise<{ lines: LineSpec[]; newPrice: PriceRow; quantity: bigint }> {
  const trx = billingTables(tx);
  const oldPrice = await loadPrice(trx, subscription.price_id);
  const newPrice = input.priceId ? await loadPrice(trx, input.priceId) : oldPrice;
  if (!newPrice.active) throw new RampartError('conflict', { detail: 'the price is archived', extensions: { reason: 'price_inactive' } });
  if (newPrice.currency !== oldPrice.currency || newPrice.billing_interval !== oldPrice.billing_interval) {
    throw new RampartError('conflict', { detail: 'a change keeps the currency and interval; cancel and subscribe anew to change them', extensions: { reason: 'incompatible_price' } });
  }
  const quantity = input.quantity ?? fromDb(subscription.quantity);
  const oldQuantity = fromDb(subscription.quantity);
  if (subscription.status === 'trialing') return { lines: [], newPrice, quantity };
  const at = deps.clock.now();
  const p = prorate({ periodStart: subscription.current_period_start, periodEnd: subscription.current_period_end, at, oldAmount: periodAmount(oldPrice, oldQuantity), newAmount: periodAmount(newPrice, quantity) });
  const window = { periodStart: at, periodEnd: subscription.current_period_end, proration: true, discountable: false };
  return {
    newPrice,
    quantity,
    lines: [
      { description: `Unused time on the previous plan (${p.remainingSeconds}/${p.periodSeconds} s)`, priceId: oldPrice.id, quantity: oldQuantity, amount: p.credit, taxBehavior: oldPrice.tax_behavior, ...window },
      { description: `Remaining time on the new plan (${p.remainingSeconds}/${p.periodSeconds} s)`, priceId: newPrice.id, quantity, amount: p.charge, taxBehavior: newPrice.tax_behavior, ...window },
    ],
  };
}

function assertChangeable(subscription: SubscriptionRow): void {
  if (!['active', 'trialing', 'past_due'].includes(subscription.status)) throw new RampartError('conflict', { detail: `a ${subscription.status} subscription cannot change`, extensions: { reason: 'subscription_state' } });
}

/** What the change would invoice, computed exactly as `changeSubscription` will, without writing anything. */
export async function previewChange(tx: Tx, deps: BillingDeps, context: OperationContext, subscriptionId: string, input: ChangeInput) {
  const trx = billingTables(tx);
  const subscription = await loadSubscription(trx, subscriptionId);
  assertChangeable(subscription);
  const { lines } = await prorationLines(tx, deps, subscription, input);
  const customer = await loadCustomer(trx, subscription.customer_id);
  const settings = await getSettings(trx, context.tenantId);
  const vat = decideVat({ seller: { country: settings.seller_country, vatId: settings.seller_vat_id }, buyer: { country: customer.country, vatId: customer.tax_id_valid ? customer.tax_id : null, isBusiness: customer.is_business, exempt: customer.tax_exempt }, date: deps.clock.now(), nonEuRates: settings.non_eu_rates, ossDestination: settings.oss_destination });
  const document = computeDocument({ lines: lines.map((l) => ({ amount: l.amount, taxBehavior: l.taxBehavior, category: vat.category, rate: vat.rate, discountable: false })), perLineRounding: settings.per_line_rounding });
  return {
    currency: subscription.currency,
    proration_date: deps.clock.now(),
    lines: lines.map((l, i) => ({ description: l.description, amount: l.amount.toString(), tax: document.lines[i]!.tax.toString(), gross: document.lines[i]!.gross.toString() })),
    subtotal: document.subtotal.toString(),
    tax_total: document.taxTotal.toString(),
    total: document.total.toString(),
  };
}

export async function changeSubscription(tx: Tx, deps: BillingDeps, context: OperationContext, subscriptionId: string, input: ChangeInput): Promise<{ subscription: SubscriptionRow; invoice: InvoiceRow | null; payment: PaymentRow | null }> {
  const trx = billingTables(tx);
  const subscription = await loadSubscription(trx, subscriptionId, { lock: true });
  assertChangeable(subscription);
  const { lines, newPrice, quantity } = await prorationLines(tx, deps, subscription, input);
  const now = deps.clock.now();
  const updated = await trx.updateTable('billing_subscriptions').set({ price_id: newPrice.id, quantity, updated_at: now }).where('id', '=', subscription.id).returningAll().executeTakeFirstOrThrow();
  await deps.audit.record(tx, {
    tenantId: context.tenantId,
    actor: context.actor,
    action: 'billing.subscription.changed',
    target: { type: 'billing_subscription', id: subscription.id },
    diff: { price: { before: subscription.price_id, after: newPrice.id }, quantity: { before: fromDb(subscription.quantity).toString(), after: quantity.toString() } },
    ...(context.request ? { context: context.request } : {}),
  });
  if (lines.length === 0) return { subscription: updated, invoice: null, payment: null };
  const customer = await loadCustomer(trx, subscription.customer_id);
  const draft = await createDraftInvoice(tx, deps, context, { customer, subscriptionId: subscription.id, kind: 'proration', currency: subscription.currency, lines, periodStart: now, periodEnd: subscription.current_period_end });
  if (input.expectedAmount !== undefined && input.expectedAmount !== null && input.expectedAmount !== fromDb(draft.total)) {
    throw new RampartError('conflict', { detail: 'the amount sent does not match the computed proration', extensions: { reason: 'amount_mismatch', computed_amount: fromDb(draft.total).toString() } });
  }
  const invoice = await finalizeInvoice(tx, deps, context, draft.id);
  const payment = await collectInvoice(tx, deps, context, invoice, `proration:${invoice.id}`);
  return { subscription: updated, invoice: await trx.selectFrom('billing_invoices').selectAll().where('id', '=', invoice.id).executeTakeFirstOrThrow(), payment };
}

/** Credits the unused rest of the current period to the customer's balance (cancel now, pause). */
async function creditUnusedTime(tx: Tx, deps: BillingDeps, context: OperationContext, subscription: SubscriptionRow, label: string): Promise<InvoiceRow | null> {
  if (subscription.status === 'trialing') return null;
  const trx = billingTables(tx);
  if (await subscriptionOwes(trx, subscription.id)) return null;
  const price = await loadPrice(trx, subscription.price_id);
  const now = deps.clock.now();
  const p = prorate({ periodStart: subscription.current_period_start, periodEnd: subscription.current_period_end, at: now, oldAmount: periodAmount(price, fromDb(subscription.quantity)), newAmount: 0n });
  if (p.credit === 0n) return null;
  const customer = await loadCustomer(trx, subscription.customer_id);
  const draft = await createDraftInvoice(tx, deps, context, {
    customer,
    subscriptionId: subscription.id,
    kind: 'proration',
    currency: subscription.currency,
    lines: [{ description: `${label}: unused time (${p.remainingSeconds}/${p.periodSeconds} s)`, priceId: price.id, quantity: fromDb(subscription.quantity), amount: p.credit, taxBehavior: price.tax_behavior, proration: true, periodStart: now, periodEnd: subscription.current_period_end }],
    periodStart: now,
    periodEnd: subscription.current_period_end,
  });
  return finalizeInvoice(tx, deps, context, draft.id);
}

export async function cancelSubscription(tx: Tx, deps: BillingDeps, context: OperationContext, subscriptionId: string, input: { atPeriodEnd: boolean }): Promise<{ subscription: SubscriptionRow; credit: InvoiceRow | null }> {
  const trx = billingTables(tx);
  const subscription = await loadSubscription(trx, subscriptionId, { lock: true });
  if (subscription.status === 'canceled') throw new RampartError('conflict', { detail: 'the subscription is already canceled', extensions: { reason: 'subscription_state' } });
  const now = deps.clock.now();
  let credit: InvoiceRow | null = null;
  let changes: Partial<Pick<SubscriptionRow, 'status' | 'cancel_at_period_end' | 'canceled_at'>>;
  if (input.atPeriodEnd) changes = { cancel_at_period_end: true };
  else {
    if (subscription.status === 'active' || subscription.status === 'past_due') credit = await creditUnusedTime(tx, deps, context, subscription, 'Canceled');
    changes = { status: 'canceled', canceled_at: now, cancel_at_period_end: false };
  }
  const updated = await trx.updateTable('billing_subscriptions').set({ ...changes, next_retry_at: null, updated_at: now }).where('id', '=', subscription.id).returningAll().executeTakeFirstOrThrow();
  await deps.audit.record(tx, {
    tenantId: context.tenantId,
    actor: context.actor,
    action: input.atPeriodEnd ? 'billing.subscription.cancel_scheduled' : 'billing.subscription.canceled',
    target: { type: 'billing_subscription', id: subscription.id },
    diff: { status: { before: subscription.status, after: updated.status }, credit: { after: credit ? fromDb(credit.total).toString() : '0' } },
    ...(context.request ? { context: context.request } : {}),
  });
  return { subscription: updated, credit };
}

/** Pause: unused time is credited and nothing is billed while paused. Resume starts a fresh period, invoiced now. */
export async function pauseSubscription(tx: Tx, deps: BillingDeps, context: OperationContext, subscriptionId: string): Promise<SubscriptionRow> {
  const trx = billingTables(tx);
  const subscription = await loadSubscription(trx, subscriptionId, { lock: true });
  if (subscription.status !== 'active') throw new RampartError('conflict', { detail: 'only an active subscription can be paused', extensions: { reason: 'subscription_state' } });
  await creditUnusedTime(tx, deps, context, subscription, 'Paused');
  const now = deps.clock.now();
  const updated = await trx.updateTable('billing_subscriptions').set({ status: 'paused', paused_at: now, updated_at: now }).where('id', '=', subscription.id).returningAll().executeTakeFirstOrThrow();
  await deps.audit.record(tx, { tenantId: context.tenantId, actor: context.actor, action: 'billing.subscription.paused', target: { type: 'billing_subscription', id: subscription.id }, diff: { status: { before: 'active', after: 'paused' } }, ...(context.request ? { context: context.request } : {}) });
  return updated;
}

export async function resumeSubscription(tx: Tx, deps: BillingDeps, context: OperationContext, subscriptionId: string): Promise<{ subscription: SubscriptionRow; invoice: InvoiceRow | null; payment: PaymentRow | null }> {
  const trx = billingTables(tx);
  const subscription = await loadSubscription(trx, subscriptionId, { lock: true });
  if (subscription.status !== 'paused') throw new RampartError('conflict', { detail: 'the subscription is not paused', extensions: { reason: 'subscription_state' } });
  const price = await loadPrice(trx, subscription.price_id);
  const now = deps.clock.now();
  const end = addInterval(now, price.billing_interval);
  const customer = await loadCustomer(trx, subscription.customer_id);
  const draft = await createDraftInvoice(tx, deps, context, {
    customer,
    subscriptionId: subscription.id,
    kind: 'subscription',
    currency: subscription.currency,
    lines: [{ description: `Subscription, ${price.billing_interval}ly (resumed)`, priceId: price.id, quantity: fromDb(subscription.quantity), amount: periodAmount(price, fromDb(subscription.quantity)), taxBehavior: price.tax_behavior, periodStart: now, periodEnd: end }],
    periodStart: now,
    periodEnd: end,
  });
  const invoice = await finalizeInvoice(tx, deps, context, draft.id);
  const payment = await collectInvoice(tx, deps, context, invoice, `resume:${invoice.id}`);
  const paid = invoice.status === 'paid' || payment?.status === 'succeeded';
  const updated = await trx
    .updateTable('billing_subscriptions')
    .set({ status: paid ? 'active' : 'incomplete', paused_at: null, current_period_start: now, current_period_end: end, updated_at: now })
    .where('id', '=', subscription.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await deps.audit.record(tx, { tenantId: context.tenantId, actor: context.actor, action: 'billing.subscription.resumed', target: { type: 'billing_subscription', id: subscription.id }, diff: { status: { before: 'paused', after: updated.status } }, ...(context.request ? { context: context.request } : {}) });
  return { subscription: updated, invoice, payment };
}
