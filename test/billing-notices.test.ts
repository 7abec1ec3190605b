import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { billingTables, createBilling, createCustomer, createPrice, createProduct, createSubscription, runRenewals, SANDBOX_TEST_CARDS, setPaymentMethod, type Billing } from '../src/billing/index.js';
import { manualClock } from '../src/core/index.js';
import { renderOutbox } from '../src/identity/index.js';
import { createJobQueue, withTenant, type JobQueue, type Tenant } from '../src/db/index.js';
import { testRampart } from './support/rampart.js';

/**
 * BI-5 customer notices for trials and dunning are e-mailed through identity's mailer (the
 * development outbox here, /dev/outbox), exactly once per event: the renewal job running twice,
 * the delivery job running twice, or a relay failing once never yields a second message.
 */

const DAY = 86_400_000;
const clock = manualClock(new Date('2026-06-01T00:00:00Z'));
let rampart: Rampart;
let billing: Billing;
let jobs: JobQueue;
let tenant: Tenant;
let monthly: string;
const context = () => ({ tenantId: tenant.id, actor: { type: 'user' as const, id: 'fin-1' } });
const tx = <T>(fn: (trx: Parameters<Parameters<typeof withTenant>[2]>[0]) => Promise<T>) => withTenant(rampart.db, { tenantId: tenant.id, actor: { type: 'user', id: 'fin-1' } }, fn);
const mailTo = (email: string) => rampart.identity.mailer.outbox().filter((m) => m.to === email);
const outcomeOf = async (id: string) => (await runRenewals(billing.deps)).find((r) => r.subscription === id)?.outcome;
const card = (number: string = SANDBOX_TEST_CARDS.success) => billing.sandbox!.tokenize({ number, expMonth: 12, expYear: 2099, cvc: '123' }).id;
const noticesOf = (id: string) => tx((trx) => billingTables(trx).selectFrom('billing_notices').select('kind').where('subscription_id', '=', id).orderBy('created_at').execute());

beforeAll(async () => {
  rampart = await testRampart();
  tenant = await rampart.createTenant({ slug: 'notices', name: 'Notices' });
  // The same wiring as the composition root (a job queue and identity's mailer), on a manual clock.
  jobs = createJobQueue({ db: rampart.db, log: rampart.log, clock, backoff: { baseMs: 60_000, maxMs: 60_000 } });
  billing = createBilling({ db: rampart.db, audit: rampart.audit, log: rampart.log, clock, jobs, mailer: rampart.identity.mailer, production: false, psp: 'sandbox', webhookSecrets: ['whsec_notices_0123456789'] });
  await tx(async (trx) => {
    const product = await createProduct(trx, billing.deps, context(), { name: 'Plan' });
    monthly = (await createPrice(trx, billing.deps, context(), { productId: product.id, currency: 'EUR', type: 'per_seat', tiersMode: null, tiers: [], interval: 'month', taxBehavior: 'exclusive', unitAmount: 1000n })).id;
  });
});
afterAll(async () => {
  await billing.close();
  await rampart.close();
});

describe('BI-5 customer notices by e-mail', () => {
  it('the composition root hands billing the identity mailer and the job queue', () => {
    expect(rampart.billing!.deps.mailer).toBe(rampart.identity.mailer);
    expect(rampart.billing!.deps.jobs).toBe(rampart.jobs);
  });

  it('BI-5 a trial is reminded once, three days before its end, then told it ended without a card; one e-mail per event', async () => {
    clock.set(new Date('2026-06-01T00:00:00Z'));
    const buyer = await tx((trx) => createCustomer(trx, billing.deps, context(), { name: 'Tess Trial', email: 'tess@example.test', country: 'DE' }));
    const { subscription: sub } = await tx((trx) => createSubscription(trx, billing.deps, context(), { customerId: buyer.id, priceId: monthly, quantity: 1n, trialDays: 14 }));

    clock.advance(10 * DAY);
    expect(await outcomeOf(sub.id)).toBeUndefined(); // 4 days left: too early
    clock.advance(1 * DAY + 1000);
    expect(await outcomeOf(sub.id)).toBe('trial_will_end');
    expect(await outcomeOf(sub.id)).toBeUndefined(); // a second run finds the reminder
    await jobs.runDue();
    await jobs.runDue();
    expect(mailTo('tess@example.test')).toHaveLength(1);
    const [reminder] = mailTo('tess@example.test');
    expect(reminder!.subject).toBe('Billing: Your trial ends soon: add a payment method');
    expect(reminder!.text).toContain('Hello Tess Trial');
    expect(reminder!.text).toContain(new Date('2026-06-15T00:00:00Z').toUTCString());

    clock.advance(3 * DAY);
    expect(await outcomeOf(sub.id)).toBe('trial_not_converted');
    expect(await outcomeOf(sub.id)).toBeUndefined();
    await jobs.runDue();
    await jobs.runDue();
    expect(mailTo('tess@example.test').map((m) => m.subject)).toEqual(['Billing: Your trial has ended', 'Billing: Your trial ends soon: add a payment method']);
    expect((await noticesOf(sub.id)).map((n) => n.kind)).toEqual(['trial_will_end', 'trial_ended_without_payment_method']);
    // The outbox page (operators only, test/identity-mail.test.ts) renders the same mail.
    expect(renderOutbox(rampart.identity.mailer)).toContain('Your trial has ended');
  });

  it('BI-5 dunning: the failed renewal and each failed retry mail the customer once, with the amount due', async () => {
    clock.set(new Date('2026-06-01T00:00:00Z'));
    const buyer = await tx(async (trx) => {
      const created = await createCustomer(trx, billing.deps, context(), { name: 'Dana Dunning', email: 'dana@example.test', country: 'DE' });
      return setPaymentMethod(trx, billing.deps, context(), created.id, card());
    });
    const { subscription: sub } = await tx((trx) => createSubscription(trx, billing.deps, context(), { customerId: buyer.id, priceId: monthly, quantity: 1n }));
    await tx((trx) => setPaymentMethod(trx, billing.deps, context(), buyer.id, card(SANDBOX_TEST_CARDS.insufficientFunds)));
    const renewal = new Date('2026-07-01T00:00:00Z');
    const at = (days: number) => clock.set(new Date(renewal.getTime() + days * DAY + 1000));

    at(0);
    expect(await outcomeOf(sub.id)).toBe('past_due');
    expect(await outcomeOf(sub.id)).toBeUndefined();
    at(1);
    expect(await outcomeOf(sub.id)).toBe('retry_failed');
    expect(await outcomeOf(sub.id)).toBeUndefined();
    await jobs.runDue();
    await jobs.runDue();
    const mails = mailTo('dana@example.test');
    // One runDue may send both at once, in either order.
    expect(mails.map((m) => m.subject).sort()).toEqual(['Billing: Payment failed', 'Billing: Payment retry failed']);
    expect(mails.every((m) => m.text.includes('11.90 EUR'))).toBe(true);
    expect(mails.every((m) => /Invoice: INV-\d+/.test(m.text))).toBe(true);
    expect(mails.length).toBe((await noticesOf(sub.id)).length);
  });

  it('a relay that fails once: the delivery job retries and the customer gets exactly one e-mail', async () => {
    const sent: string[] = [];
    let failures = 1;
    const flaky = { kind: 'smtp', send: async (message: { to: string; subject: string }) => (failures-- > 0 ? Promise.reject(new Error('421 try again later')) : void sent.push(`${message.to} ${message.subject}`)) };
    const flakyJobs = createJobQueue({ db: rampart.db, log: rampart.log, clock, backoff: { baseMs: 60_000, maxMs: 60_000 } });
    const flakyBilling = createBilling({ db: rampart.db, audit: rampart.audit, log: rampart.log, clock, jobs: flakyJobs, mailer: flaky, production: false, psp: 'sandbox', webhookSecrets: ['whsec_notices_0123456789'] });
    clock.set(new Date('2026-06-01T00:00:00Z'));
    const buyer = await tx((trx) => createCustomer(trx, flakyBilling.deps, context(), { name: 'Rita Retry', email: 'rita@example.test', country: 'DE' }));
    const { subscription: sub } = await tx((trx) => createSubscription(trx, flakyBilling.deps, context(), { customerId: buyer.id, priceId: monthly, quantity: 1n, trialDays: 2 }));
    expect((await runRenewals(flakyBilling.deps)).find((r) => r.subscription === sub.id)?.outcome).toBe('trial_will_end');
    await flakyJobs.runDue();
    expect(sent).toEqual([]);
    clock.advance(2 * 60_000);
    await flakyJobs.runDue();
    await flakyJobs.runDue();
    expect(sent).toEqual(['rita@example.test Billing: Your trial ends soon: add a payment method']);
    await flakyBilling.close();
  });

  it('a customer without an e-mail address: the notice is recorded and shown, the job completes without mail', async () => {
    clock.set(new Date('2026-06-01T00:00:00Z'));
    const before = rampart.identity.mailer.outbox().length;
    const buyer = await tx((trx) => createCustomer(trx, billing.deps, context(), { name: 'No Mail Ltd', country: 'DE' }));
    const { subscription: sub } = await tx((trx) => createSubscription(trx, billing.deps, context(), { customerId: buyer.id, priceId: monthly, quantity: 1n, trialDays: 1 }));
    expect(await outcomeOf(sub.id)).toBe('trial_will_end');
    await jobs.runDue();
    expect(rampart.identity.mailer.outbox().length).toBe(before);
    expect((await noticesOf(sub.id)).map((n) => n.kind)).toEqual(['trial_will_end']);
    expect((await jobs.list({ status: 'queued' })).filter((j) => j.kind === 'billing.notice')).toEqual([]);
  });
});
