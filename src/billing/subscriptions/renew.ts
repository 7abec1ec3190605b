import { priceAmount } from '../catalog/pricing.js';
import { collectInvoice, createDraftInvoice, finalizeInvoice, type LineSpec } from '../invoices/index.js';
import { fromDb } from '../money/index.js';
import { recordNotice, TRIAL_NOTICE_DAYS } from '../notices/notices.js';
import { getSettings, loadCustomer, loadPrice, priceModel, usageBetween } from '../store.js';
import { billingTables, type BillingDeps, type CouponRow, type OperationContext, type SubscriptionRow, type Tx } from '../types.js';
import { addInterval } from './periods.js';

/**
 * Renewals and dunning, run by the job queue (BI-5). Each step locks the subscription row and
 * re-checks that it is due, so a job that runs twice (a lease expired, two nodes) does nothing the
 * second time; the PSP call's idempotency key is derived from the period, so it cannot charge twice.
 *
 * Renewal at period end: scheduled cancellation -> canceled; a trial without a payment method ->
 * canceled (the trial does not convert); otherwise the next period is invoiced (licensed prices in
 * advance, metered usage of the ended period in arrears), finalized and collected.
 *
 * Dunning after a failed collection: retries at the tenant's schedule (days after the first
 * failure, default 1, 3, 5, 7), a customer notice at each step, then a grace period, then the
 * tenant's final action (suspend or cancel; the invoice becomes uncollectible). A payment at any
 * point (retry, webhook, manual) ends dunning. Every step is an audit event.
 */

const DAY = 86_400_000;

export type RenewalOutcome = 'not_due' | 'trial_will_end' | 'canceled' | 'trial_not_converted' | 'renewed' | 'past_due' | 'retry_succeeded' | 'retry_failed' | 'grace' | 'suspended';

const notice = async (...args: Parameters<typeof recordNotice>): Promise<void> => void (await recordNotice(...args));

async function step(tx: Tx, deps: BillingDeps, context: OperationContext, subscription: SubscriptionRow, action: string, diff: Record<string, { before?: unknown; after?: unknown }>): Promise<void> {
  await deps.audit.record(tx, { tenantId: context.tenantId, actor: context.actor, action, target: { type: 'billing_subscription', id: subscription.id }, diff });
}

function couponApplies(coupon: CouponRow | undefined, used: number, interval: 'month' | 'year'): boolean {
  if (!coupon || !coupon.active) return false;
  if (coupon.duration === 'forever') return true;
  if (coupon.duration === 'once') return used === 0;
  const periods = interval === 'year' ? Math.ceil((coupon.duration_months ?? 1) / 12) : (coupon.duration_months ?? 1);
  return used < periods;
}

export async function renewSubscription(tx: Tx, deps: BillingDeps, context: OperationContext, subscriptionId: string): Promise<RenewalOutcome> {
  const trx = billingTables(tx);
  const subscription = await trx.selectFrom('billing_subscriptions').selectAll().where('id', '=', subscriptionId).forUpdate().executeTakeFirst();
  const now = deps.clock.now();
  if (!subscription) return 'not_due';
  if (subscription.status === 'past_due') return retryDunning(tx, deps, context, subscription);
  if (subscription.status === 'trialing' && subscription.current_period_end > now) return remindTrialEnd(tx, deps, context, subscription);
  if (!['active', 'trialing'].includes(subscription.status) || subscription.current_period_end > now) return 'not_due';

  if (subscription.cancel_at_period_end) {
    await trx.updateTable('billing_subscriptions').set({ status: 'canceled', canceled_at: subscription.current_period_end, updated_at: now }).where('id', '=', subscription.id).execute();
    await step(tx, deps, context, subscription, 'billing.subscription.canceled', { status: { before: subscription.status, after: 'canceled' }, reason: { after: 'cancel_at_period_end' } });
    return 'canceled';
  }
  const customer = await loadCustomer(trx, subscription.customer_id);
  const wasTrial = subscription.status === 'trialing';
  if (wasTrial && !customer.payment_method) {
    await trx.updateTable('billing_subscriptions').set({ status: 'canceled', canceled_at: now, updated_at: now }).where('id', '=', subscription.id).execute();
    await notice(tx, deps, context, subscription, 'trial_ended_without_payment_method');
    await step(tx, deps, context, subscription, 'billing.subscription.trial_not_converted', { status: { before: 'trialing', after: 'canceled' } });
    return 'trial_not_converted';
  }

  const price = await loadPrice(trx, subscription.price_id);
  const start = subscription.current_period_end;
  const end = addInterval(start, price.billing_interval, wasTrial ? start.getUTCDate() : subscription.current_period_start.getUTCDate());
  const quantity = fromDb(subscription.quantity);
  const lines: LineSpec[] = [];
  if (price.type === 'metered') {
    const used = wasTrial ? 0n : await usageBetween(trx, subscription.id, subscription.current_period_start, subscription.current_period_end);
    lines.push({ description: `Usage ${subscription.current_period_start.toISOString().slice(0, 10)} to ${start.toISOString().slice(0, 10)}`, priceId: price.id, quantity: used, amount: priceAmount(priceModel(price), used), taxBehavior: price.tax_behavior, periodStart: subscription.current_period_start, periodEnd: start });
  } else {
    lines.push({ description: `Subscription, ${price.billing_interval}ly`, priceId: price.id, quantity, amount: priceAmount(priceModel(price), quantity), taxBehavior: price.tax_behavior, periodStart: start, periodEnd: end });
  }
  const coupon = subscription.coupon_id ? await trx.selectFrom('billing_coupons').selectAll().where('id', '=', subscription.coupon_id).executeTakeFirst() : undefined;
  const applyCoupon = couponApplies(coupon, subscription.coupon_periods_used, price.billing_interval);
  const draft = await createDraftInvoice(tx, deps, context, { customer, subscriptionId: subscription.id, kind: 'subscription', currency: subscription.currency, lines, coupon: applyCoupon ? coupon : null, periodStart: start, periodEnd: end });
  const invoice = await finalizeInvoice(tx, deps, context, draft.id);
  const payment = await collectInvoice(tx, deps, context, invoice, `renewal:${subscription.id}:${start.toISOString()}`);
  const paid = invoice.status === 'paid' || payment?.status === 'succeeded';
  const settings = await getSettings(trx, context.tenantId);
  const firstRetry = settings.dunning_retry_days[0] ?? 1;
  await trx
    .updateTable('billing_subscriptions')
    .set({
      current_period_start: start,
      current_period_end: end,
      coupon_periods_used: subscription.coupon_periods_used + (applyCoupon ? 1 : 0),
      ...(wasTrial ? { trial_end: subscription.trial_end } : {}),
      ...(paid ? { status: 'active' } : { status: 'past_due', dunning_attempt: 1, past_due_since: now, next_retry_at: new Date(now.getTime() + firstRetry * DAY) }),
      updated_at: now,
    })
    .where('id', '=', subscription.id)
    .execute();
  if (paid) {
    await step(tx, deps, context, subscription, wasTrial ? 'billing.subscription.trial_converted' : 'billing.subscription.renewed', { period_end: { before: start.toISOString(), after: end.toISOString() }, invoice: { after: invoice.id } });
    return 'renewed';
  }
  await notice(tx, deps, context, subscription, payment?.status === 'requires_action' ? 'payment_authentication_required' : 'payment_failed', { invoice: invoice.id, failure_code: payment?.failure_code ?? null });
  await step(tx, deps, context, subscription, 'billing.dunning.started', { status: { before: subscription.status, after: 'past_due' }, invoice: { after: invoice.id }, failure_code: { after: payment?.failure_code ?? null } });
  return 'past_due';
}

/**
 * The customer hears before a trial ends, once: the subscription row is locked (see above) and the
 * reminder is looked up before it is written, so a second run or a second node finds it.
 */
async function remindTrialEnd(tx: Tx, deps: BillingDeps, context: OperationContext, subscription: SubscriptionRow): Promise<RenewalOutcome> {
  const trx = billingTables(tx);
  const now = deps.clock.now();
  if (subscription.current_period_end.getTime() - now.getTime() > TRIAL_NOTICE_DAYS * DAY) return 'not_due';
  const sent = await trx.selectFrom('billing_notices').select('id').where('subscription_id', '=', subscription.id).where('kind', '=', 'trial_will_end').executeTakeFirst();
  if (sent) return 'not_due';
  const customer = await loadCustomer(trx, subscription.customer_id);
  await notice(tx, deps, context, subscription, 'trial_will_end', { trial_end: subscription.current_period_end.toISOString(), has_payment_method: Boolean(customer.payment_method) });
  await step(tx, deps, context, subscription, 'billing.subscription.trial_will_end', { trial_end: { after: subscription.current_period_end.toISOString() }, has_payment_method: { after: Boolean(customer.payment_method) } });
  return 'trial_will_end';
}

async function retryDunning(tx: Tx, deps: BillingDeps, context: OperationContext, subscription: SubscriptionRow): Promise<RenewalOutcome> {
  const trx = billingTables(tx);
  const now = deps.clock.now();
  if (!subscription.next_retry_at || subscription.next_retry_at > now || !subscription.past_due_since) return 'not_due';
  const settings = await getSettings(trx, context.tenantId);
  const schedule = settings.dunning_retry_days;
  const since = subscription.past_due_since;
  const invoice = await trx.selectFrom('billing_invoices').selectAll().where('subscription_id', '=', subscription.id).where('status', '=', 'open').orderBy('created_at', 'desc').executeTakeFirst();

  if (subscription.dunning_attempt > schedule.length || !invoice) {
    const final = settings.dunning_final_action === 'cancel' ? 'canceled' : 'suspended';
    await trx.updateTable('billing_subscriptions').set({ status: final, next_retry_at: null, ...(final === 'canceled' ? { canceled_at: now } : {}), updated_at: now }).where('id', '=', subscription.id).execute();
    if (invoice && final === 'canceled') await trx.updateTable('billing_invoices').set({ status: 'uncollectible', closed_at: now }).where('id', '=', invoice.id).execute();
    await notice(tx, deps, context, subscription, `subscription_${final}`, { invoice: invoice?.id ?? null });
    await step(tx, deps, context, subscription, `billing.dunning.${final}`, { status: { before: 'past_due', after: final }, attempts: { after: subscription.dunning_attempt } });
    return 'suspended';
  }
  const payment = await collectInvoice(tx, deps, context, invoice, `dunning:${invoice.id}:${subscription.dunning_attempt}`);
  if (payment?.status === 'succeeded') {
    // applyPaymentOutcome already reactivated the subscription and audited the recovery.
    await notice(tx, deps, context, subscription, 'payment_recovered', { invoice: invoice.id });
    return 'retry_succeeded';
  }
  const attempt = subscription.dunning_attempt + 1;
  const lastDay = schedule.at(-1) ?? 0;
  const inGrace = attempt > schedule.length;
  const nextRetry = new Date(since.getTime() + (inGrace ? lastDay + settings.dunning_grace_days : schedule[attempt - 1]!) * DAY);
  await trx.updateTable('billing_subscriptions').set({ dunning_attempt: attempt, next_retry_at: nextRetry, updated_at: now }).where('id', '=', subscription.id).execute();
  await notice(tx, deps, context, subscription, inGrace ? 'payment_failed_final_notice' : 'payment_retry_failed', { invoice: invoice.id, next_retry_at: nextRetry.toISOString() });
  await step(tx, deps, context, subscription, inGrace ? 'billing.dunning.grace' : 'billing.dunning.retry_failed', { attempt: { before: subscription.dunning_attempt, after: attempt }, next_retry_at: { after: nextRetry.toISOString() }, failure_code: { after: payment?.failure_code ?? null } });
  return inGrace ? 'grace' : 'retry_failed';
}

/** Subscriptions due for renewal or a dunning step, across tenants (system job). */
export async function dueSubscriptions(tx: Tx, now: Date, limit = 100, tenantId?: string): Promise<Array<{ tenant_id: string; id: string }>> {
  let query = billingTables(tx).selectFrom('billing_subscriptions').select(['tenant_id', 'id']);
  if (tenantId) query = query.where('tenant_id', '=', tenantId);
  return query
    .where((eb) =>
      eb.or([
        eb.and([eb('status', 'in', ['active', 'trialing']), eb('current_period_end', '<=', now)]),
        eb.and([eb('status', '=', 'past_due'), eb('next_retry_at', '<=', now)]),
        // Trials ending within TRIAL_NOTICE_DAYS whose customer has not been reminded yet.
        eb.and([
          eb('status', '=', 'trialing'),
          eb('current_period_end', '<=', new Date(now.getTime() + TRIAL_NOTICE_DAYS * DAY)),
          eb.not(eb.exists(eb.selectFrom('billing_notices').select('billing_notices.id').whereRef('billing_notices.subscription_id', '=', 'billing_subscriptions.id').where('billing_notices.kind', '=', 'trial_will_end'))),
        ]),
      ]),
    )
    .orderBy('current_period_end')
    .limit(limit)
    .execute();
}
