import { fromDb } from '../money/index.js';
import type { InvoiceRow } from '../types.js';

/** What the customer still owes on an invoice: due, less payments, less pre-payment credit notes. */
export const outstanding = (invoice: Pick<InvoiceRow, 'amount_due' | 'amount_paid' | 'amount_credited'>): bigint => fromDb(invoice.amount_due) - fromDb(invoice.amount_paid) - fromDb(invoice.amount_credited);
