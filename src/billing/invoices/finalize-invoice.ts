import type { Transaction } from 'kysely';
import { RampartError } from '../../core/index.js';
import type { Schema } from '../../db/index.js';
import { fromDb } from '../money/index.js';
import { billingTables, type BillingDeps, type BillingTrx, type InvoiceRow, type OperationContext } from '../types.js';

/**
 * Finalizing freezes a draft and gives it its number (BI-4 groundwork, BI-5):
 * - The number comes from `billing_number_sequences`, incremented in this same transaction. The
 *   row lock serialises concurrent finalizations of a series; a rollback or a crash before commit
 *   returns the number with everything else. So numbers are gapless and unique per tenant and
 *   series, with no orphan (a number without its invoice) after a restart.
 * - The customer's credit balance is applied (and a negative total, e.g. a proration credit,
 *   becomes credit), and from here the triggers of migration 0009 refuse any edit.
 */

export type FinalizeHooks = { afterNumberAssigned?: (number: bigint) => void | Promise<void> };

export async function nextNumber(trx: BillingTrx, tenantId: string, series: string): Promise<bigint> {
  await trx.insertInto('billing_number_sequences').values({ tenant_id: tenantId, series, next_number: 1n }).onConflict((oc) => oc.doNothing()).execute();
  const row = await trx
    .updateTable('billing_number_sequences')
    .set((eb) => ({ next_number: eb('next_number', '+', 1n) }))
    .where('series', '=', series)
    .returning('next_number')
    .executeTakeFirstOrThrow();
  return fromDb(row.next_number) - 1n;
}

export async function finalizeInvoice(tx: Transaction<Schema>, deps: BillingDeps, context: OperationContext, invoiceId: string, hooks: FinalizeHooks = {}): Promise<InvoiceRow> {
  const trx = billingTables(tx);
  const invoice = await trx.selectFrom('billing_invoices').selectAll().where('id', '=', invoiceId).forUpdate().executeTakeFirst();
  if (!invoice) throw new RampartError('not_found', { detail: 'no such invoice' });
  if (invoice.status !== 'draft') throw new RampartError('conflict', { detail: `the invoice is ${invoice.status}, not a draft`, extensions: { reason: 'invoice_not_draft' } });
  const number = await nextNumber(trx, context.tenantId, invoice.series);
  await hooks.afterNumberAssigned?.(number);

  const total = fromDb(invoice.total);
  const customer = await trx.selectFrom('billing_customers').selectAll().where('id', '=', invoice.customer_id).forUpdate().executeTakeFirstOrThrow();
  let balance = fromDb(customer.balance);
  let credit = 0n;
  if (balance > 0n && customer.balance_currency === invoice.currency && total > 0n) credit = balance < total ? balance : total;
  balance -= credit;
  if (total < 0n) {
    // BI-3: unused time is credited only for a period that was paid for; otherwise the credit
    // would be value the customer never paid (pause/cancel a past-due subscription, repeat).
    if (invoice.subscription_id && (await subscriptionOwes(trx, invoice.subscription_id))) throw new RampartError('conflict', { detail: 'the subscription has unpaid invoices; a credit for unused time needs them paid first', extensions: { reason: 'subscription_unpaid' } });
    if (balance > 0n && customer.balance_currency !== invoice.currency) throw new RampartError('conflict', { detail: 'the customer holds credit in another currency', extensions: { reason: 'balance_currency' } });
    balance += -total;
  }
  if (balance !== fromDb(customer.balance)) {
    await trx
      .updateTable('billing_customers')
      .set({ balance, balance_currency: balance > 0n ? invoice.currency : null, updated_at: deps.clock.now() })
      .where('id', '=', customer.id)
      .execute();
  }
  const amountDue = total - credit > 0n ? total - credit : 0n;
  const now = deps.clock.now();
  const finalized = await trx
    .updateTable('billing_invoices')
    .set({ status: amountDue === 0n ? 'paid' : 'open', number, finalized_at: now, credit_applied: credit, amount_due: amountDue, ...(amountDue === 0n ? { paid_at: now } : {}) })
    .where('id', '=', invoiceId)
    .returningAll()
    .executeTakeFirstOrThrow();
  await deps.audit.record(tx, {
    tenantId: context.tenantId,
    actor: context.actor,
    action: 'billing.invoice.finalized',
    target: { type: 'billing_invoice', id: invoiceId },
    diff: { number: { after: `${invoice.series}-${number}` }, amount_due: { after: amountDue.toString() }, credit_applied: { after: credit.toString() } },
    ...(context.request ? { context: context.request } : {}),
  });
  return finalized;
}

/** Whether any finalized invoice of the subscription is still unpaid (open) or was written off. */
export async function subscriptionOwes(trx: BillingTrx, subscriptionId: string): Promise<boolean> {
  const unpaid = await trx.selectFrom('billing_invoices').select('id').where('subscription_id', '=', subscriptionId).where('status', 'in', ['open', 'uncollectible']).limit(1).execute();
  return unpaid.length > 0;
}
