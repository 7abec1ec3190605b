import { RampartError, uuidv7 } from '../../core/index.js';
import { billingTables, type BillingDeps, type Tx } from '../types.js';

/**
 * Metered usage ingestion, idempotent by the caller's event id: the same event sent twice (a
 * retry, a replayed queue) counts once, because (subscription, event id) is unique.
 */
export async function ingestUsage(tx: Tx, deps: BillingDeps, tenantId: string, input: { subscriptionId: string; eventId: string; quantity: bigint; occurredAt: Date }): Promise<{ recorded: boolean }> {
  const trx = billingTables(tx);
  const subscription = await trx.selectFrom('billing_subscriptions').select(['id', 'status', 'price_id']).where('id', '=', input.subscriptionId).executeTakeFirst();
  if (!subscription) throw new RampartError('not_found', { detail: 'no such subscription' });
  if (subscription.status === 'canceled') throw new RampartError('conflict', { detail: 'the subscription is canceled', extensions: { reason: 'subscription_state' } });
  const inserted = await trx
    .insertInto('billing_usage_events')
    .values({ tenant_id: tenantId, id: uuidv7(), subscription_id: input.subscriptionId, event_id: input.eventId, quantity: input.quantity, occurred_at: input.occurredAt, created_at: deps.clock.now() })
    .onConflict((oc) => oc.doNothing())
    .returning('id')
    .executeTakeFirst();
  return { recorded: Boolean(inserted) };
}
