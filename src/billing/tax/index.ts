export { decideVat, euStandardRate, isEu, isValidVatIdFormat, normalizeVatId, EU_COUNTRIES, type VatCategory, type VatDecision, type TaxContext, type Party } from './vat.js';
export { computeDocument, discountAmount, type DocumentLineInput, type DocumentLine, type DocumentTotals, type BreakdownRow, type Discount, type TaxBehavior } from './document.js';
export { EU_VAT_RATES, EU_VAT_SOURCE, type VatPeriod } from './eu-vat-rates.js';
