import { sql } from 'kysely';
import { RampartError } from '../core/index.js';
import type { Tier, PriceModel } from './catalog/pricing.js';
import { fromDb } from './money/index.js';
import type { BillingTrx, CustomerRow, PriceRow, SettingsRow, SubscriptionRow } from './types.js';

/** Queries several operations share. All run inside the caller's tenant transaction (RLS). */

export type Settings = Omit<SettingsRow, 'non_eu_rates' | 'bank_details' | 'max_discount_amount' | 'updated_at'> & {
  non_eu_rates: Record<string, string>;
  bank_details: Record<string, string>;
  max_discount_amount: bigint | null;
};

export const DEFAULT_SETTINGS = (tenantId: string): Settings => ({
  tenant_id: tenantId,
  seller_name: '',
  seller_country: 'DE',
  seller_vat_id: null,
  bank_details: {},
  non_eu_rates: {},
  oss_destination: true,
  per_line_rounding: false,
  max_discount_percent_bp: 5000,
  max_discount_amount: null,
  dunning_retry_days: [1, 3, 5, 7],
  dunning_grace_days: 3,
  dunning_final_action: 'suspend',
  credit_request_ttl_hours: 72,
  refund_approval_threshold: 0n,
});

export async function getSettings(trx: BillingTrx, tenantId: string): Promise<Settings> {
  const row = await trx.selectFrom('billing_settings').selectAll().executeTakeFirst();
  if (!row) return DEFAULT_SETTINGS(tenantId);
  return {
    ...row,
    non_eu_rates: (row.non_eu_rates ?? {}) as Record<string, string>,
    bank_details: (row.bank_details ?? {}) as Record<string, string>,
    max_discount_amount: row.max_discount_amount === null ? null : fromDb(row.max_discount_amount),
  };
}

const notFound = (what: string) => new RampartError('not_found', { detail: `no such ${what}` });

export async function loadCustomer(trx: BillingTrx, id: string, { lock = false } = {}): Promise<CustomerRow> {
  let query = trx.selectFrom('billing_customers').selectAll().where('id', '=', id);
  if (lock) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (!row) throw notFound('customer');
  return row;
}

export async function loadPrice(trx: BillingTrx, id: string): Promise<PriceRow> {
  const row = await trx.selectFrom('billing_prices').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('price');
  return row;
}

export async function loadSubscription(trx: BillingTrx, id: string, { lock = false } = {}): Promise<SubscriptionRow> {
  let query = trx.selectFrom('billing_subscriptions').selectAll().where('id', '=', id);
  if (lock) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (!row) throw notFound('subscription');
  return row;
}

type StoredTier = { up_to: string | null; unit_amount: string; flat_amount: string };

export const tiersFromDb = (value: unknown): Tier[] =>
  ((value ?? []) as StoredTier[]).map((t) => ({ upTo: t.up_to === null ? null : BigInt(t.up_to), unitAmount: BigInt(t.unit_amount), flatAmount: BigInt(t.flat_amount) }));

export const tiersToDb = (tiers: readonly Tier[]): string =>
  JSON.stringify(tiers.map((t) => ({ up_to: t.upTo === null ? null : t.upTo.toString(), unit_amount: t.unitAmount.toString(), flat_amount: t.flatAmount.toString() })));

export const priceModel = (price: PriceRow): PriceModel => ({ type: price.type, unitAmount: fromDb(price.unit_amount), tiersMode: price.tiers_mode, tiers: tiersFromDb(price.tiers) });

/** Sum of metered usage in [from, to). */
export async function usageBetween(trx: BillingTrx, subscriptionId: string, from: Date, to: Date): Promise<bigint> {
  const row = await trx
    .selectFrom('billing_usage_events')
    .select(sql<bigint | null>`sum(quantity)`.as('total'))
    .where('subscription_id', '=', subscriptionId)
    .where('occurred_at', '>=', from)
    .where('occurred_at', '<', to)
    .executeTakeFirst();
  return fromDb(row?.total ?? null);
}
