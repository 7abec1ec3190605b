import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { billingTables, fromDb, SANDBOX_TEST_CARDS, type SandboxPsp } from '../src/billing/index.js';
import { withTenant, type Tenant } from '../src/db/index.js';
import type { Principal } from '../src/http/index.js';
import { couponDiscount } from '../src/billing/invoices/index.js';
import { bearerAuthenticator, testRampart } from './support/rampart.js';

/**
 * BI-3: every credit-like operation (more to spend or less to owe without a payment) needs a second
 * person. Named paths over HTTP, then a generated proof: random sequences (and concurrent pairs)
 * of every billing route by ONE finance user never move the customer's position in their favour.
 */

const principals: Record<string, Principal> = {};
let rampart: Rampart;
let sandbox: SandboxPsp;
const fresh = () => ({ amr: ['swk', 'mfa'], factorTimes: { webauthn: new Date() } });
const call = (who: string, options: InjectOptions) => rampart.server.app.inject({ ...options, headers: { ...(options.headers ?? {}), authorization: `Bearer ${who}` } });
let seq = 0;
const post = (who: string, url: string, payload: unknown = {}) => call(who, { method: 'POST', url, payload: payload as object, headers: { 'idempotency-key': `credit-like-${++seq}-${Date.now()}` } });
const J = 'a justification long enough';

type Fixture = { tenant: Tenant; solo: string; second: string; customer: string; price: string };
let tenants = 0;

async function fixture(): Promise<Fixture> {
  const n = ++tenants;
  const tenant = await rampart.createTenant({ slug: `credit-like-${n}`, name: `Credit like ${n}` });
  const solo = `solo-${n}`;
  const second = `second-${n}`;
  principals[solo] = { type: 'user', id: solo, tenantId: tenant.id, roles: ['finance'], ...fresh() };
  principals[second] = { type: 'user', id: second, tenantId: tenant.id, roles: ['finance'], ...fresh() };
  const product = (await post(solo, '/api/v1/billing/products', { name: 'Team' })).json();
  const price = (await post(solo, '/api/v1/billing/prices', { product_id: product.id, currency: 'EUR', type: 'per_seat', unit_amount: '1000', interval: 'month' })).json().id;
  const customer = (await post(solo, '/api/v1/billing/customers', { name: 'Erika', country: 'DE', address: { city: 'Berlin' } })).json().id;
  const f = { tenant, solo, second, customer, price };
  await card(f, 'success');
  return f;
}

async function card(f: Fixture, kind: 'success' | 'decline') {
  const token = sandbox.tokenize({ number: SANDBOX_TEST_CARDS[kind], expMonth: 12, expYear: 2099, cvc: '123' }).id;
  await call(f.solo, { method: 'PUT', url: `/api/v1/billing/customers/${f.customer}/payment-method`, payload: { token } });
}

/** An open (finalized, unpaid) invoice of `quantity` seats: 1190 per seat with German VAT. */
async function openInvoice(f: Fixture, quantity = '1'): Promise<{ id: string; total: bigint }> {
  const draft = await post(f.solo, '/api/v1/billing/invoices', { customer_id: f.customer, lines: [{ price_id: f.price, quantity }] });
  const invoice = (await post(f.solo, `/api/v1/billing/invoices/${draft.json().id}/finalize`)).json();
  return { id: invoice.id, total: BigInt(invoice.total) };
}

/**
 * The customer's position: what they may spend, less what they owe, less what they paid net of
 * refunds, plus what was billed (every finalized invoice, voided ones included unless the void
 * was a same-day correction of an invoice never charged, so a void or a write-off shows as a gain). Finalizing, paying and prorating leave it unchanged; only a
 * credit-like operation raises it.
 */
async function position(f: Fixture): Promise<bigint> {
  return withTenant(rampart.db, { tenantId: f.tenant.id, actor: { type: 'system', id: 'test' } }, async (tx) => {
    const b = billingTables(tx);
    const customer = await b.selectFrom('billing_customers').selectAll().where('id', '=', f.customer).executeTakeFirstOrThrow();
    const invoices = await b.selectFrom('billing_invoices').selectAll().where('customer_id', '=', f.customer).where('status', '<>', 'draft').execute();
    const payments = await b.selectFrom('billing_payments').selectAll().where('customer_id', '=', f.customer).where('status', '=', 'succeeded').execute();
    const attempted = new Set((await b.selectFrom('billing_payments').select('invoice_id').execute()).map((p) => p.invoice_id));
    let value = fromDb(customer.balance);
    for (const i of invoices) {
      // A same-day void of an invoice never charged is a correction: it was never billed.
      const isCorrection = i.status === 'void' && !attempted.has(i.id) && i.closed_at?.toISOString().slice(0, 10) === i.finalized_at?.toISOString().slice(0, 10);
      if (!isCorrection) value += fromDb(i.total);
      if (i.status === 'open') value -= fromDb(i.amount_due) - fromDb(i.amount_paid) - fromDb(i.amount_credited);
    }
    for (const p of payments) value += fromDb(p.amount_refunded) - fromDb(p.amount);
    return value;
  });
}

async function ids(f: Fixture) {
  return withTenant(rampart.db, { tenantId: f.tenant.id, actor: { type: 'system', id: 'test' } }, async (tx) => {
    const b = billingTables(tx);
    return {
      invoices: (await b.selectFrom('billing_invoices').select(['id', 'status']).orderBy('created_at').execute()).map((i) => i.id),
      payments: (await b.selectFrom('billing_payments').select('id').orderBy('created_at').execute()).map((p) => p.id),
      subscriptions: (await b.selectFrom('billing_subscriptions').select('id').orderBy('created_at').execute()).map((s) => s.id),
      requests: (await b.selectFrom('billing_credit_requests').select('id').orderBy('created_at').execute()).map((r) => r.id),
    };
  });
}

beforeAll(async () => {
  rampart = await testRampart({ authenticate: (request) => bearerAuthenticator(principals)(request) });
  sandbox = rampart.billing!.sandbox!;
});
afterAll(() => rampart.close());

describe('BI-3 credit-like operations need a second person', () => {
  it('BI-3 a credit note on an open invoice reduces the amount due once approved, never the balance', async () => {
    const f = await fixture();
    const invoice = await openInvoice(f, '2');
    const requested = await post(f.solo, `/api/v1/billing/invoices/${invoice.id}/credit-notes`, { amount: '1190', justification: J });
    expect(requested.statusCode).toBe(202);
    expect(requested.json()).toMatchObject({ kind: 'credit_note', status: 'pending', amount: '1190' });
    expect((await post(f.solo, `/api/v1/billing/credits/${requested.json().id}/approve`, { justification: J })).statusCode).toBe(403);
    expect((await post(f.second, `/api/v1/billing/credits/${requested.json().id}/approve`, { justification: J })).statusCode).toBe(200);
    const view = (await call(f.solo, { method: 'GET', url: `/api/v1/billing/invoices/${invoice.id}` })).json();
    expect(view).toMatchObject({ status: 'open', amount_credited: '1190', credited_to_balance: '0' });
    expect((await call(f.solo, { method: 'GET', url: `/api/v1/billing/customers/${f.customer}` })).json().balance).toBeNull();
    const pay = await post(f.solo, `/api/v1/billing/invoices/${invoice.id}/pay`, {});
    expect(pay.json().payment.amount).toBe('1190');
  });

  it('BI-3 credit note plus refund on a paid invoice never exceed what was paid', async () => {
    const f = await fixture();
    const invoice = await openInvoice(f);
    const { payment } = (await post(f.solo, `/api/v1/billing/invoices/${invoice.id}/pay`, {})).json();
    const refund = await post(f.solo, `/api/v1/billing/payments/${payment.id}/refunds`, { amount: '1000', justification: J });
    expect(refund.statusCode).toBe(202); // above the default threshold (0): a request
    expect((await post(f.second, `/api/v1/billing/credits/${refund.json().id}/approve`, { justification: J })).statusCode).toBe(200);
    const over = await post(f.solo, `/api/v1/billing/invoices/${invoice.id}/credit-notes`, { amount: '191', justification: J });
    expect(over.statusCode).toBe(409);
    expect(over.json()).toMatchObject({ reason: 'credit_exceeds_paid', creditable: '190' });
    const note = await post(f.solo, `/api/v1/billing/invoices/${invoice.id}/credit-notes`, { justification: J });
    expect(note.json().amount).toBe('190');
    expect((await post(f.second, `/api/v1/billing/credits/${note.json().id}/approve`, { justification: J })).statusCode).toBe(200);
    expect((await call(f.solo, { method: 'GET', url: `/api/v1/billing/customers/${f.customer}` })).json().balance.amount).toBe('190');
    expect((await post(f.solo, `/api/v1/billing/payments/${payment.id}/refunds`, { amount: '1', justification: J })).json().reason).toBe('refund_exceeds_capture');
  });

  it('BI-3 voiding an open invoice is a write-off, except a same-day correction never sent', async () => {
    const f = await fixture();
    const correction = await openInvoice(f);
    const voided = await post(f.solo, `/api/v1/billing/invoices/${correction.id}/void`, { justification: J });
    expect(voided.statusCode).toBe(200);
    expect(voided.json().status).toBe('void');
    const sent = await openInvoice(f);
    await card(f, 'decline');
    await post(f.solo, `/api/v1/billing/invoices/${sent.id}/pay`, {});
    const before = await position(f);
    const writeOff = await post(f.solo, `/api/v1/billing/invoices/${sent.id}/void`, { justification: J });
    expect(writeOff.statusCode).toBe(202);
    expect(writeOff.json()).toMatchObject({ kind: 'void', status: 'pending', amount: '1190' });
    expect(await position(f)).toBe(before);
    const approvals = await Promise.all([1, 2, 3].map(() => post(f.second, `/api/v1/billing/credits/${writeOff.json().id}/approve`, { justification: J })));
    expect(approvals.map((r) => r.statusCode).sort()).toEqual([200, 409, 409]);
    expect(await position(f)).toBe(before + 1190n);
  });
});

describe('BI-3 settings that loosen a financial control', () => {
  it('BI-3 one person may lower the refund threshold and discount cap, never raise them', async () => {
    const f = await fixture();
    const put = (payload: object) => call(f.solo, { method: 'PUT', url: '/api/v1/billing/settings', payload: { ...payload, justification: J } });
    for (const payload of [{ refund_approval_threshold: '500' }, { max_discount_percent: '80' }]) {
      const raised = await put(payload);
      expect(raised.statusCode, JSON.stringify(payload)).toBe(409);
      expect(raised.json().reason).toBe('approval_required');
    }
    expect((await put({ max_discount_percent: '20', max_discount_amount: '1000' })).statusCode).toBe(200);
    expect((await put({ max_discount_amount: null })).statusCode).toBe(409);
  });

  it('BI-3 a coupon made under a looser cap is re-capped on every invoice (renewals included)', () => {
    const coupon = { active: true, percent_off_bp: 5000, amount_off: null, currency: null } as unknown as Parameters<typeof couponDiscount>[0];
    expect(couponDiscount(coupon, 'EUR', null, 2000)).toEqual({ percentBasisPoints: 2000, cap: null });
    expect(couponDiscount(coupon, 'EUR', 300n, 10_000)).toEqual({ percentBasisPoints: 5000, cap: 300n });
  });
});

type Step = { op: string; pick: number; amount: number };
const steps = fc.record({
  op: fc.constantFrom('invoice', 'pay', 'credit_note', 'void', 'refund', 'credit', 'write_off', 'approve_own', 'card', 'loosen', 'subscribe', 'cancel_now', 'pause', 'resume', 'downgrade'),
  pick: fc.nat(),
  amount: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3000 })),
});

async function run(f: Fixture, step: Step): Promise<void> {
  const { invoices, payments, subscriptions, requests } = await ids(f);
  const at = <T>(list: T[]) => list[step.pick % Math.max(list.length, 1)];
  const amount = step.amount ? String(step.amount) : undefined;
  const body = { ...(amount ? { amount } : {}), justification: J };
  switch (step.op) {
    case 'invoice': await openInvoice(f, String(1 + (step.pick % 3))); return;
    case 'pay': if (at(invoices)) await post(f.solo, `/api/v1/billing/invoices/${at(invoices)}/pay`, {}); return;
    case 'credit_note': if (at(invoices)) await post(f.solo, `/api/v1/billing/invoices/${at(invoices)}/credit-notes`, body); return;
    case 'void': if (at(invoices)) await post(f.solo, `/api/v1/billing/invoices/${at(invoices)}/void`, { justification: J }); return;
    case 'refund': if (at(payments)) await post(f.solo, `/api/v1/billing/payments/${at(payments)}/refunds`, body); return;
    case 'credit': await post(f.solo, '/api/v1/billing/credits', { kind: 'credit', customer_id: f.customer, amount: amount ?? '500', currency: 'EUR', justification: J }); return;
    case 'write_off': if (at(invoices)) await post(f.solo, '/api/v1/billing/credits', { kind: 'write_off', invoice_id: at(invoices), justification: J }); return;
    case 'approve_own': if (at(requests)) await post(f.solo, `/api/v1/billing/credits/${at(requests)}/approve`, { justification: J }); return;
    case 'loosen': await call(f.solo, { method: 'PUT', url: '/api/v1/billing/settings', payload: { refund_approval_threshold: '100000', max_discount_percent: '100', justification: J } }); return;
    case 'card': await card(f, step.pick % 2 ? 'decline' : 'success'); return;
    case 'subscribe': await post(f.solo, '/api/v1/billing/subscriptions', { customer_id: f.customer, price_id: f.price, quantity: '2' }); return;
    case 'cancel_now': if (at(subscriptions)) await post(f.solo, `/api/v1/billing/subscriptions/${at(subscriptions)}/cancel`, { at_period_end: false }); return;
    case 'pause': if (at(subscriptions)) await post(f.solo, `/api/v1/billing/subscriptions/${at(subscriptions)}/pause`); return;
    case 'resume': if (at(subscriptions)) await post(f.solo, `/api/v1/billing/subscriptions/${at(subscriptions)}/resume`); return;
    case 'downgrade': if (at(subscriptions)) await post(f.solo, `/api/v1/billing/subscriptions/${at(subscriptions)}/change`, { quantity: '1' }); return;
  }
}

describe('BI-3 one person alone never creates value (generated)', () => {
  it('BI-3 random sequences and concurrent pairs of every money route by one finance user never raise the customer position', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(steps.map((s) => [s]), fc.tuple(steps, steps)), { minLength: 4, maxLength: 14 }), async (batches) => {
        const f = await fixture();
        let before = await position(f);
        for (const batch of batches) {
          await Promise.all(batch.map((step) => run(f, step)));
          const after = await position(f);
          expect(after, `after ${batch.map((s) => s.op).join(' + ')}`).toBeLessThanOrEqual(before);
          before = after;
        }
      }),
      { numRuns: 25 },
    );
  }, 240_000);
});
