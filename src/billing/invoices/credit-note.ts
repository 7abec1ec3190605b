import { RampartError, uuidv7 } from '../../core/index.js';
import type { CreditApproval } from '../credits/approval.js';
import { allocate, fromDb, roundDiv, sum } from '../money/index.js';
import { billingTables, type BillingDeps, type BillingTrx, type CreditNoteRow, type InvoiceRow, type OperationContext, type Tx } from '../types.js';
import { nextNumber } from './finalize-invoice.js';
import { outstanding } from './outstanding.js';

/**
 * A credit note corrects a finalized invoice; the invoice itself is never edited. A full credit
 * note mirrors the invoice line by line (same nets, same VAT, to the cent). A partial one spreads
 * the credited gross over the invoice's lines in proportion to their gross (`allocate`, nothing
 * lost) and splits each share into net and VAT in the line's own ratio, so its breakdown and
 * totals reconcile exactly. Numbered gaplessly in series CN.
 *
 * It is credit-like (BI-3): it exists only through an approved request. Where the credit goes:
 * on an open invoice it first reduces what is still owed (Stripe's pre-payment credit note), and
 * only the rest goes to the customer's balance, never more than was paid on the invoice less its
 * refunds and earlier balance credits, so credit notes plus refunds never exceed what was paid.
 */

type CreditSplit = { toDue: bigint; toBalance: bigint };

/** How an amount (null: as much as may be credited) splits between the amount due and the balance. */
export async function creditNoteSplit(trx: BillingTrx, invoice: InvoiceRow, requested: bigint | null): Promise<CreditSplit> {
  if (invoice.status === 'draft' || invoice.status === 'void') throw new RampartError('conflict', { detail: `a ${invoice.status} invoice cannot be credited`, extensions: { reason: 'invoice_not_final' } });
  const previous = await trx.selectFrom('billing_credit_notes').select('total').where('invoice_id', '=', invoice.id).execute();
  const creditable = fromDb(invoice.total) - sum(previous.map((p) => fromDb(p.total)));
  const dueRoom = invoice.status === 'open' ? outstanding(invoice) : 0n;
  // A payment still in flight was sized on the old amount due; crediting under it would lose its excess.
  if (dueRoom > 0n && (await paymentInFlight(trx, invoice.id))) throw new RampartError('conflict', { detail: 'a payment on this invoice is still in progress', extensions: { reason: 'payment_in_flight' } });
  const refunds = await trx.selectFrom('billing_payments').select('amount_refunded').where('invoice_id', '=', invoice.id).execute();
  const paid = fromDb(invoice.amount_paid) + fromDb(invoice.credit_applied);
  const balanceRoom = paid - sum(refunds.map((r) => fromDb(r.amount_refunded))) - fromDb(invoice.credited_to_balance);
  const amount = requested ?? min(creditable, dueRoom + balanceRoom);
  if (amount <= 0n || amount > creditable) throw new RampartError('conflict', { detail: 'the credit would exceed the invoice total', extensions: { reason: 'credit_exceeds_invoice', remaining: creditable.toString() } });
  const toDue = min(amount, dueRoom);
  if (amount - toDue > balanceRoom) throw new RampartError('conflict', { detail: 'credit notes and refunds together would exceed what was paid on the invoice', extensions: { reason: 'credit_exceeds_paid', creditable: (dueRoom + balanceRoom).toString() } });
  return { toDue, toBalance: amount - toDue };
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);

export async function paymentInFlight(trx: BillingTrx, invoiceId: string): Promise<boolean> {
  const pending = await trx.selectFrom('billing_payments').select('id').where('invoice_id', '=', invoiceId).where('status', 'in', ['pending', 'requires_action']).limit(1).execute();
  return pending.length > 0;
}

export async function createCreditNote(tx: Tx, deps: BillingDeps, context: OperationContext, approval: CreditApproval): Promise<CreditNoteRow> {
  const trx = billingTables(tx);
  const { request } = approval;
  const invoice = request.invoice_id ? await trx.selectFrom('billing_invoices').selectAll().where('id', '=', request.invoice_id).forUpdate().executeTakeFirst() : undefined;
  if (request.kind !== 'credit_note' || !invoice) throw new RampartError('conflict', { detail: 'the approval is not for a credit note on this invoice', extensions: { reason: 'approval_mismatch' } });
  const amount = fromDb(request.amount);
  const split = await creditNoteSplit(trx, invoice, amount);
  const total = fromDb(invoice.total);
  const credited = sum((await trx.selectFrom('billing_credit_notes').select('total').where('invoice_id', '=', invoice.id).execute()).map((p) => fromDb(p.total)));
  const lines = await trx.selectFrom('billing_invoice_lines').selectAll().where('invoice_id', '=', invoice.id).orderBy('position').execute();
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
      reason: request.justification,
      currency: invoice.currency,
      taxable_total: amount - taxTotal,
      tax_total: taxTotal,
      total: amount,
      lines: JSON.stringify(creditLines.map((l) => ({ ...l, net: l.net.toString(), tax: l.tax.toString(), gross: l.gross.toString() }))),
      tax_breakdown: JSON.stringify([...groups.values()].map((g) => ({ ...g, taxable: g.taxable.toString(), tax: g.tax.toString() }))),
      created_by: request.requested_by,
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  const settles = split.toDue > 0n && split.toDue === outstanding(invoice);
  await trx
    .updateTable('billing_invoices')
    .set({ amount_credited: fromDb(invoice.amount_credited) + split.toDue, credited_to_balance: fromDb(invoice.credited_to_balance) + split.toBalance, ...(settles ? { status: 'paid', paid_at: now } : {}) })
    .where('id', '=', invoice.id)
    .execute();
  if (split.toBalance > 0n) {
    const customer = await trx.selectFrom('billing_customers').selectAll().where('id', '=', invoice.customer_id).forUpdate().executeTakeFirstOrThrow();
    const balance = fromDb(customer.balance);
    if (balance > 0n && customer.balance_currency !== invoice.currency) throw new RampartError('conflict', { detail: 'the customer holds credit in another currency', extensions: { reason: 'balance_currency' } });
    await trx.updateTable('billing_customers').set({ balance: balance + split.toBalance, balance_currency: invoice.currency, updated_at: now }).where('id', '=', customer.id).execute();
  }
  await deps.audit.record(tx, {
    tenantId: context.tenantId,
    actor: context.actor,
    action: 'billing.credit_note.created',
    target: { type: 'billing_credit_note', id: note.id },
    diff: { invoice: { after: invoice.id }, number: { after: `CN-${number}` }, total: { after: amount.toString() }, to_amount_due: { after: split.toDue.toString() }, to_balance: { after: split.toBalance.toString() }, request: { after: request.id }, approved_by: { after: approval.approvedBy } },
    justification: request.justification,
    ...(context.request ? { context: context.request } : {}),
  });
  return note;
}
