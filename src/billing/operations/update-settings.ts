import { fromDb, safeJson } from '../money/index.js';
import { getSettings, type Settings } from '../store.js';
import { isEu, isValidVatIdFormat, normalizeVatId } from '../tax/index.js';
import { RampartError } from '../../core/index.js';
import { billingTables, type BillingDeps, type OperationContext, type Tx } from '../types.js';

export type SettingsInput = {
  seller_name?: string | undefined;
  seller_country?: string | undefined;
  seller_vat_id?: string | null | undefined;
  bank_details?: Record<string, string> | undefined;
  non_eu_rates?: Record<string, string> | undefined;
  oss_destination?: boolean | undefined;
  per_line_rounding?: boolean | undefined;
  max_discount_percent?: string | undefined;
  max_discount_amount?: bigint | null | undefined;
  dunning_retry_days?: number[] | undefined;
  dunning_grace_days?: number | undefined;
  dunning_final_action?: 'suspend' | 'cancel' | undefined;
  credit_request_ttl_hours?: number | undefined;
  refund_approval_threshold?: bigint | undefined;
  justification: string;
};

/**
 * BI-3: a setting that loosens a financial control is itself credit-like. Raising the discount cap
 * or the refund threshold is refused here (one person may only tighten them); raising them is a
 * deliberate, audited change made outside the API until it gets its own approval request kind.
 */
function refuseLoosening(before: Settings, next: Settings): void {
  const amountCap = (v: bigint | null) => v ?? (1n << 62n);
  const loosened = [
    next.max_discount_percent_bp > before.max_discount_percent_bp && 'max_discount_percent',
    amountCap(next.max_discount_amount) > amountCap(before.max_discount_amount) && 'max_discount_amount',
    fromDb(next.refund_approval_threshold) > fromDb(before.refund_approval_threshold) && 'refund_approval_threshold',
  ].filter((k): k is string => typeof k === 'string');
  if (loosened.length) throw new RampartError('conflict', { detail: `raising ${loosened.join(', ')} loosens a financial control; one person cannot do it`, extensions: { reason: 'approval_required', settings: loosened.join(',') } });
}

/**
 * Billing settings, justified and audited. A change of the bank details invoices show (where the
 * money goes) is its own audit event, `billing.bank_details.updated`, which the payout-edit alert
 * rule turns into an alert (MO-2): redirecting payments is a classic fraud.
 */
export async function updateSettings(tx: Tx, deps: BillingDeps, context: OperationContext, input: SettingsInput): Promise<Settings> {
  const trx = billingTables(tx);
  const before = await getSettings(trx, context.tenantId);
  const retry = input.dunning_retry_days;
  if (retry && retry.some((d, i) => i > 0 && d <= retry[i - 1]!)) throw new RampartError('validation_failed', { detail: 'retry days must ascend', issues: [{ pointer: '/dunning_retry_days', message: 'strictly ascending days' }] });
  const country = input.seller_country ?? before.seller_country;
  const vatId = input.seller_vat_id !== undefined ? (input.seller_vat_id ? normalizeVatId(input.seller_vat_id) : null) : before.seller_vat_id;
  if (vatId && isEu(country) && !isValidVatIdFormat(country, vatId)) throw new RampartError('validation_failed', { detail: 'not a valid VAT id for the seller country', issues: [{ pointer: '/seller_vat_id', message: 'invalid format' }] });
  const next: Settings = {
    ...before,
    ...(input.seller_name !== undefined ? { seller_name: input.seller_name } : {}),
    seller_country: country,
    seller_vat_id: vatId,
    ...(input.bank_details !== undefined ? { bank_details: input.bank_details } : {}),
    ...(input.non_eu_rates !== undefined ? { non_eu_rates: input.non_eu_rates } : {}),
    ...(input.oss_destination !== undefined ? { oss_destination: input.oss_destination } : {}),
    ...(input.per_line_rounding !== undefined ? { per_line_rounding: input.per_line_rounding } : {}),
    ...(input.max_discount_percent !== undefined ? { max_discount_percent_bp: Math.round(Number(input.max_discount_percent) * 100) } : {}),
    ...(input.max_discount_amount !== undefined ? { max_discount_amount: input.max_discount_amount } : {}),
    ...(retry ? { dunning_retry_days: retry } : {}),
    ...(input.dunning_grace_days !== undefined ? { dunning_grace_days: input.dunning_grace_days } : {}),
    ...(input.dunning_final_action !== undefined ? { dunning_final_action: input.dunning_final_action } : {}),
    ...(input.credit_request_ttl_hours !== undefined ? { credit_request_ttl_hours: input.credit_request_ttl_hours } : {}),
    ...(input.refund_approval_threshold !== undefined ? { refund_approval_threshold: input.refund_approval_threshold } : {}),
  };
  refuseLoosening(before, next);
  const row = {
    seller_name: next.seller_name,
    seller_country: next.seller_country,
    seller_vat_id: next.seller_vat_id,
    bank_details: JSON.stringify(next.bank_details),
    non_eu_rates: JSON.stringify(next.non_eu_rates),
    oss_destination: next.oss_destination,
    per_line_rounding: next.per_line_rounding,
    max_discount_percent_bp: next.max_discount_percent_bp,
    max_discount_amount: next.max_discount_amount,
    dunning_retry_days: next.dunning_retry_days,
    dunning_grace_days: next.dunning_grace_days,
    dunning_final_action: next.dunning_final_action,
    credit_request_ttl_hours: next.credit_request_ttl_hours,
    refund_approval_threshold: next.refund_approval_threshold,
    updated_at: deps.clock.now(),
  };
  await trx.insertInto('billing_settings').values({ tenant_id: context.tenantId, ...row }).onConflict((oc) => oc.column('tenant_id').doUpdateSet(row)).execute();
  const changed = (Object.keys(row) as Array<keyof typeof row>).filter((k) => k !== 'updated_at' && k !== 'bank_details' && safeJson(row[k]) !== safeJson(k === 'non_eu_rates' ? JSON.stringify(before.non_eu_rates) : before[k as keyof Settings]));
  const audit = (action: string, diff: Record<string, { before?: unknown; after?: unknown }>) =>
    deps.audit.record(tx, { tenantId: context.tenantId, actor: context.actor, action, target: { type: 'billing_settings', id: context.tenantId }, diff, justification: input.justification, ...(context.request ? { context: context.request } : {}) });
  if (changed.length) await audit('billing.settings.updated', Object.fromEntries(changed.map((k) => [k, { after: safeJson(row[k]) }])));
  if (input.bank_details !== undefined && safeJson(before.bank_details) !== safeJson(input.bank_details)) await audit('billing.bank_details.updated', { bank_details: { before: 'previous', after: 'changed' } });
  return getSettings(trx, context.tenantId);
}
