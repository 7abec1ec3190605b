import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import {
  billingTables,
  changeSubscription,
  createBilling,
  createCustomer,
  createPrice,
  createProduct,
  createSubscription,
  cancelSubscription,
  previewChange,
  runMaintenance,
  runRenewals,
  requestCredit,
  decideCredit,
  SANDBOX_TEST_CARDS,
  setPaymentMethod,
  type Billing,
} from '../src/billing/index.js';
import { manualClock } from '../src/core/index.js';
import { withTenant, type Tenant } from '../src/db/index.js';
import { testRampart } from './support/rampart.js';

/**
 * The seed's billing scenarios on a manual clock (BI-5, BI-3): free trials converting and not
 * converting, upgrade and downgrade mid-period with proration, a failed renewal through the whole
 * dunning schedule to suspension, and credit requests expiring. Renewals run through the same
 * function the job queue runs (`runRenewals`).
 */

const DAY = 86_400_000;
const clock = manualClock(new Date('2026-04-01T00:00:00Z'));
let rampart: Rampart;
let billing: Billing;
let tenant: Tenant;
let monthly: string;
let premium: string;
const context = () => ({ tenantId: tenant.id, actor: { type: 'user' as const, id: 'fin-1' } });
const tx = <T>(fn: (trx: Parameters<Parameters<typeof withTenant>[2]>[0]) => Promise<T>) => withTenant(rampart.db, { tenantId: tenant.id, actor: { type: 'user', id: 'fin-1' } }, fn);

beforeAll(async () => {
  rampart = await testRampart();
  tenant = await rampart.createTenant({ slug: 'scenarios', name: 'Scenarios' });
  billing = createBilling({ db: rampart.db, audit: rampart.audit, log: rampart.log, clock, production: false, psp: 'sandbox', webhookSecrets: ['whsec_scenarios_0123456789'] });
  await tx(async (trx) => {
    const product = await createProduct(trx, billing.deps, context(), { name: 'Plan' });
    const base = { productId: product.id, currency: 'EUR', type: 'per_seat' as const, tiersMode: null, tiers: [], interval: 'month' as const, taxBehavior: 'exclusive' as const };
    monthly = (await createPrice(trx, billing.deps, context(), { ...base, unitAmount: 1000n })).id;
    premium = (await createPrice(trx, billing.deps, context(), { ...base, unitAmount: 2000n })).id;
  });
});
afterAll(async () => {
  await billing.close();
  await rampart.close();
});

const card = (number: string = SANDBOX_TEST_CARDS.success) => billing.sandbox!.tokenize({ number, expMonth: 12, expYear: 2099, cvc: '123' }).id;

async function customer(name: string, paymentMethod?: string) {
  return tx(async (trx) => {
    const created = await createCustomer(trx, billing.deps, context(), { name, country: 'DE' });
    return paymentMethod ? setPaymentMethod(trx, billing.deps, context(), created.id, paymentMethod) : created;
  });
}

const subscription = (id: string) => tx((trx) => billingTables(trx).selectFrom('billing_subscriptions').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
const invoicesOf = (id: string) => tx((trx) => billingTables(trx).selectFrom('billing_invoices').selectAll().where('subscription_id', '=', id).orderBy('created_at').execute());
const noticesOf = (id: string) => tx((trx) => billingTables(trx).selectFrom('billing_notices').select('kind').where('subscription_id', '=', id).orderBy('created_at').execute());
const auditOf = (id: string) => tx((trx) => trx.selectFrom('audit_events').select('action').where('target_id', '=', id).orderBy('seq').execute());

describe('BI-5 free trials', () => {
  it('BI-5 a trial with a payment method converts at trial end: invoiced, collected, active', async () => {
    clock.set(new Date('2026-04-01T00:00:00Z'));
    const buyer = await customer('Trial With Card', card());
    const { subscription: sub, invoice } = await tx((trx) => createSubscription(trx, billing.deps, context(), { customerId: buyer.id, priceId: monthly, quantity: 1n, trialDays: 14 }));
    expect(sub.status).toBe('trialing');
    expect(invoice).toBeNull();
    clock.advance(13 * DAY);
    // A day before the end the customer is reminded (once); the trial itself is not due yet.
    expect((await runRenewals(billing.deps)).find((r) => r.subscription === sub.id)?.outcome).toBe('trial_will_end');
    expect((await runRenewals(billing.deps)).find((r) => r.subscription === sub.id)).toBeUndefined();
    clock.advance(1 * DAY + 1000);
    expect((await runRenewals(billing.deps)).find((r) => r.subscription === sub.id)?.outcome).toBe('renewed');
    const after = await subscription(sub.id);
    expect(after.status).toBe('active');
    expect(after.current_period_start.toISOString()).toBe('2026-04-15T00:00:00.000Z');
    expect(after.current_period_end.toISOString()).toBe('2026-05-15T00:00:00.000Z');
    const [first] = await invoicesOf(sub.id);
    expect(first).toMatchObject({ status: 'paid', total: 1190n });
    expect((await auditOf(sub.id)).map((e) => e.action)).toContain('billing.subscription.trial_converted');
  });

  it('BI-5 a trial without a payment method does not convert: canceled, customer notified, nothing invoiced', async () => {
    clock.set(new Date('2026-04-01T00:00:00Z'));
    const buyer = await customer('Trial Without Card');
    const { subscription: sub } = await tx((trx) => createSubscription(trx, billing.deps, context(), { customerId: buyer.id, priceId: monthly, quantity: 1n, trialDays: 7 }));
    clock.advance(7 * DAY + 1000);
    expect((await runRenewals(billing.deps)).find((r) => r.subscription === sub.id)?.outcome).toBe('trial_not_converted');
    expect((await subscription(sub.id)).status).toBe('canceled');
    expect(await invoicesOf(sub.id)).toHaveLength(0);
    expect((await noticesOf(sub.id)).map((n) => n.kind)).toEqual(['trial_ended_without_payment_method']);
  });
});

describe('BI-5 upgrade and downgrade mid-period (proration by the second)', () => {
  it('BI-5 upgrading halfway charges the difference for the rest of the period; the preview matches', async () => {
    clock.set(new Date('2026-04-01T00:00:00Z'));
    const buyer = await customer('Upgrader', card());
    const { subscription: sub } = await tx((trx) => createSubscription(trx, billing.deps, context(), { customerId: buyer.id, priceId: monthly, quantity: 1n }));
    clock.set(new Date('2026-04-16T00:00:00Z')); // 15 of 30 days left
    const preview = await tx((trx) => previewChange(trx, billing.deps, context(), sub.id, { priceId: premium }));
    expect(preview.lines.map((l) => l.amount)).toEqual(['-500', '1000']);
    expect(preview.total).toBe('595');
    const { invoice, payment } = await tx((trx) => changeSubscription(trx, billing.deps, context(), sub.id, { priceId: premium }));
    expect(invoice).toMatchObject({ kind: 'proration', total: 595n, status: 'paid' });
    expect(payment?.status).toBe('succeeded');
    expect((await subscription(sub.id)).price_id).toBe(premium);
  });

  it('BI-5 downgrading halfway credits the customer, and the credit pays the next renewal first', async () => {
    clock.set(new Date('2026-04-01T00:00:00Z'));
    const buyer = await customer('Downgrader', card());
    const { subscription: sub } = await tx((trx) => createSubscription(trx, billing.deps, context(), { customerId: buyer.id, priceId: premium, quantity: 1n }));
    clock.set(new Date('2026-04-16T00:00:00Z'));
    const { invoice, payment } = await tx((trx) => changeSubscription(trx, billing.deps, context(), sub.id, { priceId: monthly }));
    expect(invoice).toMatchObject({ total: -595n, amount_due: 0n, status: 'paid' });
    expect(payment).toBeNull();
    const credited = await tx((trx) => billingTables(trx).selectFrom('billing_customers').selectAll().where('id', '=', buyer.id).executeTakeFirstOrThrow());
    expect(credited).toMatchObject({ balance: 595n, balance_currency: 'EUR' });
    clock.set(new Date('2026-05-01T00:00:01Z'));
    await runRenewals(billing.deps);
    const renewal = (await invoicesOf(sub.id)).at(-1)!;
    expect(renewal).toMatchObject({ kind: 'subscription', total: 1190n, credit_applied: 595n, amount_due: 595n, status: 'paid' });
  });

  it('BI-3 refuses a client amount that disagrees with the computed proration, changing nothing', async () => {
    clock.set(new Date('2026-04-01T00:00:00Z'));
    const buyer = await customer('Careful', card());
    const { subscription: sub } = await tx((trx) => createSubscription(trx, billing.deps, context(), { customerId: buyer.id, priceId: monthly, quantity: 1n }));
    clock.set(new Date('2026-04-16T00:00:00Z'));
    await expect(tx((trx) => changeSubscription(trx, billing.deps, context(), sub.id, { priceId: premium, expectedAmount: 500n }))).rejects.toMatchObject({ status: 409 });
    expect((await subscription(sub.id)).price_id).toBe(monthly);
  });

  it('cancel at period end stops at the renewal; cancel now credits the unused time', async () => {
    clock.set(new Date('2026-04-01T00:00:00Z'));
    const buyer = await customer('Leaver', card());
    const a = (await tx((trx) => createSubscription(trx, billing.deps, context(), { customerId: buyer.id, priceId: monthly, quantity: 1n }))).subscription;
    const b = (await tx((trx) => createSubscription(trx, billing.deps, context(), { customerId: buyer.id, priceId: monthly, quantity: 1n }))).subscription;
    await tx((trx) => cancelSubscription(trx, billing.deps, context(), a.id, { atPeriodEnd: true }));
    clock.set(new Date('2026-04-16T00:00:00Z'));
    const { credit } = await tx((trx) => cancelSubscription(trx, billing.deps, context(), b.id, { atPeriodEnd: false }));
    expect(credit).toMatchObject({ total: -595n });
    clock.set(new Date('2026-05-01T00:00:01Z'));
    await runRenewals(billing.deps);
    expect((await subscription(a.id)).status).toBe('canceled');
    expect(await invoicesOf(a.id)).toHaveLength(1);
  });
});

describe('BI-5 dunning', () => {
  it('BI-5 a failed renewal goes through the retry schedule (1, 3, 5, 7 days), grace, then suspension, each step noticed and audited', async () => {
    clock.set(new Date('2026-04-01T00:00:00Z'));
    const buyer = await customer('Late Payer', card());
    const { subscription: sub } = await tx((trx) => createSubscription(trx, billing.deps, context(), { customerId: buyer.id, priceId: monthly, quantity: 1n }));
    // The card on file starts declining (insufficient funds) before the renewal.
    await tx((trx) => setPaymentMethod(trx, billing.deps, context(), buyer.id, card(SANDBOX_TEST_CARDS.insufficientFunds)));
    const start = new Date('2026-05-01T00:00:00Z');
    const at = (days: number) => clock.set(new Date(start.getTime() + days * DAY + 1000));
    const outcome = async () => (await runRenewals(billing.deps)).find((r) => r.subscription === sub.id)?.outcome;

    at(0);
    expect(await outcome()).toBe('past_due');
    expect((await subscription(sub.id)).status).toBe('past_due');
    at(0.5);
    expect(await outcome()).toBeUndefined(); // nothing due before the first retry
    const steps: Array<[number, string]> = [
      [1, 'retry_failed'],
      [3, 'retry_failed'],
      [5, 'retry_failed'],
      [7, 'grace'],
      [10, 'suspended'],
    ];
    for (const [day, expected] of steps) {
      at(day);
      expect(await outcome(), `day ${day}`).toBe(expected);
    }
    expect((await subscription(sub.id)).status).toBe('suspended');
    expect((await noticesOf(sub.id)).map((n) => n.kind)).toEqual(['payment_failed', 'payment_retry_failed', 'payment_retry_failed', 'payment_retry_failed', 'payment_failed_final_notice', 'subscription_suspended']);
    const actions = (await auditOf(sub.id)).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['billing.dunning.started', 'billing.dunning.retry_failed', 'billing.dunning.grace', 'billing.dunning.suspended']));
    const payments = await tx((trx) => billingTables(trx).selectFrom('billing_payments').selectAll().where('customer_id', '=', buyer.id).where('status', '=', 'failed').execute());
    expect(payments).toHaveLength(5); // the renewal and four retries, each failing with insufficient_funds
    expect(new Set(payments.map((p) => p.failure_code))).toEqual(new Set(['insufficient_funds']));
  });

  it('a retry that succeeds ends dunning and reactivates the subscription', async () => {
    clock.set(new Date('2026-04-01T00:00:00Z'));
    const buyer = await customer('Recovers', card());
    const { subscription: sub } = await tx((trx) => createSubscription(trx, billing.deps, context(), { customerId: buyer.id, priceId: monthly, quantity: 1n }));
    await tx((trx) => setPaymentMethod(trx, billing.deps, context(), buyer.id, card(SANDBOX_TEST_CARDS.decline)));
    clock.set(new Date('2026-05-01T00:00:01Z'));
    await runRenewals(billing.deps);
    await tx((trx) => setPaymentMethod(trx, billing.deps, context(), buyer.id, card()));
    clock.set(new Date('2026-05-02T00:00:02Z'));
    expect((await runRenewals(billing.deps)).find((r) => r.subscription === sub.id)?.outcome).toBe('retry_succeeded');
    expect(await subscription(sub.id)).toMatchObject({ status: 'active', dunning_attempt: 0, next_retry_at: null });
  });
});

describe('BI-3 credit requests expire', () => {
  it('an unapproved request expires and can no longer be approved', async () => {
    clock.set(new Date('2026-04-01T00:00:00Z'));
    const buyer = await customer('Expiring');
    const request = await tx((trx) => requestCredit(trx, billing.deps, context(), { kind: 'credit', customerId: buyer.id, amount: 100n, currency: 'EUR', justification: 'goodwill for the delay' }));
    clock.advance(73 * 3_600_000);
    expect((await runMaintenance(billing.deps)).expired).toBeGreaterThanOrEqual(1);
    const second = { tenantId: tenant.id, actor: { type: 'user' as const, id: 'fin-2' } };
    await expect(withTenant(rampart.db, second, (trx) => decideCredit(trx, billing.deps, second, { id: request.id, approve: true, justification: 'too late to approve' }))).rejects.toMatchObject({ status: 409 });
  });
});
