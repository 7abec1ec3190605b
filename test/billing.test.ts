import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { billingTables, SANDBOX_TEST_CARDS, signatureHeader, type SandboxPsp } from '../src/billing/index.js';
import { withTenant, type Tenant } from '../src/db/index.js';
import type { Principal } from '../src/http/index.js';
import { bearerAuthenticator, testRampart } from './support/rampart.js';

/**
 * The billing API end to end over HTTP (BI-1, BI-2, BI-3, BI-5): catalog and customers, checkout
 * with server-side amounts, idempotency keys, card-number refusal, signed webhooks processed
 * exactly once, refunds never above the capture, credits needing a second person, and gapless
 * invoice numbers under concurrency.
 */

const principals: Record<string, Principal> = {};
let rampart: Rampart;
let acme: Tenant;
let other: Tenant;
let sandbox: SandboxPsp;

const fresh = () => ({ amr: ['swk', 'mfa'], factorTimes: { webauthn: new Date() } });
const call = (token: string | null, options: InjectOptions) => rampart.server.app.inject({ ...options, headers: { ...(options.headers ?? {}), ...(token ? { authorization: `Bearer ${token}` } : {}) } });
const post = (token: string, url: string, payload: unknown, key?: string) => call(token, { method: 'POST', url, payload: payload as object, headers: key ? { 'idempotency-key': key } : {} });
let keySeq = 0;
const key = () => `test-key-${++keySeq}-${Date.now()}`;

beforeAll(async () => {
  rampart = await testRampart({ authenticate: (request) => bearerAuthenticator(principals)(request) });
  acme = await rampart.createTenant({ slug: 'acme', name: 'Acme' });
  other = await rampart.createTenant({ slug: 'other', name: 'Other' });
  principals.fin1 = { type: 'user', id: 'fin-1', tenantId: acme.id, roles: ['finance'], ...fresh() };
  principals.fin2 = { type: 'user', id: 'fin-2', tenantId: acme.id, roles: ['finance'], ...fresh() };
  principals.stale = { type: 'user', id: 'fin-3', tenantId: acme.id, roles: ['finance'] };
  principals.viewer = { type: 'user', id: 'viewer-1', tenantId: acme.id, roles: ['viewer'] };
  principals.otherfin = { type: 'user', id: 'other-fin', tenantId: other.id, roles: ['finance'], ...fresh() };
  sandbox = rampart.billing!.sandbox!;
});
afterAll(() => rampart.close());

const token = () => sandbox.tokenize({ number: SANDBOX_TEST_CARDS.success, expMonth: 12, expYear: 2099, cvc: '123' }).id;

let monthly: string;
let premium: string;
let customerDe: string;

async function count(tenantId: string, table: 'billing_customers' | 'billing_subscriptions' | 'billing_webhook_events' | 'billing_refunds' | 'billing_invoices' | 'billing_payments') {
  return withTenant(rampart.db, { tenantId, actor: { type: 'system', id: 'test' } }, async (tx) => Number((await billingTables(tx).selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n));
}

describe('catalog and customers', () => {
  it('creates products and prices; amounts are minor-unit strings', async () => {
    const product = await post('fin1', '/api/v1/billing/products', { name: 'Team' });
    expect(product.statusCode).toBe(201);
    const price = await post('fin1', '/api/v1/billing/prices', { product_id: product.json().id, currency: 'EUR', type: 'per_seat', unit_amount: '1000', interval: 'month' });
    expect(price.statusCode).toBe(201);
    expect(price.json().unit_amount).toEqual({ amount: '1000', currency: 'EUR', formatted: '10.00' });
    monthly = price.json().id;
    premium = (await post('fin1', '/api/v1/billing/prices', { product_id: product.json().id, currency: 'EUR', type: 'per_seat', unit_amount: '2000', interval: 'month' })).json().id;
    const tiered = await post('fin1', '/api/v1/billing/prices', { product_id: product.json().id, currency: 'EUR', type: 'tiered', tiers_mode: 'volume', tiers: [{ up_to: '10', unit_amount: '500' }, { up_to: null, unit_amount: '400' }], interval: 'year' });
    expect(tiered.statusCode).toBe(201);
    expect((await post('fin1', '/api/v1/billing/prices', { product_id: product.json().id, currency: 'EUR', type: 'per_seat', unit_amount: 10, interval: 'month' })).statusCode).toBe(400);
    expect((await post('fin1', '/api/v1/billing/prices', { product_id: product.json().id, currency: 'XYZ', type: 'flat', unit_amount: '1', interval: 'month' })).statusCode).toBe(400);
  });

  it('validates EU VAT ids by format and keeps tenants apart (404 across tenants)', async () => {
    const de = await post('fin1', '/api/v1/billing/customers', { name: 'Erika', country: 'DE', address: { city: 'Berlin' } });
    expect(de.statusCode).toBe(201);
    customerDe = de.json().id;
    expect(de.json().has_payment_method).toBe(false);
    const bad = await post('fin1', '/api/v1/billing/customers', { name: 'Bad BV', country: 'NL', is_business: true, tax_id: 'NL123' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].pointer).toBe('/tax_id');
    expect((await call('otherfin', { method: 'GET', url: `/api/v1/billing/customers/${customerDe}` })).statusCode).toBe(404);
    expect((await call('viewer', { method: 'GET', url: '/api/v1/billing/customers' })).statusCode).toBe(403);
  });

  it('BI-1 a card number anywhere in a request is refused with 400, not stored and not echoed', async () => {
    const before = await count(acme.id, 'billing_customers');
    for (const payload of [{ name: '4242 4242 4242 4242', country: 'DE' }, { name: 'Card', country: 'DE', address: { line1: '4000-0000-0000-0002' } }]) {
      const response = await post('fin1', '/api/v1/billing/customers', payload);
      expect(response.statusCode).toBe(400);
      expect(response.json().reason).toBe('card_data_refused');
      expect(response.body).not.toMatch(/4242|0002/);
    }
    const pm = await call('fin1', { method: 'PUT', url: `/api/v1/billing/customers/${customerDe}/payment-method`, payload: { token: SANDBOX_TEST_CARDS.success } });
    expect(pm.statusCode).toBe(400);
    expect(await count(acme.id, 'billing_customers')).toBe(before);
  });

  it('BI-3 a coupon above the tenant discount cap is refused', async () => {
    expect((await post('fin1', '/api/v1/billing/coupons', { code: 'HALF', percent_off: '50', duration: 'once' })).statusCode).toBe(201);
    const over = await post('fin1', '/api/v1/billing/coupons', { code: 'MOST', percent_off: '60', duration: 'once' });
    expect(over.statusCode).toBe(400);
    expect(over.json().reason).toBe('discount_cap');
  });
});

describe('checkout, idempotency and server-side amounts', () => {
  it('BI-2 Idempotency-Key is required; same key + same body replays; different body is 409', async () => {
    const body = { customer_id: customerDe, price_id: monthly, quantity: '2', trial_days: 14 };
    expect((await post('fin1', '/api/v1/billing/subscriptions', body)).statusCode).toBe(400);
    const k = key();
    const first = await post('fin1', '/api/v1/billing/subscriptions', body, k);
    expect(first.statusCode).toBe(201);
    const again = await post('fin1', '/api/v1/billing/subscriptions', body, k);
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    const different = await post('fin1', '/api/v1/billing/subscriptions', { ...body, quantity: '3' }, k);
    expect(different.statusCode).toBe(409);
    expect(different.json().reason).toBe('idempotency_key_reused');
  });

  it('BI-2 concurrent duplicates with one key create one subscription', async () => {
    const before = await count(acme.id, 'billing_subscriptions');
    const k = key();
    const responses = await Promise.all(Array.from({ length: 10 }, () => post('fin1', '/api/v1/billing/subscriptions', { customer_id: customerDe, price_id: monthly, trial_days: 7 }, k)));
    expect(new Set(responses.map((r) => r.statusCode))).toEqual(new Set([201]));
    expect(new Set(responses.map((r) => r.json().subscription.id)).size).toBe(1);
    expect(await count(acme.id, 'billing_subscriptions')).toBe(before + 1);
  });

  it('BI-3 a client amount that disagrees with the catalog is refused and nothing is written', async () => {
    await call('fin1', { method: 'PUT', url: `/api/v1/billing/customers/${customerDe}/payment-method`, payload: { token: token() } });
    const before = await count(acme.id, 'billing_invoices');
    const wrong = await post('fin1', '/api/v1/billing/subscriptions', { customer_id: customerDe, price_id: monthly, quantity: '2', expected_amount: '2000' }, key());
    expect(wrong.statusCode).toBe(409);
    expect(wrong.json()).toMatchObject({ reason: 'amount_mismatch', computed_amount: '2380' });
    expect(await count(acme.id, 'billing_invoices')).toBe(before);
  });

  it('BI-5 checkout invoices the first period with German VAT, collects it and activates the subscription', async () => {
    const response = await post('fin1', '/api/v1/billing/subscriptions', { customer_id: customerDe, price_id: monthly, quantity: '2', expected_amount: '2380' }, key());
    expect(response.statusCode).toBe(201);
    const { subscription, invoice, payment } = response.json();
    expect(subscription.status).toBe('active');
    expect(invoice).toMatchObject({ status: 'paid', subtotal: '2000', tax_total: '380', total: '2380', amount_paid: '2380' });
    expect(invoice.number).not.toBeNull();
    expect(payment).toMatchObject({ status: 'succeeded', amount: '2380', provider: 'sandbox' });
    const detail = (await call('fin1', { method: 'GET', url: `/api/v1/billing/invoices/${invoice.id}` })).json();
    expect(detail.lines).toHaveLength(1);
    expect(detail.lines[0]).toMatchObject({ net: '2000', tax: '380', gross: '2380', vat_category: 'S', vat_rate: '19' });
    expect(detail.tax_breakdown[0]).toMatchObject({ category: 'S', rate: '19', taxable: '2000', tax: '380' });
  });

  it('BI-5 intra-EU B2B with a valid VAT id is reverse-charged', async () => {
    const fr = (await post('fin1', '/api/v1/billing/customers', { name: 'Société', country: 'FR', is_business: true, tax_id: 'FR 12 345678901' })).json();
    expect(fr.tax_id).toBe('FR12345678901');
    await call('fin1', { method: 'PUT', url: `/api/v1/billing/customers/${fr.id}/payment-method`, payload: { token: token() } });
    const { invoice } = (await post('fin1', '/api/v1/billing/subscriptions', { customer_id: fr.id, price_id: monthly }, key())).json();
    expect(invoice).toMatchObject({ total: '1000', tax_total: '0' });
    expect(invoice.tax_breakdown[0]).toMatchObject({ category: 'AE', rate: '0' });
  });
});

describe('BI-2 webhooks in', () => {
  const secrets = () => rampart.billing!.deps.webhookSecrets;
  const send = (body: string, header: string) => rampart.server.app.inject({ method: 'POST', url: '/api/v1/billing/webhooks/sandbox', headers: { 'content-type': 'application/json', 'stripe-signature': header }, payload: body });
  const now = () => Math.floor(Date.now() / 1000);

  async function failedPayment() {
    const customer = (await post('fin1', '/api/v1/billing/customers', { name: 'Decliner', country: 'DE' })).json();
    const declined = sandbox.tokenize({ number: SANDBOX_TEST_CARDS.threeDs, expMonth: 12, expYear: 2099, cvc: '123' }).id;
    await call('fin1', { method: 'PUT', url: `/api/v1/billing/customers/${customer.id}/payment-method`, payload: { token: declined } });
    const checkout = (await post('fin1', '/api/v1/billing/subscriptions', { customer_id: customer.id, price_id: monthly }, key())).json();
    expect(checkout.subscription.status).toBe('incomplete');
    expect(checkout.payment.status).toBe('requires_action');
    return checkout;
  }

  it('BI-2 one event replayed 100 times concurrently is processed exactly once', async () => {
    const checkout = await failedPayment();
    const before = await count(acme.id, 'billing_webhook_events');
    // Base 36: 13 bare digits from Date.now() pass the Luhn check one time in ten and the body is then refused as a card number (BI-1).
    const event = { id: `evt_${Date.now().toString(36)}`, object: 'event', type: 'payment_intent.succeeded', created: now(), data: { object: { id: checkout.payment.provider_payment_id, object: 'payment_intent', status: 'succeeded', metadata: { rampart_tenant: acme.id, rampart_payment: checkout.payment.id } } } };
    const body = JSON.stringify(event, null, 2);
    const header = signatureHeader({ payload: body, secrets: secrets(), timestamp: now() });
    const responses = await Promise.all(Array.from({ length: 100 }, () => send(body, header)));
    expect(responses.every((r) => r.statusCode === 200)).toBe(true);
    expect(responses.filter((r) => r.json().duplicate === true)).toHaveLength(99);
    expect(await count(acme.id, 'billing_webhook_events')).toBe(before + 1);
    const sub = (await call('fin1', { method: 'GET', url: `/api/v1/billing/subscriptions/${checkout.subscription.id}` })).json();
    expect(sub.status).toBe('active');
    const invoice = (await call('fin1', { method: 'GET', url: `/api/v1/billing/invoices/${checkout.invoice.id}` })).json();
    expect(invoice.status).toBe('paid');
    // Out of order: a late failure after the success changes nothing.
    const late = JSON.stringify({ ...event, id: `${event.id}_late`, type: 'payment_intent.payment_failed', created: now() - 10 });
    expect((await send(late, signatureHeader({ payload: late, secrets: secrets(), timestamp: now() }))).statusCode).toBe(200);
    expect((await call('fin1', { method: 'GET', url: `/api/v1/billing/invoices/${checkout.invoice.id}` })).json().payments[0].status).toBe('succeeded');
  });

  it('BI-2 a forged or stale signature is 400 and nothing changes', async () => {
    const checkout = await failedPayment();
    const before = await count(acme.id, 'billing_webhook_events');
    const event = JSON.stringify({ id: 'evt_forged', object: 'event', type: 'payment_intent.succeeded', created: now(), data: { object: { id: checkout.payment.provider_payment_id, metadata: { rampart_tenant: acme.id } } } });
    const cases = [
      signatureHeader({ payload: event, secrets: ['an-attacker-guessed-secret'], timestamp: now() }),
      signatureHeader({ payload: event, secrets: secrets(), timestamp: now() - 301 }),
      signatureHeader({ payload: event, secrets: secrets(), timestamp: now() + 301 }),
      signatureHeader({ payload: `${event} `, secrets: secrets(), timestamp: now() }),
      '',
    ];
    for (const header of cases) {
      const response = await send(event, header);
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
    }
    expect(await count(acme.id, 'billing_webhook_events')).toBe(before);
    expect((await call('fin1', { method: 'GET', url: `/api/v1/billing/subscriptions/${checkout.subscription.id}` })).json().status).toBe('incomplete');
  });

  it('BI-1 a webhook body carrying a card number is refused', async () => {
    const body = JSON.stringify({ id: 'evt_pan', type: 'x', created: now(), data: { object: { note: '4242424242424242' } } });
    expect((await send(body, signatureHeader({ payload: body, secrets: secrets(), timestamp: now() }))).statusCode).toBe(400);
  });

  it('the sandbox setup webhook attaches the card token to the customer (hosted fields, BI-1)', async () => {
    const customer = (await post('fin1', '/api/v1/billing/customers', { name: 'Hosted', country: 'DE' })).json();
    const session = (await post('fin1', `/api/v1/billing/customers/${customer.id}/setup-session`, {})).json();
    expect(session.provider).toBe('sandbox');
    const sessionId = new URL(session.url).searchParams.get('session')!;
    sandbox.completeSetup(sessionId, token());
    await sandbox.flush();
    const event = sandbox.events.at(-1)!;
    expect((await send(event.body, event.signature)).statusCode).toBe(200);
    expect((await call('fin1', { method: 'GET', url: `/api/v1/billing/customers/${customer.id}` })).json().has_payment_method).toBe(true);
  });
});

describe('refunds', () => {
  let paymentId: string;
  beforeAll(async () => {
    const { payment } = (await post('fin1', '/api/v1/billing/subscriptions', { customer_id: customerDe, price_id: premium, quantity: '1' }, key())).json();
    paymentId = payment.id; // 2380
  });

  it('ID-7 a refund needs a fresh step-up and a justification', async () => {
    const stale = await post('stale', `/api/v1/billing/payments/${paymentId}/refunds`, { amount: '100', justification: 'customer complained twice' }, key());
    expect(stale.statusCode).toBe(401);
    expect(stale.json().code).toBe('step_up_required');
    expect((await post('fin1', `/api/v1/billing/payments/${paymentId}/refunds`, { amount: '100' }, key())).statusCode).toBe(400);
  });

  /** Refunds above the tenant threshold (0 by default) are credit-like: requested, then approved by a second person (BI-3). */
  const refund = async (payment: string, body: object) => {
    const requested = await post('fin1', `/api/v1/billing/payments/${payment}/refunds`, body, key());
    if (requested.statusCode !== 202) return requested;
    return post('fin2', `/api/v1/billing/credits/${requested.json().id}/approve`, { justification: 'checked the refund request' });
  };

  it('BI-5 partial refunds up to the captured total, never beyond', async () => {
    for (const amount of ['1000', '1000']) expect((await refund(paymentId, { amount, justification: 'partial goodwill refund' })).statusCode).toBe(200);
    const over = await post('fin1', `/api/v1/billing/payments/${paymentId}/refunds`, { amount: '381', justification: 'one cent too many here' }, key());
    expect(over.statusCode).toBe(409);
    expect(over.json()).toMatchObject({ reason: 'refund_exceeds_capture', refundable: '380' });
    expect((await refund(paymentId, { amount: '380', justification: 'the rest of the payment' })).statusCode).toBe(200);
    const events = (await call('fin1', { method: 'GET', url: `/api/v1/audit/events?action=billing.refund.created&target_id=${paymentId}` }));
    expect(events.statusCode === 200 || events.statusCode === 403).toBe(true);
  });

  it('BI-3 a concurrent double refund: one succeeds, one is refused', async () => {
    const { payment } = (await post('fin1', '/api/v1/billing/subscriptions', { customer_id: customerDe, price_id: monthly, quantity: '1' }, key())).json();
    const requests = await Promise.all([1, 2].map(() => post('fin1', `/api/v1/billing/payments/${payment.id}/refunds`, { justification: 'duplicate charge, full refund' }, key())));
    expect(requests.map((r) => r.statusCode)).toEqual([202, 202]);
    const both = await Promise.all(requests.map((r) => post('fin2', `/api/v1/billing/credits/${r.json().id}/approve`, { justification: 'checked the refund request' })));
    expect(both.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    const refunds = await withTenant(rampart.db, { tenantId: acme.id, actor: { type: 'system', id: 'test' } }, (tx) => billingTables(tx).selectFrom('billing_refunds').selectAll().where('payment_id', '=', payment.id).execute());
    expect(refunds).toHaveLength(1);
    expect(refunds[0]!.amount).toBe(1190n);
  });
});

describe('BI-3 credits and write-offs need a second approver', () => {
  it('the requester cannot approve; a second finance user can, and the credit is applied', async () => {
    const request = await post('fin1', '/api/v1/billing/credits', { kind: 'credit', customer_id: customerDe, amount: '500', currency: 'EUR', justification: 'service outage on 3 March' }, key());
    expect(request.statusCode).toBe(201);
    expect(request.json().status).toBe('pending');
    const self = await post('fin1', `/api/v1/billing/credits/${request.json().id}/approve`, { justification: 'approving my own request' });
    expect(self.statusCode).toBe(403);
    expect(self.json().reason).toBe('self_approval');
    const approved = await post('fin2', `/api/v1/billing/credits/${request.json().id}/approve`, { justification: 'checked the outage report' });
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toMatchObject({ status: 'applied', decided_by: 'user:fin-2', requested_by: 'user:fin-1' });
    expect((await call('fin1', { method: 'GET', url: `/api/v1/billing/customers/${customerDe}` })).json().balance.amount).toBe('500');
    expect((await post('fin2', `/api/v1/billing/credits/${request.json().id}/approve`, { justification: 'approving it a second time' })).statusCode).toBe(409);
    expect((await post('viewer', `/api/v1/billing/credits/${request.json().id}/approve`, { justification: 'a viewer tries to approve' })).statusCode).toBe(403);
  });
});

describe('invoices: gapless numbering, frozen once final, credit notes', () => {
  let numbering: Tenant;
  beforeAll(async () => {
    numbering = await rampart.createTenant({ slug: 'numbering', name: 'Numbering' });
    principals.numfin = { type: 'user', id: 'num-fin', tenantId: numbering.id, roles: ['finance'], ...fresh() };
  });

  it('200 concurrent finalizations get numbers 1..200 with no gap and no duplicate', async () => {
    const product = (await post('numfin', '/api/v1/billing/products', { name: 'Consulting' })).json();
    const price = (await post('numfin', '/api/v1/billing/prices', { product_id: product.id, currency: 'JPY', type: 'flat', unit_amount: '5000', interval: 'month' })).json();
    const customer = (await post('numfin', '/api/v1/billing/customers', { name: 'Kaisha', country: 'JP' })).json();
    const drafts: string[] = [];
    for (let i = 0; i < 200; i++) drafts.push((await post('numfin', '/api/v1/billing/invoices', { customer_id: customer.id, lines: [{ price_id: price.id }] }, key())).json().id);
    const finalized = await Promise.all(drafts.map((id) => post('numfin', `/api/v1/billing/invoices/${id}/finalize`, {})));
    expect(finalized.every((r) => r.statusCode === 200)).toBe(true);
    const numbers = finalized.map((r) => Number(r.json().number)).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect((await post('numfin', `/api/v1/billing/invoices/${drafts[0]}/finalize`, {})).statusCode).toBe(409);
  });

  it('a crash mid-finalization leaves no gap and no orphan: the number comes back with the rollback', async () => {
    const { finalizeInvoice, createDraftInvoice } = await import('../src/billing/index.js');
    const deps = rampart.billing!.deps;
    const context = { tenantId: numbering.id, actor: { type: 'system' as const, id: 'test' } };
    const draft = await withTenant(rampart.db, context, async (tx) => {
      const customer = await billingTables(tx).selectFrom('billing_customers').selectAll().executeTakeFirstOrThrow();
      return createDraftInvoice(tx, deps, context, { customer, subscriptionId: null, kind: 'one_off', currency: 'JPY', lines: [{ description: 'x', priceId: null, quantity: 1n, amount: 100n, taxBehavior: 'exclusive' }] });
    });
    await expect(
      withTenant(rampart.db, context, (tx) =>
        finalizeInvoice(tx, deps, context, draft.id, {
          afterNumberAssigned: () => {
            throw new Error('process killed');
          },
        }),
      ),
    ).rejects.toThrow('process killed');
    const state = await withTenant(rampart.db, context, async (tx) => ({
      invoice: await billingTables(tx).selectFrom('billing_invoices').selectAll().where('id', '=', draft.id).executeTakeFirstOrThrow(),
      next: await billingTables(tx).selectFrom('billing_number_sequences').selectAll().where('series', '=', 'INV').executeTakeFirstOrThrow(),
    }));
    expect(state.invoice.status).toBe('draft');
    expect(state.next.next_number).toBe(201n);
    const done = await withTenant(rampart.db, context, (tx) => finalizeInvoice(tx, deps, context, draft.id));
    expect(done.number).toBe(201n);
  });

  it('a finalized invoice cannot be edited, even by SQL as the app role', async () => {
    const context = { tenantId: numbering.id, actor: { type: 'system' as const, id: 'test' } };
    await expect(withTenant(rampart.db, context, (tx) => billingTables(tx).updateTable('billing_invoices').set({ amount_due: 1n }).where('number', '=', 1n).execute())).rejects.toThrow(/immutable/);
    await expect(withTenant(rampart.db, context, (tx) => billingTables(tx).updateTable('billing_invoice_lines').set({ description: 'changed' }).execute())).rejects.toThrow();
  });

  it('a full credit note mirrors the invoice; partial ones never exceed it (BI-3: each approved by a second person)', async () => {
    const { invoice } = (await post('fin1', '/api/v1/billing/subscriptions', { customer_id: customerDe, price_id: premium, quantity: '1' }, key())).json();
    const credit = async (body: object) => {
      const requested = await post('fin1', `/api/v1/billing/invoices/${invoice.id}/credit-notes`, body, key());
      expect(requested.statusCode).toBe(202);
      expect((await post('fin2', `/api/v1/billing/credits/${requested.json().id}/approve`, { justification: 'checked the credit note' })).statusCode).toBe(200);
      return withTenant(rampart.db, { tenantId: acme.id, actor: { type: 'system', id: 'test' } }, (tx) => billingTables(tx).selectFrom('billing_credit_notes').selectAll().where('invoice_id', '=', invoice.id).orderBy('number', 'desc').executeTakeFirstOrThrow());
    };
    const partial = await credit({ amount: '1190', justification: 'half the seats were unused' });
    expect(partial).toMatchObject({ total: 1190n, tax_total: 190n, taxable_total: 1000n });
    const rest = await credit({ justification: 'credit the rest as well' });
    expect(rest).toMatchObject({ total: 1190n, number: partial.number + 1n });
    expect((await post('fin1', `/api/v1/billing/invoices/${invoice.id}/credit-notes`, { amount: '1', justification: 'one more cent please' }, key())).statusCode).toBe(409);
  });
});

describe('MO-2 bank-detail edits raise an alert', () => {
  it('updates settings with a justification and alerts on bank details', async () => {
    const response = await call('fin1', { method: 'PUT', url: '/api/v1/billing/settings', payload: { bank_details: { iban: 'DE89370400440532013000' }, justification: 'new house bank from April' } });
    expect(response.statusCode).toBe(200);
    const alerts = await withTenant(rampart.db, { tenantId: acme.id, actor: { type: 'system', id: 'test' } }, (tx) => tx.selectFrom('alerts').selectAll().execute());
    expect(alerts.some((a) => a.rule === 'payout-edit')).toBe(true);
  });
});
