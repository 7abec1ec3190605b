import type { FastifyReply, FastifyRequest } from 'fastify';
import { RampartError, uuidv7 } from '../core/index.js';
import { defineRoute, requestContext, requireFreshAuth, withCaller, actorOf, type Principal, type RouteDefinition } from '../http/index.js';
import { createCoupon, createPrice, createProduct, priceView } from './catalog/operations.js';
import { createCustomer, customerView, setPaymentMethod, updateCustomer } from './customers/operations.js';
import { decideCredit, requestCredit } from './credits/credit-requests.js';
import { idempotent, requireIdempotencyKey } from './idempotency/store.js';
import { collectInvoice, finalizeInvoice, outstanding } from './invoices/index.js';
import { createOneOffInvoice, ingestUsage, invoiceView, updateSettings, voidOrRequest } from './operations/index.js';
import { refusePan } from './psp/pan.js';
import { refundOrRequest } from './refunds/refund-or-request.js';
import * as s from './schemas.js';
import { getSettings, loadCustomer } from './store.js';
import { cancelSubscription, changeSubscription, createSubscription, pauseSubscription, previewChange, resumeSubscription } from './subscriptions/index.js';
import { billingTables, type BillingDeps, type OperationContext, type Tx } from './types.js';

/**
 * The billing API under /api/v1/billing. Each route: authorization declared (AZ-2), body parsed by
 * its zod schema, PAN-like values refused (BI-1), one tenant transaction with its audit events
 * (invariant 3), and `Idempotency-Key` required where money moves or a billable object is made
 * (BI-2). Refunds and credit approvals also need a fresh passkey proof (step-up, ID-7) and a
 * justification.
 */

const STEP_UP = requireFreshAuth({ maxAgeSeconds: 300, factor: 'webauthn' });

const contextOf = (principal: Principal, request: FastifyRequest): OperationContext => ({ tenantId: principal.tenantId, actor: actorOf(principal), request: requestContext(request) });

/** BI-1: the card check runs on every billing route, before its handler touches anything. */
const panGuarded = (route: RouteDefinition): RouteDefinition => ({
  ...route,
  handler: async (context) => {
    refusePan(context.request.body, context.request.query);
    return route.handler(context);
  },
});

export function billingRoutes(deps: BillingDeps): RouteDefinition[] {
  const { db } = deps;
  const tx = <T>(principal: Principal, fn: (trx: Tx) => Promise<T>, readOnly = false) => withCaller(db, principal, fn, { readOnly });

  /** Runs `fn` once per Idempotency-Key, in the request's transaction, and replays the stored answer. */
  async function once<T>(request: FastifyRequest, reply: FastifyReply, principal: Principal, scope: string, fn: (trx: Tx) => Promise<T>, status: number | ((body: T) => number) = 200) {
    const key = requireIdempotencyKey(request.headers['idempotency-key']);
    const result = await tx(principal, (trx) =>
      idempotent(billingTables(trx), { tenantId: principal.tenantId, key, scope, body: { params: request.params ?? null, body: request.body ?? null }, now: deps.clock.now() }, async () => {
        const body = await fn(trx);
        return { status: typeof status === 'number' ? status : status(body), body };
      }),
    );
    reply.code(result.status);
    if (result.replayed) reply.header('idempotent-replayed', 'true');
    return result.body;
  }

  const list = (table: 'billing_products' | 'billing_coupons' | 'billing_subscriptions' | 'billing_invoices' | 'billing_payments' | 'billing_credit_requests' | 'billing_credit_notes', principal: Principal, limit: number) =>
    tx(principal, (trx) => billingTables(trx).selectFrom(table).selectAll().orderBy('created_at', 'desc').limit(limit).execute(), true);

  const routes: RouteDefinition[] = [
    // Catalog
    defineRoute({ method: 'GET', url: '/api/v1/billing/products', auth: { action: 'list', resource: 'billing_catalog' }, summary: 'Products', query: s.listQuery, handler: async ({ principal, query }) => ({ items: await list('billing_products', principal, query.limit) }) }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/products',
      auth: { action: 'create', resource: 'billing_catalog' },
      summary: 'Create a product',
      body: s.productBody,
      handler: async ({ principal, request, reply, body }) => {
        reply.code(201);
        return tx(principal, (trx) => createProduct(trx, deps, contextOf(principal, request), body));
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/billing/prices',
      auth: { action: 'list', resource: 'billing_catalog' },
      summary: 'Prices',
      query: s.listQuery,
      handler: async ({ principal, query }) => ({ items: (await tx(principal, (trx) => billingTables(trx).selectFrom('billing_prices').selectAll().orderBy('created_at', 'desc').limit(query.limit).execute(), true)).map(priceView) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/prices',
      auth: { action: 'create', resource: 'billing_catalog' },
      summary: 'Create a price (flat, per seat, tiered, metered)',
      body: s.priceBody,
      handler: async ({ principal, request, reply, body }) => {
        reply.code(201);
        const price = await tx(principal, (trx) =>
          createPrice(trx, deps, contextOf(principal, request), {
            productId: body.product_id,
            currency: body.currency,
            type: body.type,
            unitAmount: body.unit_amount,
            tiersMode: body.tiers_mode ?? null,
            tiers: body.tiers.map((t) => ({ upTo: t.up_to, unitAmount: t.unit_amount, flatAmount: t.flat_amount })),
            interval: body.interval,
            taxBehavior: body.tax_behavior,
          }),
        );
        return priceView(price);
      },
    }),
    defineRoute({ method: 'GET', url: '/api/v1/billing/coupons', auth: { action: 'list', resource: 'billing_coupon' }, summary: 'Coupons', query: s.listQuery, handler: async ({ principal, query }) => ({ items: await list('billing_coupons', principal, query.limit) }) }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/coupons',
      auth: { action: 'create', resource: 'billing_coupon' },
      summary: 'Create a coupon (refused above the tenant discount cap)',
      body: s.couponBody,
      handler: async ({ principal, request, reply, body }) => {
        reply.code(201);
        return tx(principal, (trx) =>
          createCoupon(trx, deps, contextOf(principal, request), {
            code: body.code,
            ...(body.percent_off !== undefined ? { percentOffBasisPoints: s.basisPoints(body.percent_off) } : {}),
            ...(body.amount_off !== undefined ? { amountOff: body.amount_off, currency: body.currency! } : {}),
            duration: body.duration,
            ...(body.duration_months !== undefined ? { durationMonths: body.duration_months } : {}),
          }),
        );
      },
    }),

    // Customers
    defineRoute({
      method: 'GET',
      url: '/api/v1/billing/customers',
      auth: { action: 'list', resource: 'billing_customer' },
      summary: 'Customers',
      query: s.listQuery,
      handler: async ({ principal, query }) => ({ items: (await tx(principal, (trx) => billingTables(trx).selectFrom('billing_customers').selectAll().orderBy('created_at', 'desc').limit(query.limit).execute(), true)).map(customerView) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/customers',
      auth: { action: 'create', resource: 'billing_customer' },
      summary: 'Create a customer',
      body: s.customerBody,
      handler: async ({ principal, request, reply, body }) => {
        reply.code(201);
        const customer = await tx(principal, (trx) =>
          createCustomer(trx, deps, contextOf(principal, request), { name: body.name, email: body.email ?? null, ...(body.address ? { address: body.address as Record<string, string> } : {}), country: body.country, isBusiness: body.is_business, taxId: body.tax_id ?? null, taxExempt: body.tax_exempt }),
        );
        return customerView(customer);
      },
    }),
    defineRoute({ method: 'GET', url: '/api/v1/billing/customers/:id', auth: { action: 'read', resource: 'billing_customer' }, summary: 'One customer', params: s.idParams, handler: async ({ principal, params }) => customerView(await tx(principal, (trx) => loadCustomer(billingTables(trx), params.id), true)) }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/billing/customers/:id',
      auth: { action: 'update', resource: 'billing_customer' },
      summary: 'Update a customer',
      params: s.idParams,
      body: s.customerPatch,
      handler: async ({ principal, request, params, body }) =>
        customerView(
          await tx(principal, (trx) =>
            updateCustomer(trx, deps, contextOf(principal, request), params.id, {
              ...(body.name !== undefined ? { name: body.name } : {}),
              ...(body.email !== undefined ? { email: body.email } : {}),
              ...(body.address !== undefined ? { address: body.address as Record<string, string> } : {}),
              ...(body.country !== undefined ? { country: body.country } : {}),
              ...(body.is_business !== undefined ? { isBusiness: body.is_business } : {}),
              ...(body.tax_id !== undefined ? { taxId: body.tax_id } : {}),
              ...(body.tax_exempt !== undefined ? { taxExempt: body.tax_exempt } : {}),
            }),
          ),
        ),
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/billing/customers/:id/payment-method',
      auth: { action: 'update', resource: 'billing_customer' },
      summary: 'Attach a payment-method token from the PSP’s hosted fields (never card data)',
      params: s.idParams,
      body: s.paymentMethodBody,
      handler: async ({ principal, request, params, body }) => customerView(await tx(principal, (trx) => setPaymentMethod(trx, deps, contextOf(principal, request), params.id, body.token))),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/customers/:id/setup-session',
      auth: { action: 'update', resource: 'billing_customer' },
      summary: 'A hosted-fields session on the PSP’s origin where the customer enters a card',
      params: s.idParams,
      body: s.setupSessionBody,
      handler: async ({ principal, params, body }) => {
        await tx(principal, (trx) => loadCustomer(billingTables(trx), params.id), true);
        const session = await deps.psp.createSetupSession({ metadata: { rampart_tenant: principal.tenantId, rampart_customer: params.id }, ...(body.return_url ? { returnUrl: body.return_url } : {}) });
        return { id: session.id, url: session.url, provider: deps.psp.name };
      },
    }),

    // Subscriptions
    defineRoute({ method: 'GET', url: '/api/v1/billing/subscriptions', auth: { action: 'list', resource: 'billing_subscription' }, summary: 'Subscriptions', query: s.listQuery, handler: async ({ principal, query }) => ({ items: await list('billing_subscriptions', principal, query.limit) }) }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/billing/subscriptions/:id',
      auth: { action: 'read', resource: 'billing_subscription' },
      summary: 'One subscription with its customer notices',
      params: s.idParams,
      handler: async ({ principal, params }) =>
        tx(
          principal,
          async (trx) => {
            const b = billingTables(trx);
            const subscription = await b.selectFrom('billing_subscriptions').selectAll().where('id', '=', params.id).executeTakeFirst();
            if (!subscription) throw new RampartError('not_found', { detail: 'no such subscription' });
            const notices = await b.selectFrom('billing_notices').selectAll().where('subscription_id', '=', params.id).orderBy('created_at').execute();
            return { ...subscription, notices };
          },
          true,
        ),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/subscriptions',
      auth: { action: 'create', resource: 'billing_subscription' },
      summary: 'Checkout: subscribe a customer to a price (Idempotency-Key required)',
      body: s.subscriptionBody,
      handler: async ({ principal, request, reply, body }) =>
        once(
          request,
          reply,
          principal,
          'subscription.create',
          async (trx) => {
            const result = await createSubscription(trx, deps, contextOf(principal, request), { customerId: body.customer_id, priceId: body.price_id, quantity: body.quantity, trialDays: body.trial_days, couponCode: body.coupon ?? null, expectedAmount: body.expected_amount ?? null });
            return { subscription: result.subscription, invoice: result.invoice, payment: result.payment };
          },
          201,
        ),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/subscriptions/:id/preview',
      auth: { action: 'read', resource: 'billing_subscription' },
      summary: 'Preview the proration of a price or quantity change (nothing is written)',
      params: s.idParams,
      body: s.changeBody,
      handler: async ({ principal, request, params, body }) =>
        tx(principal, (trx) => previewChange(trx, deps, contextOf(principal, request), params.id, { ...(body.price_id ? { priceId: body.price_id } : {}), ...(body.quantity !== undefined ? { quantity: body.quantity } : {}) }), true),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/subscriptions/:id/change',
      auth: { action: 'update', resource: 'billing_subscription' },
      summary: 'Upgrade, downgrade or change quantity with proration (Idempotency-Key required)',
      params: s.idParams,
      body: s.changeBody,
      handler: async ({ principal, request, reply, params, body }) =>
        once(request, reply, principal, `subscription.change:${params.id}`, (trx) =>
          changeSubscription(trx, deps, contextOf(principal, request), params.id, { ...(body.price_id ? { priceId: body.price_id } : {}), ...(body.quantity !== undefined ? { quantity: body.quantity } : {}), expectedAmount: body.expected_amount ?? null }),
        ),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/subscriptions/:id/cancel',
      auth: { action: 'cancel', resource: 'billing_subscription' },
      summary: 'Cancel at period end, or now with a credit for the unused time',
      params: s.idParams,
      body: s.cancelBody,
      handler: async ({ principal, request, params, body }) => tx(principal, (trx) => cancelSubscription(trx, deps, contextOf(principal, request), params.id, { atPeriodEnd: body.at_period_end })),
    }),
    defineRoute({ method: 'POST', url: '/api/v1/billing/subscriptions/:id/pause', auth: { action: 'update', resource: 'billing_subscription' }, summary: 'Pause', params: s.idParams, handler: async ({ principal, request, params }) => tx(principal, (trx) => pauseSubscription(trx, deps, contextOf(principal, request), params.id)) }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/subscriptions/:id/resume',
      auth: { action: 'update', resource: 'billing_subscription' },
      summary: 'Resume a paused subscription: a new period, invoiced now (Idempotency-Key required)',
      params: s.idParams,
      handler: async ({ principal, request, reply, params }) => once(request, reply, principal, `subscription.resume:${params.id}`, (trx) => resumeSubscription(trx, deps, contextOf(principal, request), params.id)),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/usage',
      auth: { action: 'create', resource: 'billing_usage' },
      summary: 'Record a metered usage event; the event id makes ingestion idempotent',
      body: s.usageBody,
      handler: async ({ principal, body }) => tx(principal, (trx) => ingestUsage(trx, deps, principal.tenantId, { subscriptionId: body.subscription_id, eventId: body.event_id, quantity: body.quantity, occurredAt: body.occurred_at ? new Date(body.occurred_at) : deps.clock.now() })),
    }),

    // Invoices
    defineRoute({ method: 'GET', url: '/api/v1/billing/invoices', auth: { action: 'list', resource: 'billing_invoice' }, summary: 'Invoices', query: s.listQuery, handler: async ({ principal, query }) => ({ items: await list('billing_invoices', principal, query.limit) }) }),
    defineRoute({ method: 'GET', url: '/api/v1/billing/invoices/:id', auth: { action: 'read', resource: 'billing_invoice' }, summary: 'One invoice with lines, payments and credit notes', params: s.idParams, handler: async ({ principal, params }) => tx(principal, (trx) => invoiceView(trx, params.id), true) }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/invoices',
      auth: { action: 'create', resource: 'billing_invoice' },
      summary: 'A one-off draft invoice priced from the catalog (Idempotency-Key required)',
      body: s.oneOffInvoiceBody,
      handler: async ({ principal, request, reply, body }) => once(request, reply, principal, 'invoice.create', (trx) => createOneOffInvoice(trx, deps, contextOf(principal, request), { customerId: body.customer_id, lines: body.lines.map((l) => ({ priceId: l.price_id, quantity: l.quantity })) }), 201),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/invoices/:id/finalize',
      auth: { action: 'finalize', resource: 'billing_invoice' },
      summary: 'Finalize a draft: gapless number, frozen from now on',
      params: s.idParams,
      handler: async ({ principal, request, params }) => tx(principal, (trx) => finalizeInvoice(trx, deps, contextOf(principal, request), params.id)),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/invoices/:id/pay',
      auth: { action: 'pay', resource: 'billing_invoice' },
      summary: 'Collect the amount due with the customer’s saved payment method (Idempotency-Key required)',
      params: s.idParams,
      body: s.payBody,
      handler: async ({ principal, request, reply, params, body }) =>
        once(request, reply, principal, `invoice.pay:${params.id}`, async (trx) => {
          const invoice = await billingTables(trx).selectFrom('billing_invoices').selectAll().where('id', '=', params.id).forUpdate().executeTakeFirst();
          if (!invoice) throw new RampartError('not_found', { detail: 'no such invoice' });
          if (invoice.status !== 'open') throw new RampartError('conflict', { detail: `the invoice is ${invoice.status}`, extensions: { reason: 'invoice_not_open' } });
          const remaining = outstanding(invoice);
          if (body.amount !== undefined && body.amount !== remaining) throw new RampartError('conflict', { detail: 'the amount does not match the amount due', extensions: { reason: 'amount_mismatch', computed_amount: remaining.toString() } });
          const payment = await collectInvoice(trx, deps, contextOf(principal, request), invoice, `manual:${invoice.id}:${uuidv7()}`);
          return { payment, invoice: await billingTables(trx).selectFrom('billing_invoices').selectAll().where('id', '=', invoice.id).executeTakeFirstOrThrow() };
        }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/invoices/:id/void',
      auth: { action: 'void', resource: 'billing_invoice', justify: true, fresh: STEP_UP },
      summary: 'Void an unpaid open invoice: at once if a same-day unsent correction (200), else a write-off request a second person approves (202)',
      params: s.idParams,
      body: s.justifiedBody,
      handler: async ({ principal, request, reply, params, body }) => {
        const result = await tx(principal, (trx) => voidOrRequest(trx, deps, contextOf(principal, request), params.id, body.justification));
        if (result.request) reply.code(202);
        return result.invoice ?? result.request;
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/invoices/:id/credit-notes',
      auth: { action: 'credit', resource: 'billing_invoice', justify: true, fresh: STEP_UP },
      summary: 'Request a credit note (full or partial); issued when a second person approves (Idempotency-Key required)',
      params: s.idParams,
      body: s.creditNoteBody,
      handler: async ({ principal, request, reply, params, body }) =>
        once(request, reply, principal, `invoice.credit:${params.id}`, (trx) => requestCredit(trx, deps, contextOf(principal, request), { kind: 'credit_note', invoiceId: params.id, amount: body.amount ?? null, justification: body.justification }), 202),
    }),
    defineRoute({ method: 'GET', url: '/api/v1/billing/credit-notes', auth: { action: 'list', resource: 'billing_invoice' }, summary: 'Credit notes', query: s.listQuery, handler: async ({ principal, query }) => ({ items: await list('billing_credit_notes', principal, query.limit) }) }),

    // Payments and refunds
    defineRoute({ method: 'GET', url: '/api/v1/billing/payments', auth: { action: 'list', resource: 'billing_payment' }, summary: 'Payments', query: s.listQuery, handler: async ({ principal, query }) => ({ items: await list('billing_payments', principal, query.limit) }) }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/payments/:id/refunds',
      auth: { action: 'refund', resource: 'billing_payment', justify: true, fresh: STEP_UP },
      summary: 'Refund a captured payment up to the approval threshold (201); above it, a request a second person approves (202) (Idempotency-Key required)',
      params: s.idParams,
      body: s.refundBody,
      handler: async ({ principal, request, reply, params, body }) => once(request, reply, principal, `payment.refund:${params.id}`, async (trx) => {
          const result = await refundOrRequest(trx, deps, contextOf(principal, request), { paymentId: params.id, amount: body.amount ?? null, justification: body.justification });
          return result.refund ?? result.request;
        }, (body) => ('payment_id' in body && 'kind' in body ? 202 : 201)),
    }),

    // Credits and write-offs (two people)
    defineRoute({ method: 'GET', url: '/api/v1/billing/credits', auth: { action: 'list', resource: 'billing_credit' }, summary: 'Credit and write-off requests', query: s.listQuery, handler: async ({ principal, query }) => ({ items: await list('billing_credit_requests', principal, query.limit) }) }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/credits',
      auth: { action: 'request', resource: 'billing_credit', justify: true, fresh: STEP_UP },
      summary: 'Request a credit-like operation (credit, write-off, credit note, void, refund); a second person must approve it (Idempotency-Key required)',
      body: s.creditRequestBody,
      handler: async ({ principal, request, reply, body }) =>
        once(
          request,
          reply,
          principal,
          'credit.request',
          (trx) =>
            requestCredit(trx, deps, contextOf(principal, request), {
              kind: body.kind,
              ...(body.customer_id ? { customerId: body.customer_id } : {}),
              ...(body.invoice_id ? { invoiceId: body.invoice_id } : {}),
              ...(body.payment_id ? { paymentId: body.payment_id } : {}),
              amount: body.amount ?? null,
              ...(body.currency ? { currency: body.currency } : {}),
              justification: body.justification,
            }),
          201,
        ),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/credits/:id/approve',
      auth: { action: 'approve', resource: 'billing_credit', justify: true, fresh: STEP_UP },
      summary: 'Approve and apply a credit or write-off (never by its requester)',
      params: s.idParams,
      body: s.justifiedBody,
      handler: async ({ principal, request, params, body }) => tx(principal, (trx) => decideCredit(trx, deps, contextOf(principal, request), { id: params.id, approve: true, justification: body.justification })),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/billing/credits/:id/reject',
      auth: { action: 'approve', resource: 'billing_credit', justify: true },
      summary: 'Reject a credit or write-off request',
      params: s.idParams,
      body: s.justifiedBody,
      handler: async ({ principal, request, params, body }) => tx(principal, (trx) => decideCredit(trx, deps, contextOf(principal, request), { id: params.id, approve: false, justification: body.justification })),
    }),

    // Settings
    defineRoute({ method: 'GET', url: '/api/v1/billing/settings', auth: { action: 'read', resource: 'billing_settings' }, summary: 'Seller, tax, discount-cap and dunning settings', handler: async ({ principal }) => tx(principal, (trx) => getSettings(billingTables(trx), principal.tenantId), true) }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/billing/settings',
      auth: { action: 'update', resource: 'billing_settings', justify: true },
      summary: 'Update billing settings; bank-detail edits raise an alert (MO-2)',
      body: s.settingsBody,
      handler: async ({ principal, request, body }) => tx(principal, (trx) => updateSettings(trx, deps, contextOf(principal, request), body)),
    }),
  ];
  return routes.map(panGuarded);
}
