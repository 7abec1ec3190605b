import { z } from 'zod';
import { isUuid, RampartError } from '../../core/index.js';
import { withTenant } from '../../db/index.js';
import { setPaymentMethod } from '../customers/operations.js';
import { applyPaymentOutcome } from '../invoices/index.js';
import { fromDb } from '../money/index.js';
import { refusePan } from '../psp/pan.js';
import { billingTables, type BillingDeps, type OperationContext, type PaymentStatus, type Tx } from '../types.js';
import { verifySignature } from './signature.js';

/**
 * Inbound PSP webhooks (BI-2), in this order:
 * 1. the raw body is refused if it carries a card number (BI-1), without logging it;
 * 2. the `Stripe-Signature` is verified over the raw bytes, within the time tolerance;
 *    a forged or stale event is a 400 and nothing has been read or written;
 * 3. the event's tenant comes from metadata Rampart itself set on the PSP object (signed, so
 *    trustworthy); events without one are acknowledged and ignored;
 * 4. exactly once: the event id is inserted as the first statement of the tenant transaction
 *    that applies it. A concurrent redelivery blocks on that key until the first commits, then
 *    finds it and does nothing; if the first failed and rolled back, the redelivery applies it.
 * 5. out of order: payment states only move forward (see `applyPaymentOutcome`), so a late
 *    `payment_failed` after `succeeded` changes nothing.
 * A processing failure answers 5xx/409 so the PSP retries; a retry has no double effect (4).
 */

const eventSchema = z.object({
  id: z.string().min(1).max(255),
  type: z.string().min(1).max(100),
  created: z.number().int().nonnegative(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});

export type WebhookResult = { received: true; duplicate?: boolean; ignored?: string; outcome?: string };

const metadataOf = (object: Record<string, unknown>): Record<string, string> => {
  const metadata = object.metadata;
  return metadata && typeof metadata === 'object' ? (metadata as Record<string, string>) : {};
};

export async function receiveWebhook(deps: BillingDeps, input: { provider: 'sandbox' | 'stripe'; rawBody: Buffer | undefined; signature: string | undefined }): Promise<WebhookResult> {
  if (!input.rawBody || input.rawBody.length === 0) throw new RampartError('bad_request', { detail: 'empty webhook body' });
  refusePan(input.rawBody);
  verifySignature({ payload: input.rawBody, header: input.signature, secrets: deps.webhookSecrets, now: deps.clock.now(), toleranceSeconds: deps.webhookToleranceSeconds });
  let parsed: unknown;
  try {
    parsed = JSON.parse(input.rawBody.toString('utf8'));
  } catch {
    throw new RampartError('malformed_json', { detail: 'the webhook body is not JSON' });
  }
  const event = eventSchema.safeParse(parsed);
  if (!event.success) throw new RampartError('validation_failed', { detail: 'not an event object' });
  const { id, type, created, data } = event.data;
  const tenantId = metadataOf(data.object).rampart_tenant;
  if (!tenantId || !isUuid(tenantId)) return { received: true, ignored: 'no rampart tenant in the event metadata' };

  const context: OperationContext = { tenantId, actor: { type: 'system', id: `psp:${input.provider}` } };
  return withTenant(deps.db, { tenantId, actor: context.actor }, async (tx) => {
    const trx = billingTables(tx);
    const claimed = await trx
      .insertInto('billing_webhook_events')
      .values({ tenant_id: tenantId, provider: input.provider, event_id: id, type, event_created_at: new Date(created * 1000), processed_at: deps.clock.now(), outcome: 'processing' })
      .onConflict((oc) => oc.doNothing())
      .returning('event_id')
      .executeTakeFirst();
    if (!claimed) return { received: true as const, duplicate: true };
    const outcome = await apply(tx, deps, context, input.provider, type, data.object, new Date(created * 1000));
    await trx.updateTable('billing_webhook_events').set({ outcome }).where('provider', '=', input.provider).where('event_id', '=', id).execute();
    return { received: true as const, outcome };
  });
}

const PAYMENT_EVENTS: Record<string, PaymentStatus> = {
  'payment_intent.succeeded': 'succeeded',
  'payment_intent.payment_failed': 'failed',
  'payment_intent.requires_action': 'requires_action',
};

async function apply(tx: Tx, deps: BillingDeps, context: OperationContext, provider: 'sandbox' | 'stripe', type: string, object: Record<string, unknown>, at: Date): Promise<string> {
  const trx = billingTables(tx);
  const metadata = metadataOf(object);
  const status = PAYMENT_EVENTS[type];
  if (status) {
    const providerId = String(object.id ?? '');
    let payment = await trx.selectFrom('billing_payments').selectAll().where('provider', '=', provider).where('provider_payment_id', '=', providerId).executeTakeFirst();
    if (!payment && metadata.rampart_payment && isUuid(metadata.rampart_payment)) {
      payment = await trx.selectFrom('billing_payments').selectAll().where('id', '=', metadata.rampart_payment).executeTakeFirst();
    }
    // The charging transaction has not committed yet: refuse, and the PSP's retry will find it.
    if (!payment) throw new RampartError('conflict', { detail: 'payment not known yet; retry later', extensions: { reason: 'payment_unknown' } });
    const lastError = object.last_payment_error as { code?: string; decline_code?: string } | null | undefined;
    const before = payment.status;
    const after = await applyPaymentOutcome(tx, deps, context, payment, { status, failureCode: lastError?.decline_code ?? lastError?.code ?? null, at });
    return before === after.status ? `payment ${after.status} (unchanged)` : `payment ${before} -> ${after.status}`;
  }
  if (type === 'charge.refunded') {
    const providerId = String(object.payment_intent ?? object.id ?? '');
    const payment = await trx.selectFrom('billing_payments').selectAll().where('provider', '=', provider).where('provider_payment_id', '=', providerId).forUpdate().executeTakeFirst();
    if (!payment) return 'refund for an unknown payment: ignored';
    const theirs = BigInt(String(object.amount_refunded ?? '0'));
    const ours = fromDb(payment.amount_refunded);
    // A refund made in the PSP's dashboard: record it so "never more than captured" stays true.
    if (theirs > ours && theirs <= fromDb(payment.amount)) {
      await trx.updateTable('billing_payments').set({ amount_refunded: theirs, updated_at: deps.clock.now() }).where('id', '=', payment.id).execute();
      await deps.audit.record(tx, { tenantId: context.tenantId, actor: context.actor, action: 'billing.refund.external', target: { type: 'billing_payment', id: payment.id }, diff: { amount_refunded: { before: ours.toString(), after: theirs.toString() } } });
      return 'external refund recorded';
    }
    return 'refund already recorded';
  }
  if (type === 'setup_intent.succeeded' || type === 'checkout.session.completed') {
    const customerId = metadata.rampart_customer;
    const token = typeof object.payment_method === 'string' ? object.payment_method : '';
    if (!customerId || !isUuid(customerId) || !token) return 'setup without customer or payment method: ignored';
    await setPaymentMethod(tx, deps, context, customerId, token);
    return 'payment method attached';
  }
  return 'ignored';
}
