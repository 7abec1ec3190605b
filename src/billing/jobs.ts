import { isUuid } from '../core/index.js';
import { unsafeAsSystem, withTenant, type JobQueue } from '../db/index.js';
import { expireCreditRequests } from './credits/credit-requests.js';
import { pruneIdempotencyKeys } from './idempotency/store.js';
import { deliverNotice, NOTICE_JOB } from './notices/notices.js';
import { dueSubscriptions, renewSubscription, type RenewalOutcome } from './subscriptions/index.js';
import { billingTables, SYSTEM_ACTOR, type BillingDeps } from './types.js';

/**
 * Billing's background work on the shared job queue (FOR UPDATE SKIP LOCKED, so one node runs each
 * slot): renewals and dunning steps, expiry of unapproved credit requests, pruning of idempotency
 * keys older than 24 h. Each subscription is handled in its own tenant transaction, so one
 * failure neither blocks the others nor leaves anything half-written.
 */

export async function runRenewals(deps: BillingDeps, { limit = 100, tenantId: onlyTenant }: { limit?: number; tenantId?: string } = {}): Promise<Array<{ subscription: string; outcome: RenewalOutcome | 'error' }>> {
  const due = await unsafeAsSystem(deps.db, { reason: 'find subscriptions due for renewal across tenants', log: deps.log }, (tx) => dueSubscriptions(tx, deps.clock.now(), limit, onlyTenant));
  const results: Array<{ subscription: string; outcome: RenewalOutcome | 'error' }> = [];
  for (const { tenant_id: tenantId, id } of due) {
    try {
      const outcome = await withTenant(deps.db, { tenantId, actor: SYSTEM_ACTOR }, (tx) => renewSubscription(tx, deps, { tenantId, actor: SYSTEM_ACTOR }, id));
      results.push({ subscription: id, outcome });
    } catch (error) {
      deps.log.error({ subscription: id, err: { message: error instanceof Error ? error.message : String(error) } }, 'billing renewal failed');
      results.push({ subscription: id, outcome: 'error' });
    }
  }
  return results;
}

export async function runMaintenance(deps: BillingDeps): Promise<{ expired: number; pruned: number }> {
  const tenants = await unsafeAsSystem(deps.db, { reason: 'billing maintenance spans tenants', log: deps.log }, async (tx) => {
    const pruned = await pruneIdempotencyKeys(billingTables(tx), deps.clock.now());
    const rows = await billingTables(tx).selectFrom('billing_credit_requests').select('tenant_id').distinct().where('status', '=', 'pending').where('expires_at', '<=', deps.clock.now()).execute();
    return { pruned, ids: rows.map((r) => r.tenant_id) };
  });
  let expired = 0;
  for (const tenantId of tenants.ids) expired += await withTenant(deps.db, { tenantId, actor: SYSTEM_ACTOR }, (tx) => expireCreditRequests(tx, deps, { tenantId, actor: SYSTEM_ACTOR }));
  return { expired, pruned: tenants.pruned };
}

export function registerBillingJobs(jobs: JobQueue, deps: BillingDeps): void {
  // The recurring slot runs every tenant; a one-off run (`rampart billing renew`) may name one.
  jobs.register('billing.renewals', async ({ payload }) => {
    const tenantId = (payload as { tenant_id?: unknown } | null)?.tenant_id;
    const results = await runRenewals(deps, typeof tenantId === 'string' && isUuid(tenantId) ? { tenantId } : {});
    if (results.some((r) => r.outcome === 'error')) throw new Error(`${results.filter((r) => r.outcome === 'error').length} renewal(s) failed`);
  });
  jobs.register(NOTICE_JOB, async ({ payload, log }) => {
    const outcome = await deliverNotice(deps, payload);
    if (outcome !== 'sent') log.info({ outcome }, 'billing notice not mailed');
  });
  jobs.register('billing.maintenance', async () => void (await runMaintenance(deps)));
}

export async function scheduleBillingJobs(jobs: JobQueue, { renewalIntervalSeconds }: { renewalIntervalSeconds: number }): Promise<void> {
  await jobs.schedule({ key: 'billing.renewals', kind: 'billing.renewals', intervalSeconds: renewalIntervalSeconds });
  await jobs.schedule({ key: 'billing.maintenance', kind: 'billing.maintenance', intervalSeconds: 3600 });
}
