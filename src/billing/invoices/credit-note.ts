import { RampartError, uuidv7 } from '../../core/index.js';
import { actorId } from '../../db/index.js';
import { allocate, fromDb, roundDiv, sum } from '../money/index.js';
import { billingTables, type BillingDeps, type CreditNoteRow, type OperationContext, type Tx } from '../types.js';
import { nextNumber } from './finalize-invoice.js';

/**
 * A credit note corrects a finalized invoice; the invoice itself is never edited. A full credit
 * note mirrors the invoice line by line (same nets, same VAT, to the cent). A partial one spreads
 * the credited gross over the invoice's lines in proportion to their gross (`allocate`, nothing
 * lost) and splits each share into net and VAT in the line's own ratio, so its breakdown and
 * totals reconcile exactly. The credited amount goes to the customer's balance (refunds of money
 * already captured are a separate, step-up-protected operation). Numbered gaplessly in series CN.
 */

export async function createCreditNote(tx: Tx, deps: BillingDeps, context: OperationContext, input: { invoiceId: string; amount: bigint | null; reason: string }): Promise<CreditNoteRow> {
  const trx = billingTables(tx);
  const invoice = await trx.selectFrom('billing_invoices').selectAll().where('id', '=', input.invoiceId).forUpdate().executeTakeFirst();
  if (!invoice) throw new RampartError('not_found', { detail: 'no such invoice' });
  if (invoice.status === 'draft' || invoice.status === 'void') throw new RampartError('conflict', { detail: `a ${invoice.status} invoice cannot be credited`, extensions: { reason: 'invoice_not_final' } });
  const lines = await trx.selectFrom('billing_invoice_lines').selectAll().where('invoice_id', '=', invoice.id).orderBy('position').execute();
  const total = fromDb(invoice.total);
  const previous = await trx.selectFrom('billing_credit_notes').select('total').where('invoice_id', '=', invoice.id).execute();
  const credited = sum(previous.map((p) => fromDb(p.total)));
  const amount = input.amount ?? total - credited;
  if (amount <= 0n || credited + amount > total) {
    throw new RampartError('conflict', { detail: 'the credit would exceed the invoice total', extensions: { reason: 'credit_exceeds_invoice', remaining: (total - credited).toString() } });
  }
  const grosses = lines.map((l) => fromDb(l.gross));
  const isFull = credited === 0n && amount === total;
  const shares = isFull ? grosses : allocate(amount, grosses.map((g) => (g > 0n ? g : 0n)));
  const creditLines = lines.map((line, index) => {
    const gross = shares[index]!;
    const lineGross = fromDb(line.gross);
    const tax = isFull ? fromDb(line.tax) : lineGross === 0n ? 0n : roundDiv(gross * fromDb(line.tax), lineGross);
    return { position: line.position, description: line.description, vat_category: line.vat_category, vat_rate: line.vat_rate, net: gross - tax, tax, gross };
  });
  const groups = new Map<string, { category: string; rate: string; taxable: bigint; tax: bigint }>();
  for (const line of creditLines) {
    const key = `${line.vat_category}|${line.vat_rate}`;
    const group = groups.get(key) ?? { category: line.vat_category, rate: line.vat_rate, taxable: 0n, tax: 0n };
    group.taxable += line.net;
    group.tax += line.tax;
    groups.set(key, group);
  }
  const taxTotal = sum(creditLines.map((l) => l.tax));
  const now = deps.clock.now();
  const number = await nextNumber(trx, context.tenantId, 'CN');
  const note = await trx
    .insertInto('billing_credit_notes')
    .values({
      tenant_id: context.tenantId,
      id: uuidv7(now.getTime()),
      invoice_id: invoice.id,
      series: 'CN',
      number,
      reason: input.reason,
      currency: invoice.currency,
      taxable_total: amount - taxTotal,
      tax_total: taxTotal,
      total: amount,
      lines: JSON.stringify(creditLines.map((l) => ({ ...l, net: l.net.toString(), tax: l.tax.toString(), gross: l.gross.toString() }))),
      tax_breakdown: JSON.stringify([...groups.values()].map((g) => ({ ...g, taxable: g.taxable.toString(), tax: g.tax.toString() }))),
      created_by: actorId(context.actor),
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  const customer = await trx.selectFrom('billing_customers').selectAll().where('id', '=', invoice.customer_id).forUpdate().executeTakeFirstOrThrow();
  const balance = fromDb(customer.balance);
  if (balance > 0n && customer.balance_currency !== invoice.currency) throw new RampartError('conflict', { detail: 'the customer holds credit in another currency', extensions: { reason: 'balance_currency' } });
  await trx.updateTable('billing_customers').set({ balance: balance + amount, balance_currency: invoice.currency, updated_at: now }).where('id', '=', customer.id).execute();
  await deps.audit.record(tx, {
    tenantId: context.tenantId,
    actor: context.actor,
    action: 'billing.credit_note.created',
    target: { type: 'billing_credit_note', id: note.id },
    diff: { invoice: { after: invoice.id }, number: { after: `CN-${number}` }, total: { after: amount.toString() } },
    justification: input.reason,
    ...(context.request ? { context: context.request } : {}),
  });
  return note;
}
