import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRampart, type Rampart } from '../../src/app.js';
import { billingTables, SANDBOX_TEST_CARDS, signatureHeader } from '../../src/billing/index.js';
import { openDatabase, withTenant, type Tenant } from '../../src/db/index.js';
import type { Principal } from '../../src/http/index.js';
import { finalizeRemainingDrafts, inspectAfterRestart, lastCommitted, seedCrashTenant, startFinalizer } from '../support/billing-crash.js';
import { bearerAuthenticator, testConfig } from '../support/rampart.js';
import { createScratchDatabase } from './pg-harness.js';

/**
 * Billing on real PostgreSQL, where concurrency is real (many pooled connections, not PGlite's one
 * session): 200 concurrent finalizations get 1..200; a finalizer process SIGKILLed mid-transaction
 * leaves no gap and no orphan; one webhook replayed 100 times concurrently is processed once; two
 * concurrent full refunds of one payment: one succeeds (BI-2, BI-3, BI-5).
 */

const hasPostgres = !inject('servicesMissing').some((m) => m.startsWith('PostgreSQL'));

describe.skipIf(!hasPostgres)('PostgreSQL: billing under real concurrency', () => {
  const principals: Record<string, Principal> = {};
  let rampart: Rampart;
  let url: string;
  let drop: () => Promise<void>;
  let acme: Tenant;
  let keySeq = 0;
  const key = () => `pg-key-${++keySeq}-${Date.now()}`;
  const call = (token: string | null, options: InjectOptions) => rampart.server.app.inject({ ...options, headers: { ...(options.headers ?? {}), ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const post = (token: string, path: string, payload: unknown, idempotencyKey?: string) => call(token, { method: 'POST', url: path, payload: payload as object, headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {} });
  const fresh = () => ({ amr: ['swk', 'mfa'], factorTimes: { webauthn: new Date() } });

  beforeAll(async () => {
    const scratch = await createScratchDatabase();
    url = scratch.url;
    drop = scratch.drop;
    rampart = await createRampart({ config: testConfig({ database: { url } }), env: {}, authenticate: (request) => bearerAuthenticator(principals)(request) });
    acme = await rampart.createTenant({ slug: 'acme', name: 'Acme' });
    principals.fin = { type: 'user', id: 'fin-1', tenantId: acme.id, roles: ['finance'], ...fresh() };
    principals.fin2 = { type: 'user', id: 'fin-2', tenantId: acme.id, roles: ['finance'], ...fresh() };
  }, 120_000);
  afterAll(async () => {
    await rampart?.close();
    await drop?.();
  });

  async function catalog(currency: string, amount: string) {
    const product = (await post('fin', '/api/v1/billing/products', { name: `Plan ${currency}` })).json();
    return (await post('fin', '/api/v1/billing/prices', { product_id: product.id, currency, type: 'flat', unit_amount: amount, interval: 'month' })).json().id as string;
  }

  it('BI-5 200 concurrent finalizations get numbers 1..200 with no gap and no duplicate', async () => {
    const tenant = await rampart.createTenant({ slug: 'numbers', name: 'Numbers' });
    principals.num = { type: 'user', id: 'num-1', tenantId: tenant.id, roles: ['finance'], ...fresh() };
    const product = (await post('num', '/api/v1/billing/products', { name: 'Consulting' })).json();
    const price = (await post('num', '/api/v1/billing/prices', { product_id: product.id, currency: 'JPY', type: 'flat', unit_amount: '5000', interval: 'month' })).json();
    const customer = (await post('num', '/api/v1/billing/customers', { name: 'Kaisha', country: 'JP' })).json();
    const drafts = await Promise.all(Array.from({ length: 200 }, async () => (await post('num', '/api/v1/billing/invoices', { customer_id: customer.id, lines: [{ price_id: price.id }] }, key())).json().id as string));
    const finalized = await Promise.all(drafts.map((id) => post('num', `/api/v1/billing/invoices/${id}/finalize`, {})));
    expect(finalized.map((r) => r.statusCode).filter((s) => s !== 200)).toEqual([]);
    expect(finalized.map((r) => Number(r.json().number)).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const after = await inspectAfterRestart(rampart.db, tenant.id, rampart.audit.signer.publicKey);
    expect(after.report.ok).toBe(true);
  }, 120_000);

  it('BI-5 a finalizer process SIGKILLed mid-transaction and at an arbitrary moment: 1..N, no gap, no orphan, resumes at N+1', async () => {
    const tenant = await rampart.createTenant({ slug: 'crash', name: 'Crash' });
    await seedCrashTenant(rampart.db, tenant.id);
    const env = { DATABASE_URL: url, TENANT_ID: tenant.id };

    const stalled = startFinalizer({ ...env, STALL_AT: '4' });
    await stalled.waitFor(/^stalled 4$/m);
    stalled.kill();
    expect((await stalled.exited).signal).toBe('SIGKILL');
    // The server sees the dead client's connection close and rolls its open transaction back (the
    // next finalizer below would otherwise wait on the sequence row lock forever).
    const db = await openDatabase({ url, poolSize: 2 });
    try {
      const after = await inspectAfterRestart(db, tenant.id, rampart.audit.signer.publicKey);
      expect(after.report).toMatchObject({ ok: true, problems: [] });
      expect(after.numbers).toHaveLength(3);

      const victim = startFinalizer(env);
      await victim.waitFor(/^committed 20$/m);
      victim.kill();
      await victim.exited;
      const reported = lastCommitted(victim.stdout());
      const crashed = await inspectAfterRestart(db, tenant.id, rampart.audit.signer.publicKey);
      expect(crashed.report).toMatchObject({ ok: true, problems: [] });
      expect(crashed.numbers.length).toBeGreaterThanOrEqual(reported);
      expect(crashed.numbers.length).toBeLessThanOrEqual(reported + 1);
      // Finalizing what is left takes the next numbers, including the one the first kill gave back.
      const resumed = await finalizeRemainingDrafts(db, tenant.id);
      expect(resumed).toEqual(Array.from({ length: crashed.drafts }, (_, i) => BigInt(crashed.numbers.length + i + 1)));
      expect((await inspectAfterRestart(db, tenant.id, rampart.audit.signer.publicKey)).report.ok).toBe(true);
    } finally {
      await db.close();
    }
  }, 180_000);

  it('BI-2 one webhook replayed 100 times concurrently is processed exactly once', async () => {
    const sandbox = rampart.billing!.sandbox!;
    const price = await catalog('EUR', '1000');
    const customer = (await post('fin', '/api/v1/billing/customers', { name: 'Threeds', country: 'DE' })).json();
    const card = sandbox.tokenize({ number: SANDBOX_TEST_CARDS.threeDs, expMonth: 12, expYear: 2099, cvc: '123' }).id;
    await call('fin', { method: 'PUT', url: `/api/v1/billing/customers/${customer.id}/payment-method`, payload: { token: card } });
    const checkout = (await post('fin', '/api/v1/billing/subscriptions', { customer_id: customer.id, price_id: price }, key())).json();
    expect(checkout.payment.status).toBe('requires_action');

    const now = Math.floor(Date.now() / 1000);
    // Base 36: 13 bare digits from Date.now() pass the Luhn check one time in ten and the body is then refused as a card number (BI-1).
    const body = JSON.stringify({ id: `evt_pg_${Date.now().toString(36)}`, object: 'event', type: 'payment_intent.succeeded', created: now, data: { object: { id: checkout.payment.provider_payment_id, object: 'payment_intent', status: 'succeeded', metadata: { rampart_tenant: acme.id, rampart_payment: checkout.payment.id } } } });
    const header = signatureHeader({ payload: body, secrets: rampart.billing!.deps.webhookSecrets, timestamp: now });
    const responses = await Promise.all(Array.from({ length: 100 }, () => rampart.server.app.inject({ method: 'POST', url: '/api/v1/billing/webhooks/sandbox', headers: { 'content-type': 'application/json', 'stripe-signature': header }, payload: body })));
    expect(responses.map((r) => r.statusCode).filter((s) => s !== 200)).toEqual([]);
    expect(responses.filter((r) => r.json().duplicate === true)).toHaveLength(99);

    const state = await withTenant(rampart.db, { tenantId: acme.id, actor: { type: 'system', id: 'test' } }, async (tx) => ({
      events: await billingTables(tx).selectFrom('billing_webhook_events').selectAll().execute(),
      paymentEvents: await tx.selectFrom('audit_events').select(['action', 'actor_id']).where('target_id', '=', checkout.payment.id).orderBy('seq').execute(),
      invoice: await billingTables(tx).selectFrom('billing_invoices').selectAll().where('id', '=', checkout.invoice.id).executeTakeFirstOrThrow(),
    }));
    expect(state.events.filter((e) => e.type === 'payment_intent.succeeded')).toHaveLength(1);
    expect(state.invoice.status).toBe('paid');
    expect(state.invoice.amount_paid).toBe(1190n);
    // One state change applied by the webhook, once: not a hundred audit events.
    expect(state.paymentEvents.filter((e) => e.actor_id === 'psp:sandbox')).toEqual([{ action: 'billing.payment.succeeded', actor_id: 'psp:sandbox' }]);
  }, 120_000);

  it('BI-3 a concurrent double refund: one succeeds, one is refused, the payment is refunded once', async () => {
    const sandbox = rampart.billing!.sandbox!;
    const price = await catalog('USD', '2500');
    const customer = (await post('fin', '/api/v1/billing/customers', { name: 'Payer', country: 'DE' })).json();
    const card = sandbox.tokenize({ number: SANDBOX_TEST_CARDS.success, expMonth: 12, expYear: 2099, cvc: '123' }).id;
    await call('fin', { method: 'PUT', url: `/api/v1/billing/customers/${customer.id}/payment-method`, payload: { token: card } });
    const refundsOf = (paymentId: string) =>
      withTenant(rampart.db, { tenantId: acme.id, actor: { type: 'system', id: 'test' } }, async (tx) => ({
        rows: await billingTables(tx).selectFrom('billing_refunds').selectAll().where('payment_id', '=', paymentId).execute(),
        payment: await billingTables(tx).selectFrom('billing_payments').selectAll().where('id', '=', paymentId).executeTakeFirstOrThrow(),
      }));

    // Refunds above the threshold (0 by default) are requested by one person and approved by another (BI-3).
    const refundAll = async (paymentId: string, count: number, body: object) => {
      const requests = await Promise.all(Array.from({ length: count }, () => post('fin', `/api/v1/billing/payments/${paymentId}/refunds`, body, key())));
      expect(requests.map((r) => r.statusCode)).toEqual(requests.map(() => 202));
      return Promise.all(requests.map((r) => post('fin2', `/api/v1/billing/credits/${r.json().id}/approve`, { justification: 'checked the refund request' })));
    };

    // Two full refunds approved at once (a double click, two operators).
    const full = (await post('fin', '/api/v1/billing/subscriptions', { customer_id: customer.id, price_id: price }, key())).json().payment;
    expect(full).toMatchObject({ status: 'succeeded', amount: '2975' });
    const both = await refundAll(full.id, 2, { justification: 'duplicate charge, refund it' });
    expect(both.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    expect(both.find((r) => r.statusCode === 409)!.json()).toMatchObject({ reason: 'refund_exceeds_capture', refundable: '0' });
    const afterFull = await refundsOf(full.id);
    expect(afterFull.rows.map((r) => r.amount)).toEqual([2975n]);
    expect(afterFull.payment.amount_refunded).toBe(2975n);

    // Ten partial refunds of 1000 approved at once against 2975 captured: exactly two fit.
    const partial = (await post('fin', '/api/v1/billing/subscriptions', { customer_id: customer.id, price_id: price }, key())).json().payment;
    const many = await refundAll(partial.id, 10, { amount: '1000', justification: 'partial goodwill refund' });
    expect(many.filter((r) => r.statusCode === 200)).toHaveLength(2);
    expect(many.filter((r) => r.statusCode === 409)).toHaveLength(8);
    const afterPartial = await refundsOf(partial.id);
    expect(afterPartial.rows).toHaveLength(2);
    expect(afterPartial.payment.amount_refunded).toBe(2000n);
  }, 120_000);
});
