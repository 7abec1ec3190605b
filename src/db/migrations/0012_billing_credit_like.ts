import type { Migration } from '../migrate.js';

/**
 * BI-3 credit-like operations (docs/billing.md "Credit-like operations"): every operation that
 * lets a customer spend more or owe less without a payment waits in `billing_credit_requests`
 * for a second person. The request table learns the new kinds and what each one points at;
 * an invoice records what credit notes took off its amount due (`amount_credited`, never more
 * than is still owed) and what they moved to the customer's balance (`credited_to_balance`,
 * never more than was paid less refunds: checked in the operation, which locks the invoice).
 */
export const billingCreditLikeMigration: Migration = {
  version: 12,
  name: 'billing_credit_like',
  sql: `
DO $drop$
DECLARE c text;
BEGIN
  FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'billing_credit_requests'::regclass AND contype = 'c'
    AND (pg_get_constraintdef(oid) LIKE '%write_off%') LOOP
    EXECUTE format('ALTER TABLE billing_credit_requests DROP CONSTRAINT %I', c);
  END LOOP;
END
$drop$;
ALTER TABLE billing_credit_requests ADD COLUMN payment_id uuid;
ALTER TABLE billing_credit_requests ADD CONSTRAINT billing_credit_requests_kind CHECK (kind IN ('credit', 'write_off', 'credit_note', 'void', 'refund'));
ALTER TABLE billing_credit_requests ADD CONSTRAINT billing_credit_requests_target CHECK (
  (kind IN ('write_off', 'credit_note', 'void')) = (invoice_id IS NOT NULL) AND (kind = 'refund') = (payment_id IS NOT NULL));
ALTER TABLE billing_credit_requests ADD CONSTRAINT billing_credit_requests_payment FOREIGN KEY (tenant_id, payment_id) REFERENCES billing_payments(tenant_id, id);

ALTER TABLE billing_invoices ADD COLUMN amount_credited bigint NOT NULL DEFAULT 0 CHECK (amount_credited >= 0);
ALTER TABLE billing_invoices ADD COLUMN credited_to_balance bigint NOT NULL DEFAULT 0 CHECK (credited_to_balance >= 0);
ALTER TABLE billing_invoices ADD CONSTRAINT billing_invoices_credit_within_due CHECK (amount_paid + amount_credited <= amount_due);
GRANT UPDATE (amount_credited, credited_to_balance) ON billing_invoices TO rampart_app;

ALTER TABLE billing_settings ADD COLUMN refund_approval_threshold bigint NOT NULL DEFAULT 0 CHECK (refund_approval_threshold >= 0);
GRANT UPDATE (refund_approval_threshold) ON billing_settings TO rampart_app;
`,
};
