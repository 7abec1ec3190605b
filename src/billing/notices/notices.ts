import { isUuid, uuidv7 } from '../../core/index.js';
import { withTenant } from '../../db/index.js';
import { formatAmount, fromDb } from '../money/index.js';
import { getSettings } from '../store.js';
import { billingTables, SYSTEM_ACTOR, type BillingDeps, type NoticeRow, type OperationContext, type SubscriptionRow, type Tx } from '../types.js';

/**
 * Customer notices for trials and dunning (BI-5), delivered by e-mail through the mailer the
 * composition root hands in (identity's: SMTP, or the development outbox at /dev/outbox).
 *
 * Exactly one e-mail per event: the notice row and its delivery job (`billing.notice`) are
 * written in the same transaction as the step that caused them (transactional outbox). The step
 * itself runs once (the renewal locks the subscription and re-checks it is due), a rolled-back
 * step leaves neither notice nor job, and the job queue gives each job to one worker. A send that
 * fails throws, so the job retries with backoff; the relay having accepted a message whose job then
 * could not be settled (the node died in between) is the one case that can mail twice.
 * The message names the subscription and amounts, never card data or links with secrets.
 */

export const NOTICE_JOB = 'billing.notice';
/** Like Stripe's `customer.subscription.trial_will_end`: three days before a trial ends. */
export const TRIAL_NOTICE_DAYS = 3;

export async function recordNotice(tx: Tx, deps: BillingDeps, context: OperationContext, subscription: SubscriptionRow, kind: string, detail: Record<string, unknown> = {}): Promise<NoticeRow> {
  const now = deps.clock.now();
  const notice = await billingTables(tx)
    .insertInto('billing_notices')
    .values({ tenant_id: context.tenantId, id: uuidv7(now.getTime()), customer_id: subscription.customer_id, subscription_id: subscription.id, kind, detail: JSON.stringify(detail), created_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
  if (deps.jobs) await deps.jobs.enqueue({ kind: NOTICE_JOB, tenantId: context.tenantId, payload: { tenant_id: context.tenantId, notice_id: notice.id }, maxAttempts: 8 }, tx);
  return notice;
}

type Wording = { subject: string; body: string };

function wording(kind: string, detail: Record<string, unknown>, amount: string | null): Wording {
  const due = amount ? ` of ${amount}` : '';
  const when = (key: string) => (typeof detail[key] === 'string' ? new Date(detail[key]).toUTCString() : 'soon');
  switch (kind) {
    case 'trial_will_end':
      return detail.has_payment_method
        ? { subject: 'Your trial ends soon', body: `Your free trial ends on ${when('trial_end')}. Your subscription then continues and the payment method on file will be charged.` }
        : { subject: 'Your trial ends soon: add a payment method', body: `Your free trial ends on ${when('trial_end')}. Add a payment method before then to keep your subscription; without one it ends with the trial.` };
    case 'trial_ended_without_payment_method':
      return { subject: 'Your trial has ended', body: 'Your free trial has ended without a payment method on file, so the subscription was canceled. You can subscribe again at any time.' };
    case 'payment_failed':
      return { subject: 'Payment failed', body: `We could not collect the payment${due} for your subscription. We will retry automatically; please check your payment method.` };
    case 'payment_authentication_required':
      return { subject: 'Payment needs your confirmation', body: `Your bank asks you to confirm the payment${due} for your subscription. Please complete the confirmation; we will retry automatically.` };
    case 'payment_retry_failed':
      return { subject: 'Payment retry failed', body: `Retrying the payment${due} failed. The next attempt is on ${when('next_retry_at')}; please update your payment method.` };
    case 'payment_failed_final_notice':
      return { subject: 'Final notice: payment overdue', body: `The payment${due} is still outstanding after every retry. Unless it is paid by ${when('next_retry_at')}, your subscription will be suspended or canceled.` };
    case 'subscription_suspended':
      return { subject: 'Subscription suspended', body: `Your subscription was suspended because the payment${due} could not be collected. Paying the open invoice reactivates it.` };
    case 'subscription_canceled':
      return { subject: 'Subscription canceled', body: `Your subscription was canceled because the payment${due} could not be collected.` };
    case 'payment_recovered':
      return { subject: 'Payment received', body: `Thank you: the payment${due} was collected and your subscription is active again.` };
    default:
      return { subject: 'Update on your subscription', body: `There is an update on your subscription (${kind}).` };
  }
}

/** The e-mail for one notice, or why there is none. */
export async function noticeMessage(tx: Tx, tenantId: string, noticeId: string): Promise<{ to: string; subject: string; text: string } | { skipped: string }> {
  const trx = billingTables(tx);
  const notice = await trx.selectFrom('billing_notices').selectAll().where('id', '=', noticeId).executeTakeFirst();
  if (!notice) return { skipped: 'no such notice' };
  const customer = await trx.selectFrom('billing_customers').select(['name', 'email']).where('id', '=', notice.customer_id).executeTakeFirstOrThrow();
  if (!customer.email) return { skipped: 'the customer has no e-mail address' };
  const settings = await getSettings(trx, tenantId);
  const detail = (notice.detail ?? {}) as Record<string, unknown>;
  const invoiceId = typeof detail.invoice === 'string' && isUuid(detail.invoice) ? detail.invoice : null;
  const invoice = invoiceId ? await trx.selectFrom('billing_invoices').select(['series', 'number', 'amount_due', 'currency']).where('id', '=', invoiceId).executeTakeFirst() : undefined;
  const amount = invoice ? `${formatAmount(fromDb(invoice.amount_due), invoice.currency)} ${invoice.currency}` : null;
  const { subject, body } = wording(notice.kind, detail, amount);
  const seller = settings.seller_name || 'Billing';
  const reference = [notice.subscription_id ? `Subscription: ${notice.subscription_id}` : null, invoice && invoice.number !== null ? `Invoice: ${invoice.series}-${invoice.number}` : null].filter(Boolean).join('\n');
  return { to: customer.email, subject: `${seller}: ${subject}`, text: `Hello ${customer.name},\n\n${body}\n\n${reference}\n\n${seller}\n` };
}

/** The `billing.notice` job: one notice, one e-mail. */
export async function deliverNotice(deps: BillingDeps, payload: unknown): Promise<'sent' | string> {
  const { tenant_id: tenantId, notice_id: noticeId } = (payload ?? {}) as { tenant_id?: unknown; notice_id?: unknown };
  if (typeof noticeId !== 'string' || !isUuid(noticeId) || typeof tenantId !== 'string' || !isUuid(tenantId)) return 'malformed job payload';
  const message = await withTenant(deps.db, { tenantId, actor: SYSTEM_ACTOR }, (tx) => noticeMessage(tx, tenantId, noticeId), { readOnly: true });
  if ('skipped' in message) return message.skipped;
  if (!deps.mailer || deps.mailer.kind === 'disabled') return 'no mail transport is configured';
  await deps.mailer.send(message);
  return 'sent';
}
