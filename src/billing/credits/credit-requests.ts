import { RampartError, uuidv7 } from '../../core/index.js';
import { actorId } from '../../db/index.js';
import { fromDb } from '../money/index.js';
import { getSettings } from '../store.js';
import { billingTables, type BillingDeps, type CreditRequestRow, type OperationContext, type Tx } from '../types.js';

/**
 * Credits and write-offs need two people (BI-3): one requests (with a justification), a second
 * person holding the approve permission approves, and only then is it applied. The requester can
 * never approve their own request: checked here and again by a CHECK constraint in the database.
 * Unapproved requests expire (tenant setting, default 72 h). Every step is audited.
 *
 * - credit: adds to the customer's balance, consumed by the next invoices;
 * - write_off: the open invoice's remaining amount is written off (invoice -> uncollectible).
 */

const forbiddenSelfApproval = () => new RampartError('forbidden', { detail: 'the requester cannot approve their own credit or write-off; a second person must', extensions: { reason: 'self_approval' } });

export async function requestCredit(
  tx: Tx,
  deps: BillingDeps,
  context: OperationContext,
  input: { kind: 'credit' | 'write_off'; customerId?: string; invoiceId?: string; amount?: bigint | null; currency?: string; justification: string },
): Promise<CreditRequestRow> {
  const trx = billingTables(tx);
  let customerId = input.customerId;
  let amount = input.amount ?? null;
  let currency = input.currency;
  if (input.kind === 'write_off') {
    const invoice = input.invoiceId ? await trx.selectFrom('billing_invoices').selectAll().where('id', '=', input.invoiceId).executeTakeFirst() : undefined;
    if (!invoice) throw new RampartError('not_found', { detail: 'no such invoice' });
    if (invoice.status !== 'open') throw new RampartError('conflict', { detail: 'only an open invoice can be written off', extensions: { reason: 'invoice_not_open' } });
    const remaining = fromDb(invoice.amount_due) - fromDb(invoice.amount_paid);
    // BI-3: the amount is the server's; a different client figure is refused.
    if (amount !== null && amount !== remaining) throw new RampartError('conflict', { detail: 'the amount does not match the invoice’s remaining amount', extensions: { reason: 'amount_mismatch', computed_amount: remaining.toString() } });
    amount = remaining;
    customerId = invoice.customer_id;
    currency = invoice.currency;
  }
  if (!customerId || amount === null || amount <= 0n || !currency) throw new RampartError('validation_failed', { detail: 'a credit needs a customer, a positive amount and a currency', issues: [{ pointer: '/amount', message: 'a positive amount in minor units' }] });
  const customer = await trx.selectFrom('billing_customers').select('id').where('id', '=', customerId).executeTakeFirst();
  if (!customer) throw new RampartError('not_found', { detail: 'no such customer' });
  const settings = await getSettings(trx, context.tenantId);
  const now = deps.clock.now();
  const request = await trx
    .insertInto('billing_credit_requests')
    .values({
      tenant_id: context.tenantId,
      id: uuidv7(now.getTime()),
      kind: input.kind,
      customer_id: customerId,
      invoice_id: input.kind === 'write_off' ? (input.invoiceId ?? null) : null,
      amount,
      currency,
      justification: input.justification,
      status: 'pending',
      requested_by: actorId(context.actor),
      expires_at: new Date(now.getTime() + settings.credit_request_ttl_hours * 3_600_000),
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await deps.audit.record(tx, { tenantId: context.tenantId, actor: context.actor, action: `billing.${input.kind}.requested`, target: { type: 'billing_credit_request', id: request.id }, diff: { amount: { after: amount.toString() }, currency: { after: currency } }, justification: input.justification, ...(context.request ? { context: context.request } : {}) });
  return request;
}

export async function decideCredit(tx: Tx, deps: BillingDeps, context: OperationContext, input: { id: string; approve: boolean; justification: string }): Promise<CreditRequestRow> {
  const trx = billingTables(tx);
  const request = await trx.selectFrom('billing_credit_requests').selectAll().where('id', '=', input.id).forUpdate().executeTakeFirst();
  if (!request) throw new RampartError('not_found', { detail: 'no such credit request' });
  const decider = actorId(context.actor);
  if (request.requested_by === decider || (context.actor.type === 'agent' && request.requested_by === `user:${context.actor.onBehalfOf}`)) throw forbiddenSelfApproval();
  const now = deps.clock.now();
  if (request.status === 'pending' && request.expires_at <= now) {
    await expire(tx, deps, context, request);
    throw new RampartError('conflict', { detail: 'the request expired before it was approved', extensions: { reason: 'credit_request_expired' } });
  }
  if (request.status !== 'pending') throw new RampartError('conflict', { detail: `the request is ${request.status}`, extensions: { reason: 'credit_request_decided' } });
  if (input.approve) await apply(tx, deps, request);
  const decided = await trx
    .updateTable('billing_credit_requests')
    .set({ status: input.approve ? 'applied' : 'rejected', decided_by: decider, decided_at: now })
    .where('id', '=', request.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await deps.audit.record(tx, {
    tenantId: context.tenantId,
    actor: context.actor,
    action: `billing.${request.kind}.${input.approve ? 'approved' : 'rejected'}`,
    target: { type: 'billing_credit_request', id: request.id },
    diff: { status: { before: 'pending', after: decided.status }, requested_by: { after: request.requested_by }, amount: { after: fromDb(request.amount).toString() } },
    justification: input.justification,
    ...(context.request ? { context: context.request } : {}),
  });
  return decided;
}

async function apply(tx: Tx, deps: BillingDeps, request: CreditRequestRow): Promise<void> {
  const trx = billingTables(tx);
  const now = deps.clock.now();
  if (request.kind === 'write_off') {
    const invoice = await trx.selectFrom('billing_invoices').selectAll().where('id', '=', request.invoice_id!).forUpdate().executeTakeFirstOrThrow();
    if (invoice.status !== 'open') throw new RampartError('conflict', { detail: `the invoice is ${invoice.status} now`, extensions: { reason: 'invoice_not_open' } });
    await trx.updateTable('billing_invoices').set({ status: 'uncollectible', closed_at: now }).where('id', '=', invoice.id).execute();
    return;
  }
  const customer = await trx.selectFrom('billing_customers').selectAll().where('id', '=', request.customer_id).forUpdate().executeTakeFirstOrThrow();
  const balance = fromDb(customer.balance);
  if (balance > 0n && customer.balance_currency !== request.currency) throw new RampartError('conflict', { detail: 'the customer holds credit in another currency', extensions: { reason: 'balance_currency' } });
  await trx.updateTable('billing_customers').set({ balance: balance + fromDb(request.amount), balance_currency: request.currency, updated_at: now }).where('id', '=', customer.id).execute();
}

async function expire(tx: Tx, deps: BillingDeps, context: OperationContext, request: CreditRequestRow): Promise<void> {
  await billingTables(tx).updateTable('billing_credit_requests').set({ status: 'expired' }).where('id', '=', request.id).execute();
  await deps.audit.record(tx, { tenantId: context.tenantId, actor: context.actor, action: `billing.${request.kind}.expired`, target: { type: 'billing_credit_request', id: request.id }, diff: { status: { before: 'pending', after: 'expired' } } });
}

/** Expires pending requests past their deadline (maintenance job, per tenant). */
export async function expireCreditRequests(tx: Tx, deps: BillingDeps, context: OperationContext): Promise<number> {
  const due = await billingTables(tx).selectFrom('billing_credit_requests').selectAll().where('status', '=', 'pending').where('expires_at', '<=', deps.clock.now()).forUpdate().execute();
  for (const request of due) await expire(tx, deps, context, request);
  return due.length;
}
