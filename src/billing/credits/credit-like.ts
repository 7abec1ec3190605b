import { RampartError } from '../../core/index.js';
import { createCreditNote, creditNoteSplit, paymentInFlight } from '../invoices/credit-note.js';
import { outstanding } from '../invoices/outstanding.js';
import { fromDb } from '../money/index.js';
import { refundableOn, refundPayment } from '../refunds/refund-payment.js';
import { billingTables, type BillingDeps, type BillingTrx, type CreditLikeKind, type OperationContext, type Tx } from '../types.js';
import type { CreditApproval } from './approval.js';

/**
 * The credit-like operations (BI-3): each lets a customer spend more or owe less without a
 * payment. `prepareCreditLike` computes, on the server, what a request will do (the amount is
 * never the client's); `applyApprovedCreditLike` is the only place where one takes effect, and
 * it needs a `CreditApproval`. Both re-read and lock the rows, so a request approved after the
 * invoice changed is refused rather than applied to stale figures.
 */

export type CreditLikeInput = { kind: CreditLikeKind; customerId?: string | undefined; invoiceId?: string | undefined; paymentId?: string | undefined; amount?: bigint | null | undefined; currency?: string | undefined };
export type PreparedCreditLike = { kind: CreditLikeKind; customerId: string; invoiceId: string | null; paymentId: string | null; amount: bigint; currency: string };

const conflict = (reason: string, detail: string, extensions: Record<string, string> = {}) => new RampartError('conflict', { detail, extensions: { reason, ...extensions } });

async function lockInvoice(trx: BillingTrx, id: string | undefined | null) {
  const invoice = id ? await trx.selectFrom('billing_invoices').selectAll().where('id', '=', id).forUpdate().executeTakeFirst() : undefined;
  if (!invoice) throw new RampartError('not_found', { detail: 'no such invoice' });
  return invoice;
}

/** A client figure that differs from the server's is refused, never silently replaced. */
function serverAmount(client: bigint | null | undefined, computed: bigint): bigint {
  if (client !== null && client !== undefined && client !== computed) throw conflict('amount_mismatch', 'the amount does not match the server’s figure', { computed_amount: computed.toString() });
  return computed;
}

export async function prepareCreditLike(tx: Tx, input: CreditLikeInput): Promise<PreparedCreditLike> {
  const trx = billingTables(tx);
  const base = { kind: input.kind, invoiceId: null, paymentId: null };
  switch (input.kind) {
    case 'credit': {
      if (!input.customerId || !input.amount || input.amount <= 0n || !input.currency) throw new RampartError('validation_failed', { detail: 'a credit needs a customer, a positive amount and a currency', issues: [{ pointer: '/amount', message: 'a positive amount in minor units' }] });
      const customer = await trx.selectFrom('billing_customers').select('id').where('id', '=', input.customerId).executeTakeFirst();
      if (!customer) throw new RampartError('not_found', { detail: 'no such customer' });
      return { ...base, customerId: customer.id, amount: input.amount, currency: input.currency };
    }
    case 'write_off':
    case 'void': {
      const invoice = await lockInvoice(trx, input.invoiceId);
      if (invoice.status !== 'open') throw conflict('invoice_not_open', `only an open invoice can be ${input.kind === 'void' ? 'voided' : 'written off'}`);
      if (input.kind === 'void' && (fromDb(invoice.amount_paid) > 0n || (await paymentInFlight(trx, invoice.id)))) throw conflict('invoice_not_voidable', 'a paid, partly paid or being-paid invoice cannot be voided; issue a credit note instead');
      const amount = serverAmount(input.amount, outstanding(invoice));
      if (amount <= 0n) throw conflict('nothing_outstanding', 'nothing is owed on this invoice');
      return { ...base, customerId: invoice.customer_id, invoiceId: invoice.id, amount, currency: invoice.currency };
    }
    case 'credit_note': {
      const invoice = await lockInvoice(trx, input.invoiceId);
      const split = await creditNoteSplit(trx, invoice, input.amount ?? null);
      return { ...base, customerId: invoice.customer_id, invoiceId: invoice.id, amount: split.toDue + split.toBalance, currency: invoice.currency };
    }
    case 'refund': {
      const payment = input.paymentId ? await trx.selectFrom('billing_payments').selectAll().where('id', '=', input.paymentId).forUpdate().executeTakeFirst() : undefined;
      if (!payment) throw new RampartError('not_found', { detail: 'no such payment' });
      const refundable = await refundableOn(trx, payment);
      const amount = input.amount ?? refundable;
      if (amount <= 0n || amount > refundable) throw conflict('refund_exceeds_capture', 'the refund would exceed what was paid and not yet refunded or credited', { refundable: refundable.toString() });
      return { ...base, customerId: payment.customer_id, paymentId: payment.id, amount, currency: payment.currency };
    }
  }
}

/** The one place a credit-like operation takes effect (BI-3). */
export async function applyApprovedCreditLike(tx: Tx, deps: BillingDeps, context: OperationContext, approval: CreditApproval): Promise<void> {
  const trx = billingTables(tx);
  const { request } = approval;
  const now = deps.clock.now();
  switch (request.kind) {
    case 'credit': {
      const customer = await trx.selectFrom('billing_customers').selectAll().where('id', '=', request.customer_id).forUpdate().executeTakeFirstOrThrow();
      const balance = fromDb(customer.balance);
      if (balance > 0n && customer.balance_currency !== request.currency) throw conflict('balance_currency', 'the customer holds credit in another currency');
      await trx.updateTable('billing_customers').set({ balance: balance + fromDb(request.amount), balance_currency: request.currency, updated_at: now }).where('id', '=', customer.id).execute();
      return;
    }
    case 'write_off':
    case 'void': {
      const invoice = await lockInvoice(trx, request.invoice_id);
      if (invoice.status !== 'open' || outstanding(invoice) !== fromDb(request.amount)) throw conflict('invoice_changed', `the invoice is ${invoice.status} now, or what it owes changed since the request`);
      if (request.kind === 'void' && (fromDb(invoice.amount_paid) > 0n || (await paymentInFlight(trx, invoice.id)))) throw conflict('invoice_not_voidable', 'the invoice was partly paid since the request');
      await trx.updateTable('billing_invoices').set({ status: request.kind === 'void' ? 'void' : 'uncollectible', closed_at: now }).where('id', '=', invoice.id).execute();
      return;
    }
    case 'credit_note':
      await createCreditNote(tx, deps, context, approval);
      return;
    case 'refund':
      if (!request.payment_id) throw conflict('approval_mismatch', 'a refund request without a payment');
      await refundPayment(tx, deps, context, { paymentId: request.payment_id, amount: fromDb(request.amount), justification: request.justification }, approval);
      return;
  }
}
