import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import type { RouteDefinition } from '../src/http/index.js';
import { testRampart } from './support/rampart.js';

/**
 * BI-3 enforced in one place. (1) Every billing route that writes is classified; the credit-like
 * ones need a justification and a fresh step-up, and can only create a request or, for approval,
 * decide one. (2) In the source, the writes that create value (customer balance, credit notes,
 * refunds, void/uncollectible, amount credited) happen only in files whose value-creating path
 * takes a `CreditApproval`, or in the two documented exceptions. A new route or a new write
 * elsewhere fails here until it is classified.
 */

const CREDIT_LIKE_ROUTES = new Set([
  'POST /api/v1/billing/invoices/:id/void',
  'POST /api/v1/billing/invoices/:id/credit-notes',
  'POST /api/v1/billing/payments/:id/refunds',
  'POST /api/v1/billing/credits',
  'POST /api/v1/billing/credits/:id/approve',
]);
/** Writes that never raise what a customer may spend nor lower what they owe without a payment. */
const NEUTRAL_ROUTES = new Set([
  'POST /api/v1/billing/products',
  'POST /api/v1/billing/prices',
  'POST /api/v1/billing/coupons',
  'POST /api/v1/billing/customers',
  'PATCH /api/v1/billing/customers/:id',
  'PUT /api/v1/billing/customers/:id/payment-method',
  'POST /api/v1/billing/customers/:id/setup-session',
  'POST /api/v1/billing/subscriptions',
  'POST /api/v1/billing/subscriptions/:id/preview',
  'POST /api/v1/billing/subscriptions/:id/change',
  'POST /api/v1/billing/subscriptions/:id/cancel',
  'POST /api/v1/billing/subscriptions/:id/pause',
  'POST /api/v1/billing/subscriptions/:id/resume',
  'POST /api/v1/billing/usage',
  'POST /api/v1/billing/invoices',
  'POST /api/v1/billing/invoices/:id/finalize',
  'POST /api/v1/billing/invoices/:id/pay',
  'POST /api/v1/billing/credits/:id/reject',
  'PUT /api/v1/billing/settings',
]);

/** File -> why it may write value: each takes a CreditApproval, or is a documented exception. */
const VALUE_WRITERS: Record<string, string> = {
  'credits/credit-like.ts': 'applyApprovedCreditLike(approval)',
  'invoices/credit-note.ts': 'createCreditNote(approval)',
  'refunds/refund-payment.ts': 'refundPayment(approval | null): null only up to the threshold',
  'operations/void-invoice.ts': 'same-day correction of an invoice never sent',
  'invoices/finalize-invoice.ts': 'consumes the balance; unused-time credits only for paid periods',
  'subscriptions/renew.ts': 'the system, after the whole dunning schedule failed (dunning_final_action cancel)',
  'webhooks/intake.ts': 'mirrors a refund the PSP already made (signed webhook), never makes one',
};
/** Declarations and the sandbox PSP's own records are not billing writes. */
const NOT_WRITERS = (file: string) => file === 'types.ts' || file.startsWith('psp/');
const VALUE_WRITE = [/updateTable\('billing_customers'\)[^;]*balance/s, /insertInto\('billing_credit_notes'\)/, /insertInto\('billing_refunds'\)/, /status: [^,}]*'(void|uncollectible)'/, /amount_credited:/, /amount_refunded:/];

function sources(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name), base) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name).slice(base.length + 1)] : []));
}

let rampart: Rampart;
beforeAll(async () => {
  rampart = await testRampart();
});
afterAll(() => rampart.close());

describe('BI-3 every value-creating billing path needs a second person', () => {
  it('BI-3 every writing billing route is classified; credit-like ones need a justification and a fresh step-up', () => {
    const routes: RouteDefinition[] = rampart.billing!.routes();
    const writing = routes.filter((r) => r.method !== 'GET').map((r) => ({ id: `${r.method} ${r.url}`, auth: r.auth }));
    for (const route of writing) {
      expect(CREDIT_LIKE_ROUTES.has(route.id) || NEUTRAL_ROUTES.has(route.id), `${route.id} is not classified`).toBe(true);
      if (CREDIT_LIKE_ROUTES.has(route.id)) expect(route.auth, route.id).toMatchObject({ justify: true, fresh: expect.anything() });
    }
    expect(writing.filter((r) => CREDIT_LIKE_ROUTES.has(r.id))).toHaveLength(CREDIT_LIKE_ROUTES.size);
  });

  it('BI-3 only approval-taking code (and the documented exceptions) writes value in the billing source', () => {
    const root = join(import.meta.dirname, '../src/billing');
    const writers = sources(root).filter((file) => !NOT_WRITERS(file) && VALUE_WRITE.some((pattern) => pattern.test(readFileSync(join(root, file), 'utf8'))));
    expect(writers.sort()).toEqual(Object.keys(VALUE_WRITERS).sort());
    for (const file of ['credits/credit-like.ts', 'invoices/credit-note.ts', 'refunds/refund-payment.ts']) expect(readFileSync(join(root, file), 'utf8'), file).toMatch(/CreditApproval/);
  });
});
