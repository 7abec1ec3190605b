import type { Migration } from '../migrate.js';

/**
 * Billing (controls BI-1, BI-2, BI-3, BI-5). Every table is tenant-scoped under forced RLS
 * (invariant 1). Money is int8 minor units with its ISO 4217 code beside it (invariant 4).
 *
 * - Cards never reach Rampart (BI-1): a customer holds only a PSP token (`payment_method`).
 * - Finalized invoices are frozen by triggers: after `draft`, only the payment/closing columns may
 *   change, and lines of a non-draft invoice can be neither added, changed nor removed.
 *   Corrections are credit notes.
 * - Numbers are gapless per tenant and series: `billing_number_sequences` is incremented in the
 *   finalizing transaction, so a crash or rollback returns the number with everything else.
 * - Webhook event ids and idempotency keys are primary keys, which is what makes redelivery and
 *   concurrent duplicates safe (BI-2).
 * - A credit or write-off can only be decided by someone other than its requester (BI-3): the
 *   CHECK holds even if application code is wrong.
 */
export const billingMigration: Migration = {
  version: 9,
  name: 'billing',
  sql: `
CREATE TABLE billing_settings (
  tenant_id uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  seller_name text NOT NULL DEFAULT '' CHECK (length(seller_name) <= 200),
  seller_country char(2) NOT NULL DEFAULT 'DE' CHECK (seller_country ~ '^[A-Z]{2}$'),
  seller_vat_id text CHECK (length(seller_vat_id) <= 32),
  bank_details jsonb NOT NULL DEFAULT '{}',
  non_eu_rates jsonb NOT NULL DEFAULT '{}',
  oss_destination boolean NOT NULL DEFAULT true,
  per_line_rounding boolean NOT NULL DEFAULT false,
  max_discount_percent_bp integer NOT NULL DEFAULT 5000 CHECK (max_discount_percent_bp BETWEEN 0 AND 10000),
  max_discount_amount bigint CHECK (max_discount_amount >= 0),
  dunning_retry_days integer[] NOT NULL DEFAULT '{1,3,5,7}',
  dunning_grace_days integer NOT NULL DEFAULT 3 CHECK (dunning_grace_days BETWEEN 0 AND 90),
  dunning_final_action text NOT NULL DEFAULT 'suspend' CHECK (dunning_final_action IN ('suspend', 'cancel')),
  credit_request_ttl_hours integer NOT NULL DEFAULT 72 CHECK (credit_request_ttl_hours BETWEEN 1 AND 2160),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE billing_products (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id uuid PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text CHECK (length(description) <= 2000),
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id)
);

CREATE TABLE billing_prices (
  tenant_id uuid NOT NULL,
  id uuid PRIMARY KEY,
  product_id uuid NOT NULL,
  currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  type text NOT NULL CHECK (type IN ('flat', 'per_seat', 'tiered', 'metered')),
  unit_amount bigint NOT NULL DEFAULT 0 CHECK (unit_amount >= 0),
  tiers_mode text CHECK (tiers_mode IN ('graduated', 'volume')),
  tiers jsonb NOT NULL DEFAULT '[]',
  billing_interval text NOT NULL CHECK (billing_interval IN ('month', 'year')),
  tax_behavior text NOT NULL CHECK (tax_behavior IN ('exclusive', 'inclusive')),
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, product_id) REFERENCES billing_products(tenant_id, id)
);

CREATE TABLE billing_customers (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id uuid PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  email text CHECK (length(email) <= 320),
  address jsonb NOT NULL DEFAULT '{}',
  country char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
  is_business boolean NOT NULL DEFAULT false,
  tax_id text CHECK (length(tax_id) <= 32),
  tax_id_valid boolean NOT NULL DEFAULT false,
  tax_exempt boolean NOT NULL DEFAULT false,
  payment_method text CHECK (payment_method ~ '^(tok|pm)_[A-Za-z0-9]{8,64}$'),
  balance bigint NOT NULL DEFAULT 0 CHECK (balance >= 0),
  balance_currency char(3),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id)
);

CREATE TABLE billing_coupons (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id uuid PRIMARY KEY,
  code text NOT NULL CHECK (code ~ '^[A-Z0-9_-]{2,40}$'),
  percent_off_bp integer CHECK (percent_off_bp BETWEEN 1 AND 10000),
  amount_off bigint CHECK (amount_off > 0),
  currency char(3),
  duration text NOT NULL CHECK (duration IN ('once', 'repeating', 'forever')),
  duration_months integer CHECK (duration_months BETWEEN 1 AND 120),
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, code),
  UNIQUE (tenant_id, id),
  CHECK ((percent_off_bp IS NULL) <> (amount_off IS NULL)),
  CHECK (amount_off IS NULL OR currency IS NOT NULL),
  CHECK ((duration = 'repeating') = (duration_months IS NOT NULL))
);

CREATE TABLE billing_subscriptions (
  tenant_id uuid NOT NULL,
  id uuid PRIMARY KEY,
  customer_id uuid NOT NULL,
  price_id uuid NOT NULL,
  quantity bigint NOT NULL DEFAULT 1 CHECK (quantity >= 0),
  status text NOT NULL CHECK (status IN ('incomplete', 'trialing', 'active', 'past_due', 'paused', 'suspended', 'canceled')),
  currency char(3) NOT NULL,
  current_period_start timestamptz NOT NULL,
  current_period_end timestamptz NOT NULL,
  trial_end timestamptz,
  cancel_at_period_end boolean NOT NULL DEFAULT false,
  canceled_at timestamptz,
  paused_at timestamptz,
  coupon_id uuid,
  coupon_periods_used integer NOT NULL DEFAULT 0,
  dunning_attempt integer NOT NULL DEFAULT 0,
  next_retry_at timestamptz,
  past_due_since timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  CHECK (current_period_end > current_period_start),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES billing_customers(tenant_id, id),
  FOREIGN KEY (tenant_id, price_id) REFERENCES billing_prices(tenant_id, id),
  FOREIGN KEY (tenant_id, coupon_id) REFERENCES billing_coupons(tenant_id, id)
);
CREATE INDEX billing_subscriptions_due ON billing_subscriptions (current_period_end) WHERE status IN ('trialing', 'active');
CREATE INDEX billing_subscriptions_retry ON billing_subscriptions (next_retry_at) WHERE status = 'past_due';

CREATE TABLE billing_usage_events (
  tenant_id uuid NOT NULL,
  id uuid PRIMARY KEY,
  subscription_id uuid NOT NULL,
  event_id text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
  quantity bigint NOT NULL CHECK (quantity >= 0),
  occurred_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, subscription_id, event_id),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES billing_subscriptions(tenant_id, id)
);
CREATE INDEX billing_usage_window ON billing_usage_events (tenant_id, subscription_id, occurred_at);

CREATE TABLE billing_number_sequences (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  series text NOT NULL CHECK (series ~ '^[A-Z0-9-]{1,20}$'),
  next_number bigint NOT NULL DEFAULT 1 CHECK (next_number >= 1),
  PRIMARY KEY (tenant_id, series)
);

CREATE TABLE billing_invoices (
  tenant_id uuid NOT NULL,
  id uuid PRIMARY KEY,
  customer_id uuid NOT NULL,
  subscription_id uuid,
  kind text NOT NULL CHECK (kind IN ('subscription', 'proration', 'one_off')),
  status text NOT NULL CHECK (status IN ('draft', 'open', 'paid', 'uncollectible', 'void')),
  series text NOT NULL DEFAULT 'INV',
  number bigint,
  currency char(3) NOT NULL,
  period_start timestamptz,
  period_end timestamptz,
  subtotal bigint NOT NULL,
  discount_total bigint NOT NULL DEFAULT 0,
  taxable_total bigint NOT NULL,
  tax_total bigint NOT NULL,
  total bigint NOT NULL,
  credit_applied bigint NOT NULL DEFAULT 0 CHECK (credit_applied >= 0),
  amount_due bigint NOT NULL CHECK (amount_due >= 0),
  amount_paid bigint NOT NULL DEFAULT 0 CHECK (amount_paid >= 0),
  tax_breakdown jsonb NOT NULL DEFAULT '[]',
  buyer jsonb NOT NULL,
  seller jsonb NOT NULL,
  coupon_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  finalized_at timestamptz,
  paid_at timestamptz,
  closed_at timestamptz,
  UNIQUE (tenant_id, id),
  UNIQUE (tenant_id, series, number),
  CHECK ((status = 'draft') = (number IS NULL)),
  CHECK (amount_paid <= amount_due),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES billing_customers(tenant_id, id),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES billing_subscriptions(tenant_id, id)
);
CREATE INDEX billing_invoices_customer ON billing_invoices (tenant_id, customer_id, created_at);

CREATE TABLE billing_invoice_lines (
  tenant_id uuid NOT NULL,
  id uuid PRIMARY KEY,
  invoice_id uuid NOT NULL,
  position integer NOT NULL,
  description text NOT NULL CHECK (length(description) <= 500),
  price_id uuid,
  quantity bigint NOT NULL DEFAULT 1,
  amount bigint NOT NULL,
  discount bigint NOT NULL DEFAULT 0,
  net bigint NOT NULL,
  tax bigint NOT NULL,
  gross bigint NOT NULL,
  tax_behavior text NOT NULL CHECK (tax_behavior IN ('exclusive', 'inclusive')),
  vat_category text NOT NULL CHECK (vat_category IN ('S', 'AE', 'E', 'G', 'O')),
  vat_rate text NOT NULL,
  proration boolean NOT NULL DEFAULT false,
  period_start timestamptz,
  period_end timestamptz,
  UNIQUE (tenant_id, invoice_id, position),
  CHECK (gross = net + tax),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES billing_invoices(tenant_id, id)
);

CREATE FUNCTION billing_invoice_frozen() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF OLD.status <> 'draft' AND (
       NEW.number IS DISTINCT FROM OLD.number OR NEW.series <> OLD.series OR NEW.currency <> OLD.currency
    OR NEW.customer_id <> OLD.customer_id OR NEW.subtotal <> OLD.subtotal OR NEW.discount_total <> OLD.discount_total
    OR NEW.taxable_total <> OLD.taxable_total OR NEW.tax_total <> OLD.tax_total OR NEW.total <> OLD.total
    OR NEW.credit_applied <> OLD.credit_applied OR NEW.amount_due <> OLD.amount_due
    OR NEW.tax_breakdown <> OLD.tax_breakdown OR NEW.buyer <> OLD.buyer OR NEW.seller <> OLD.seller
    OR NEW.finalized_at IS DISTINCT FROM OLD.finalized_at OR NEW.status = 'draft') THEN
    RAISE EXCEPTION 'a finalized invoice is immutable; issue a credit note' USING ERRCODE = '23514';
  END IF;
  IF OLD.status IN ('void', 'paid') AND NEW.status <> OLD.status THEN
    RAISE EXCEPTION 'a % invoice cannot change status', OLD.status USING ERRCODE = '23514';
  END IF;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER billing_invoice_frozen BEFORE UPDATE ON billing_invoices FOR EACH ROW EXECUTE FUNCTION billing_invoice_frozen();

CREATE FUNCTION billing_invoice_lines_frozen() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE invoice_status text;
BEGIN
  SELECT status INTO invoice_status FROM billing_invoices WHERE id = COALESCE(NEW.invoice_id, OLD.invoice_id);
  IF invoice_status IS DISTINCT FROM 'draft' THEN
    RAISE EXCEPTION 'lines of a finalized invoice are immutable' USING ERRCODE = '23514';
  END IF;
  RETURN COALESCE(NEW, OLD);
END
$fn$;
CREATE TRIGGER billing_invoice_lines_frozen BEFORE INSERT OR UPDATE OR DELETE ON billing_invoice_lines FOR EACH ROW EXECUTE FUNCTION billing_invoice_lines_frozen();

CREATE TABLE billing_credit_notes (
  tenant_id uuid NOT NULL,
  id uuid PRIMARY KEY,
  invoice_id uuid NOT NULL,
  series text NOT NULL DEFAULT 'CN',
  number bigint NOT NULL,
  reason text NOT NULL CHECK (length(reason) BETWEEN 10 AND 2000),
  currency char(3) NOT NULL,
  taxable_total bigint NOT NULL,
  tax_total bigint NOT NULL,
  total bigint NOT NULL CHECK (total > 0),
  lines jsonb NOT NULL,
  tax_breakdown jsonb NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, series, number),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES billing_invoices(tenant_id, id)
);

CREATE TABLE billing_payments (
  tenant_id uuid NOT NULL,
  id uuid PRIMARY KEY,
  invoice_id uuid NOT NULL,
  customer_id uuid NOT NULL,
  provider text NOT NULL CHECK (provider IN ('sandbox', 'stripe')),
  provider_payment_id text,
  amount bigint NOT NULL CHECK (amount > 0),
  currency char(3) NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'requires_action', 'succeeded', 'failed')),
  amount_refunded bigint NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0),
  failure_code text CHECK (length(failure_code) <= 100),
  next_action_url text CHECK (length(next_action_url) <= 2000),
  last_event_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  UNIQUE (provider, provider_payment_id),
  CHECK (amount_refunded <= amount),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES billing_invoices(tenant_id, id)
);

CREATE TABLE billing_refunds (
  tenant_id uuid NOT NULL,
  id uuid PRIMARY KEY,
  payment_id uuid NOT NULL,
  amount bigint NOT NULL CHECK (amount > 0),
  currency char(3) NOT NULL,
  status text NOT NULL CHECK (status IN ('succeeded', 'pending', 'failed')),
  provider_refund_id text,
  justification text NOT NULL CHECK (length(justification) BETWEEN 10 AND 2000),
  requested_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, payment_id) REFERENCES billing_payments(tenant_id, id)
);

CREATE TABLE billing_credit_requests (
  tenant_id uuid NOT NULL,
  id uuid PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('credit', 'write_off')),
  customer_id uuid NOT NULL,
  invoice_id uuid,
  amount bigint NOT NULL CHECK (amount > 0),
  currency char(3) NOT NULL,
  justification text NOT NULL CHECK (length(justification) BETWEEN 10 AND 2000),
  status text NOT NULL CHECK (status IN ('pending', 'applied', 'rejected', 'expired')),
  requested_by text NOT NULL,
  decided_by text,
  decided_at timestamptz,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (decided_by IS NULL OR decided_by <> requested_by),
  CHECK ((kind = 'write_off') = (invoice_id IS NOT NULL)),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES billing_customers(tenant_id, id)
);
CREATE INDEX billing_credit_requests_pending ON billing_credit_requests (expires_at) WHERE status = 'pending';

CREATE TABLE billing_idempotency_keys (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  key text NOT NULL CHECK (length(key) BETWEEN 8 AND 255),
  scope text NOT NULL,
  request_hash text NOT NULL,
  response_status integer,
  response_body jsonb,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, key)
);
CREATE INDEX billing_idempotency_expiry ON billing_idempotency_keys (expires_at);

CREATE TABLE billing_webhook_events (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  provider text NOT NULL,
  event_id text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 255),
  type text NOT NULL CHECK (length(type) <= 100),
  event_created_at timestamptz NOT NULL,
  processed_at timestamptz NOT NULL,
  outcome text NOT NULL CHECK (length(outcome) <= 200),
  PRIMARY KEY (tenant_id, provider, event_id)
);

CREATE TABLE billing_notices (
  tenant_id uuid NOT NULL,
  id uuid PRIMARY KEY,
  customer_id uuid NOT NULL,
  subscription_id uuid,
  kind text NOT NULL CHECK (length(kind) <= 100),
  detail jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES billing_customers(tenant_id, id)
);

DO $rls$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['billing_settings', 'billing_products', 'billing_prices', 'billing_customers', 'billing_coupons', 'billing_subscriptions',
    'billing_usage_events', 'billing_number_sequences', 'billing_invoices', 'billing_invoice_lines', 'billing_credit_notes', 'billing_payments',
    'billing_refunds', 'billing_credit_requests', 'billing_idempotency_keys', 'billing_webhook_events', 'billing_notices'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I TO rampart_app USING (tenant_id = rampart_current_tenant()) WITH CHECK (tenant_id = rampart_current_tenant())', t);
    EXECUTE format('CREATE POLICY system_access ON %I TO CURRENT_USER USING (true) WITH CHECK (true)', t);
  END LOOP;
END
$rls$;
GRANT SELECT, INSERT ON billing_settings TO rampart_app;
GRANT UPDATE (seller_name, seller_country, seller_vat_id, bank_details, non_eu_rates, oss_destination, per_line_rounding, max_discount_percent_bp, max_discount_amount,
  dunning_retry_days, dunning_grace_days, dunning_final_action, credit_request_ttl_hours, updated_at) ON billing_settings TO rampart_app;
GRANT SELECT, INSERT ON billing_products TO rampart_app;
GRANT UPDATE (name, description, active) ON billing_products TO rampart_app;
GRANT SELECT, INSERT ON billing_prices TO rampart_app;
GRANT UPDATE (active) ON billing_prices TO rampart_app;
GRANT SELECT, INSERT ON billing_customers TO rampart_app;
GRANT UPDATE (name, email, address, country, is_business, tax_id, tax_id_valid, tax_exempt, payment_method, balance, balance_currency, updated_at) ON billing_customers TO rampart_app;
GRANT SELECT, INSERT ON billing_coupons TO rampart_app;
GRANT UPDATE (active) ON billing_coupons TO rampart_app;
GRANT SELECT, INSERT ON billing_subscriptions TO rampart_app;
GRANT UPDATE (price_id, quantity, status, current_period_start, current_period_end, trial_end, cancel_at_period_end, canceled_at, paused_at,
  coupon_id, coupon_periods_used, dunning_attempt, next_retry_at, past_due_since, updated_at) ON billing_subscriptions TO rampart_app;
GRANT SELECT, INSERT ON billing_usage_events TO rampart_app;
GRANT SELECT, INSERT ON billing_number_sequences TO rampart_app;
GRANT UPDATE (next_number) ON billing_number_sequences TO rampart_app;
GRANT SELECT, INSERT ON billing_invoices TO rampart_app;
GRANT UPDATE (status, number, finalized_at, credit_applied, amount_due, amount_paid, paid_at, closed_at) ON billing_invoices TO rampart_app;
GRANT SELECT, INSERT ON billing_invoice_lines TO rampart_app;
GRANT SELECT, INSERT ON billing_credit_notes TO rampart_app;
GRANT SELECT, INSERT ON billing_payments TO rampart_app;
GRANT UPDATE (provider_payment_id, status, amount_refunded, failure_code, next_action_url, last_event_at, updated_at) ON billing_payments TO rampart_app;
GRANT SELECT, INSERT ON billing_refunds TO rampart_app;
GRANT UPDATE (status, provider_refund_id) ON billing_refunds TO rampart_app;
GRANT SELECT, INSERT ON billing_credit_requests TO rampart_app;
GRANT UPDATE (status, decided_by, decided_at) ON billing_credit_requests TO rampart_app;
GRANT SELECT, INSERT, DELETE ON billing_idempotency_keys TO rampart_app;
GRANT UPDATE (scope, request_hash, response_status, response_body, created_at, expires_at) ON billing_idempotency_keys TO rampart_app;
GRANT SELECT, INSERT ON billing_webhook_events TO rampart_app;
GRANT UPDATE (outcome) ON billing_webhook_events TO rampart_app;
GRANT SELECT, INSERT ON billing_notices TO rampart_app;
`,
};
