import { sql } from 'kysely';
import { RampartError } from '../../core/index.js';
import { requestCredit } from '../credits/credit-requests.js';
import { fromDb } from '../money/index.js';
import { billingTables, type BillingDeps, type CreditRequestRow, type InvoiceRow, type OperationContext, type Tx } from '../types.js';

/**
 * Voiding an open invoice cancels what the customer owes, so it is a write-off (BI-3) and needs a
 * second person — except the correction of a mistake nobody saw: an invoice finalized today (UTC),
 * never sent (no notice names it) and never charged (no payment attempt). That one is voided at
 * once; the invoice keeps its number (no gap) and can never reopen.
 */
export async function isUnsentSameDayCorrection(tx: Tx, deps: BillingDeps, invoice: InvoiceRow): Promise<boolean> {
  const trx = billingTables(tx);
  const day = (d: Date) => d.toISOString().slice(0, 10);
  if (!invoice.finalized_at || day(invoice.finalized_at) !== day(deps.clock.now())) return false;
  const attempts = await trx.selectFrom('billing_payments').select('id').where('invoice_id', '=', invoice.id).limit(1).execute();
  if (attempts.length) return false;
  const notices = await trx.selectFrom('billing_notices').select('id').where('customer_id', '=', invoice.customer_id).where(sql<string>`detail->>'invoice'`, '=', invoice.id).limit(1).execute();
  return notices.length === 0;
}

async function loadVoidable(tx: Tx, id: string): Promise<InvoiceRow> {
  const invoice = await billingTables(tx).selectFrom('billing_invoices').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  if (!invoice) throw new RampartError('not_found', { detail: 'no such invoice' });
  if (invoice.status !== 'open' || fromDb(invoice.amount_paid) > 0n) throw new RampartError('conflict', { detail: 'only an open, unpaid invoice can be voided; issue a credit note instead', extensions: { reason: 'invoice_not_voidable' } });
  return invoice;
}

/** Voids a same-day, unsent correction; anything else is refused with `approval_required`. */
export async function voidInvoice(tx: Tx, deps: BillingDeps, context: OperationContext, id: string, justification: string): Promise<InvoiceRow> {
  const invoice = await loadVoidable(tx, id);
  if (!(await isUnsentSameDayCorrection(tx, deps, invoice))) throw new RampartError('conflict', { detail: 'this void is a write-off: request it, a second person must approve', extensions: { reason: 'approval_required' } });
  const voided = await billingTables(tx).updateTable('billing_invoices').set({ status: 'void', closed_at: deps.clock.now() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  await deps.audit.record(tx, { tenantId: context.tenantId, actor: context.actor, action: 'billing.invoice.voided', target: { type: 'billing_invoice', id }, diff: { status: { before: 'open', after: 'void' } }, justification, ...(context.request ? { context: context.request } : {}) });
  return voided;
}

/** The API's void: a correction is voided now; otherwise a `void` request waits for a second person. */
export async function voidOrRequest(tx: Tx, deps: BillingDeps, context: OperationContext, id: string, justification: string): Promise<{ invoice: InvoiceRow; request: null } | { invoice: null; request: CreditRequestRow }> {
  const invoice = await loadVoidable(tx, id);
  if (await isUnsentSameDayCorrection(tx, deps, invoice)) return { invoice: await voidInvoice(tx, deps, context, id, justification), request: null };
  return { invoice: null, request: await requestCredit(tx, deps, context, { kind: 'void', invoiceId: id, justification }) };
}
