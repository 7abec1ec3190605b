import type { ColumnType, Generated, Selectable, Transaction } from 'kysely';
import type { AuditLog, RequestContext } from '../audit/index.js';
import type { Clock, Logger } from '../core/index.js';
import type { Actor, Database, JobQueue, Schema } from '../db/index.js';
import type { PaymentProvider } from './psp/types.js';

/**
 * Kysely types of the billing tables (migration 0009). They stay inside the module: queries reach
 * them through `billingTables(trx)`, so the shared schema type is not widened for everyone.
 * int8 columns come back as bigint from both drivers (see db/connect.ts).
 */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json = ColumnType<unknown, string, string>;
type Int8 = ColumnType<bigint, bigint | number | undefined, bigint | number>;

export type SettingsTable = {
  tenant_id: string;
  seller_name: string;
  seller_country: string;
  seller_vat_id: string | null;
  bank_details: Json;
  non_eu_rates: Json;
  oss_destination: boolean;
  per_line_rounding: boolean;
  max_discount_percent_bp: number;
  max_discount_amount: ColumnType<bigint | null, bigint | null | undefined, bigint | null>;
  dunning_retry_days: ColumnType<number[], number[] | undefined, number[]>;
  dunning_grace_days: number;
  dunning_final_action: 'suspend' | 'cancel';
  credit_request_ttl_hours: number;
  refund_approval_threshold: Int8;
  updated_at: Timestamp;
};

export type ProductTable = { tenant_id: string; id: string; name: string; description: string | null; active: Generated<boolean>; created_at: Timestamp };

export type PriceTable = {
  tenant_id: string;
  id: string;
  product_id: string;
  currency: string;
  type: 'flat' | 'per_seat' | 'tiered' | 'metered';
  unit_amount: Int8;
  tiers_mode: 'graduated' | 'volume' | null;
  tiers: Json;
  billing_interval: 'month' | 'year';
  tax_behavior: 'exclusive' | 'inclusive';
  active: Generated<boolean>;
  created_at: Timestamp;
};

export type CustomerTable = {
  tenant_id: string;
  id: string;
  name: string;
  email: string | null;
  address: Json;
  country: string;
  is_business: boolean;
  tax_id: string | null;
  tax_id_valid: boolean;
  tax_exempt: boolean;
  payment_method: string | null;
  balance: Int8;
  balance_currency: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
};

export type CouponTable = {
  tenant_id: string;
  id: string;
  code: string;
  percent_off_bp: number | null;
  amount_off: ColumnType<bigint | null, bigint | null | undefined, bigint | null>;
  currency: string | null;
  duration: 'once' | 'repeating' | 'forever';
  duration_months: number | null;
  active: Generated<boolean>;
  created_at: Timestamp;
};

export type SubscriptionStatus = 'incomplete' | 'trialing' | 'active' | 'past_due' | 'paused' | 'suspended' | 'canceled';

export type SubscriptionTable = {
  tenant_id: string;
  id: string;
  customer_id: string;
  price_id: string;
  quantity: Int8;
  status: SubscriptionStatus;
  currency: string;
  current_period_start: Timestamp;
  current_period_end: Timestamp;
  trial_end: Date | null;
  cancel_at_period_end: boolean;
  canceled_at: Date | null;
  paused_at: Date | null;
  coupon_id: string | null;
  coupon_periods_used: number;
  dunning_attempt: number;
  next_retry_at: Date | null;
  past_due_since: Date | null;
  created_at: Timestamp;
  updated_at: Timestamp;
};

export type UsageEventTable = { tenant_id: string; id: string; subscription_id: string; event_id: string; quantity: Int8; occurred_at: Timestamp; created_at: Timestamp };

export type InvoiceStatus = 'draft' | 'open' | 'paid' | 'uncollectible' | 'void';

export type InvoiceTable = {
  tenant_id: string;
  id: string;
  customer_id: string;
  subscription_id: string | null;
  kind: 'subscription' | 'proration' | 'one_off';
  status: InvoiceStatus;
  series: string;
  number: ColumnType<bigint | null, bigint | null | undefined, bigint | null>;
  currency: string;
  period_start: Date | null;
  period_end: Date | null;
  subtotal: Int8;
  discount_total: Int8;
  taxable_total: Int8;
  tax_total: Int8;
  total: Int8;
  credit_applied: Int8;
  amount_due: Int8;
  amount_paid: Int8;
  amount_credited: Int8;
  credited_to_balance: Int8;
  tax_breakdown: Json;
  buyer: Json;
  seller: Json;
  coupon_id: string | null;
  created_at: Timestamp;
  finalized_at: Date | null;
  paid_at: Date | null;
  closed_at: Date | null;
};

export type InvoiceLineTable = {
  tenant_id: string;
  id: string;
  invoice_id: string;
  position: number;
  description: string;
  price_id: string | null;
  quantity: Int8;
  amount: Int8;
  discount: Int8;
  net: Int8;
  tax: Int8;
  gross: Int8;
  tax_behavior: 'exclusive' | 'inclusive';
  vat_category: 'S' | 'AE' | 'E' | 'G' | 'O';
  vat_rate: string;
  proration: boolean;
  period_start: Date | null;
  period_end: Date | null;
};

export type SequenceTable = { tenant_id: string; series: string; next_number: Int8 };

export type CreditNoteTable = {
  tenant_id: string;
  id: string;
  invoice_id: string;
  series: string;
  number: Int8;
  reason: string;
  currency: string;
  taxable_total: Int8;
  tax_total: Int8;
  total: Int8;
  lines: Json;
  tax_breakdown: Json;
  created_by: string;
  created_at: Timestamp;
};

export type PaymentStatus = 'pending' | 'requires_action' | 'succeeded' | 'failed';

export type PaymentTable = {
  tenant_id: string;
  id: string;
  invoice_id: string;
  customer_id: string;
  provider: 'sandbox' | 'stripe';
  provider_payment_id: string | null;
  amount: Int8;
  currency: string;
  status: PaymentStatus;
  amount_refunded: Int8;
  failure_code: string | null;
  next_action_url: string | null;
  last_event_at: Date | null;
  created_at: Timestamp;
  updated_at: Timestamp;
};

export type RefundTable = {
  tenant_id: string;
  id: string;
  payment_id: string;
  amount: Int8;
  currency: string;
  status: 'succeeded' | 'pending' | 'failed';
  provider_refund_id: string | null;
  justification: string;
  requested_by: string;
  created_at: Timestamp;
};

/** BI-3: every operation that lets a customer spend more or owe less without a payment. */
export const CREDIT_LIKE_KINDS = ['credit', 'write_off', 'credit_note', 'void', 'refund'] as const;
export type CreditLikeKind = (typeof CREDIT_LIKE_KINDS)[number];

export type CreditRequestTable = {
  tenant_id: string;
  id: string;
  kind: CreditLikeKind;
  customer_id: string;
  invoice_id: string | null;
  payment_id: string | null;
  amount: Int8;
  currency: string;
  justification: string;
  status: 'pending' | 'applied' | 'rejected' | 'expired';
  requested_by: string;
  decided_by: string | null;
  decided_at: Date | null;
  expires_at: Timestamp;
  created_at: Timestamp;
};

export type IdempotencyTable = {
  tenant_id: string;
  key: string;
  scope: string;
  request_hash: string;
  response_status: number | null;
  response_body: Json | null;
  created_at: Timestamp;
  expires_at: Timestamp;
};

export type WebhookEventTable = { tenant_id: string; provider: string; event_id: string; type: string; event_created_at: Timestamp; processed_at: Timestamp; outcome: string };

export type NoticeTable = { tenant_id: string; id: string; customer_id: string; subscription_id: string | null; kind: string; detail: Json; created_at: Timestamp };

export type BillingTables = {
  billing_settings: SettingsTable;
  billing_products: ProductTable;
  billing_prices: PriceTable;
  billing_customers: CustomerTable;
  billing_coupons: CouponTable;
  billing_subscriptions: SubscriptionTable;
  billing_usage_events: UsageEventTable;
  billing_number_sequences: SequenceTable;
  billing_invoices: InvoiceTable;
  billing_invoice_lines: InvoiceLineTable;
  billing_credit_notes: CreditNoteTable;
  billing_payments: PaymentTable;
  billing_refunds: RefundTable;
  billing_credit_requests: CreditRequestTable;
  billing_idempotency_keys: IdempotencyTable;
  billing_webhook_events: WebhookEventTable;
  billing_notices: NoticeTable;
};

export type SettingsRow = Selectable<SettingsTable>;
export type ProductRow = Selectable<ProductTable>;
export type PriceRow = Selectable<PriceTable>;
export type CustomerRow = Selectable<CustomerTable>;
export type CouponRow = Selectable<CouponTable>;
export type SubscriptionRow = Selectable<SubscriptionTable>;
export type UsageEventRow = Selectable<UsageEventTable>;
export type InvoiceRow = Selectable<InvoiceTable>;
export type InvoiceLineRow = Selectable<InvoiceLineTable>;
export type SequenceRow = Selectable<SequenceTable>;
export type CreditNoteRow = Selectable<CreditNoteTable>;
export type PaymentRow = Selectable<PaymentTable>;
export type RefundRow = Selectable<RefundTable>;
export type CreditRequestRow = Selectable<CreditRequestTable>;
export type IdempotencyRow = Selectable<IdempotencyTable>;
export type WebhookEventRow = Selectable<WebhookEventTable>;
export type NoticeRow = Selectable<NoticeTable>;

export type BillingTrx = Transaction<Schema & BillingTables>;

/** The billing tables on a tenant transaction (same transaction, same RLS scope). */
export const billingTables = (trx: Transaction<Schema>): BillingTrx => trx.withTables<BillingTables>() as unknown as BillingTrx;

/** Everything billing operations need, built once by the composition root. */
export type BillingDeps = {
  db: Database;
  audit: AuditLog;
  psp: PaymentProvider;
  clock: Clock;
  log: Logger;
  /** Webhook signing secrets, newest first; more than one while a secret rotates (BI-2). */
  webhookSecrets: readonly string[];
  webhookToleranceSeconds: number;
  /** Where customer notices are queued for delivery (the shared job queue); without it they are only recorded. */
  jobs?: JobQueue;
  /** Sends customer notices (identity's mailer: SMTP, or the development outbox). */
  mailer?: NoticeMailer;
};

/** The part of a mailer billing uses; identity's `Mailer` fits it. */
export type NoticeMailer = { readonly kind?: string; send(message: { to: string; subject: string; text: string }): Promise<void> };

/** Who did it and from where, for the audit events an operation writes. */
export type OperationContext = { tenantId: string; actor: Actor; request?: RequestContext };

export const SYSTEM_ACTOR: Actor = { type: 'system', id: 'billing' };

/** A tenant transaction as `withTenant` hands it out; operations widen it with `billingTables`. */
export type Tx = Transaction<Schema>;
