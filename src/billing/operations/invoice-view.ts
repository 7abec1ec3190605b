import { RampartError } from '../../core/index.js';
import { billingTables, type Tx } from '../types.js';

export async function invoiceView(tx: Tx, id: string) {
  const trx = billingTables(tx);
  const invoice = await trx.selectFrom('billing_invoices').selectAll().where('id', '=', id).executeTakeFirst();
  if (!invoice) throw new RampartError('not_found', { detail: 'no such invoice' });
  const lines = await trx.selectFrom('billing_invoice_lines').selectAll().where('invoice_id', '=', id).orderBy('position').execute();
  const payments = await trx.selectFrom('billing_payments').selectAll().where('invoice_id', '=', id).orderBy('created_at').execute();
  const creditNotes = await trx.selectFrom('billing_credit_notes').selectAll().where('invoice_id', '=', id).orderBy('number').execute();
  return { ...invoice, display_number: invoice.number === null ? null : `${invoice.series}-${invoice.number}`, lines, payments, credit_notes: creditNotes };
}
