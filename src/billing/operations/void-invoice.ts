import { RampartError } from '../../core/index.js';
import { fromDb } from '../money/index.js';
import { billingTables, type BillingDeps, type InvoiceRow, type OperationContext, type Tx } from '../types.js';

/** Voids an open invoice nothing was paid on; it keeps its number (no gap) and can never reopen. */
export async function voidInvoice(tx: Tx, deps: BillingDeps, context: OperationContext, id: string, justification: string): Promise<InvoiceRow> {
  const trx = billingTables(tx);
  const invoice = await trx.selectFrom('billing_invoices').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  if (!invoice) throw new RampartError('not_found', { detail: 'no such invoice' });
  if (invoice.status !== 'open' || fromDb(invoice.amount_paid) > 0n) throw new RampartError('conflict', { detail: 'only an open, unpaid invoice can be voided; issue a credit note instead', extensions: { reason: 'invoice_not_voidable' } });
  const voided = await trx.updateTable('billing_invoices').set({ status: 'void', closed_at: deps.clock.now() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  await deps.audit.record(tx, { tenantId: context.tenantId, actor: context.actor, action: 'billing.invoice.voided', target: { type: 'billing_invoice', id }, diff: { status: { before: 'open', after: 'void' } }, justification, ...(context.request ? { context: context.request } : {}) });
  return voided;
}
