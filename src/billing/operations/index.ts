export { createOneOffInvoice } from './create-one-off-invoice.js';
export { ingestUsage } from './ingest-usage.js';
export { invoiceView } from './invoice-view.js';
export { updateSettings, type SettingsInput } from './update-settings.js';
export { voidInvoice, voidOrRequest } from './void-invoice.js';
export { verifyNumbering, type NumberingProblem, type NumberingReport, type SeriesReport } from './verify-numbering.js';
