import { RampartError } from '../../core/index.js';
import { priceAmount } from '../catalog/pricing.js';
import { createDraftInvoice, type LineSpec } from '../invoices/index.js';
import { loadCustomer, loadPrice, priceModel } from '../store.js';
import { billingTables, type BillingDeps, type InvoiceRow, type OperationContext, type Tx } from '../types.js';

/** A one-off draft invoice: lines are catalog prices × quantities, priced here (BI-3), one currency. */
export async function createOneOffInvoice(tx: Tx, deps: BillingDeps, context: OperationContext, input: { customerId: string; lines: Array<{ priceId: string; quantity: bigint }> }): Promise<InvoiceRow> {
  const trx = billingTables(tx);
  const customer = await loadCustomer(trx, input.customerId);
  const lines: LineSpec[] = [];
  let currency: string | undefined;
  for (const [index, line] of input.lines.entries()) {
    const price = await loadPrice(trx, line.priceId);
    currency ??= price.currency;
    if (price.currency !== currency) throw new RampartError('validation_failed', { detail: 'all lines of an invoice share one currency', issues: [{ pointer: `/lines/${index}/price_id`, message: `a ${currency} price` }] });
    lines.push({ description: `Price ${price.id}`, priceId: price.id, quantity: line.quantity, amount: priceAmount(priceModel(price), line.quantity), taxBehavior: price.tax_behavior });
  }
  return createDraftInvoice(tx, deps, context, { customer, subscriptionId: null, kind: 'one_off', currency: currency!, lines });
}
