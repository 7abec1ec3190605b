export { createDraftInvoice, couponDiscount, type LineSpec } from './create-invoice.js';
export { finalizeInvoice, nextNumber, type FinalizeHooks } from './finalize-invoice.js';
export { collectInvoice, applyPaymentOutcome, assertOpen } from './pay-invoice.js';
export { createCreditNote } from './credit-note.js';
