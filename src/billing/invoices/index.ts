export { createDraftInvoice, couponDiscount, type LineSpec } from './create-invoice.js';
export { finalizeInvoice, nextNumber, subscriptionOwes, type FinalizeHooks } from './finalize-invoice.js';
export { outstanding } from './outstanding.js';
export { collectInvoice, applyPaymentOutcome, assertOpen } from './pay-invoice.js';
export { createCreditNote, creditNoteSplit } from './credit-note.js';
