import { z } from 'zod';
import { isCurrency } from './money/index.js';
import { CREDIT_LIKE_KINDS } from './types.js';

/**
 * Request schemas of the billing API. Amounts are minor units as strings of digits (JSON numbers
 * cannot carry int8 exactly); money that the server computes is never accepted as an input,
 * except as `expected_amount`, which must match the server's figure (BI-3).
 */

export const minor = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,14})$/, 'minor units as a string of digits, e.g. "1999"')
  .transform((v) => BigInt(v));
export const positiveMinor = minor.refine((v) => v > 0n, 'must be positive');
export const quantity = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,9})$/, 'a whole number as a string')
  .transform((v) => BigInt(v));
export const currency = z.string().refine(isCurrency, 'an active ISO 4217 code in upper case, e.g. EUR');
export const country = z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 code in upper case');
const justification = z.string().min(10).max(2000);
export const idParams = z.strictObject({ id: z.uuid() });
export const listQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(50) });

export const productBody = z.strictObject({ name: z.string().trim().min(1).max(200), description: z.string().max(2000).nullish() });

const tier = z.strictObject({ up_to: quantity.nullable(), unit_amount: minor, flat_amount: minor.default(0n) });
export const priceBody = z.strictObject({
  product_id: z.uuid(),
  currency,
  type: z.enum(['flat', 'per_seat', 'tiered', 'metered']),
  unit_amount: minor.default(0n),
  tiers_mode: z.enum(['graduated', 'volume']).nullish(),
  tiers: z.array(tier).max(20).default([]),
  interval: z.enum(['month', 'year']),
  tax_behavior: z.enum(['exclusive', 'inclusive']).default('exclusive'),
});

export const couponBody = z
  .strictObject({
    code: z.string().regex(/^[A-Z0-9_-]{2,40}$/, 'upper-case letters, digits, - and _'),
    percent_off: z
      .string()
      .regex(/^(100|[1-9]?[0-9])(\.[0-9]{1,2})?$/, 'a percentage with up to two decimals, e.g. "15" or "12.5"')
      .optional(),
    amount_off: positiveMinor.optional(),
    currency: currency.optional(),
    duration: z.enum(['once', 'repeating', 'forever']),
    duration_months: z.number().int().min(1).max(120).optional(),
  })
  .refine((c) => (c.percent_off === undefined) !== (c.amount_off === undefined), { message: 'exactly one of percent_off and amount_off', path: ['percent_off'] })
  .refine((c) => c.amount_off === undefined || c.currency !== undefined, { message: 'amount_off needs a currency', path: ['currency'] });

const address = z.strictObject({
  line1: z.string().max(200).optional(),
  line2: z.string().max(200).optional(),
  city: z.string().max(100).optional(),
  postal_code: z.string().max(20).optional(),
  region: z.string().max(100).optional(),
});
export const customerBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  email: z.email().max(320).nullish(),
  address: address.optional(),
  country,
  is_business: z.boolean().default(false),
  tax_id: z.string().max(32).nullish(),
  tax_exempt: z.boolean().default(false),
});
export const customerPatch = customerBody.partial().strict();
export const paymentMethodBody = z.strictObject({ token: z.string().max(80) });
export const setupSessionBody = z.strictObject({ return_url: z.url({ protocol: /^https?$/ }).optional() });

export const subscriptionBody = z.strictObject({
  customer_id: z.uuid(),
  price_id: z.uuid(),
  quantity: quantity.default(1n),
  trial_days: z.number().int().min(0).max(365).default(0),
  coupon: z.string().max(40).nullish(),
  expected_amount: minor.nullish(),
});
export const changeBody = z.strictObject({ price_id: z.uuid().optional(), quantity: quantity.optional(), expected_amount: minor.nullish() });
export const cancelBody = z.strictObject({ at_period_end: z.boolean().default(true) });

export const usageBody = z.strictObject({ subscription_id: z.uuid(), event_id: z.string().min(1).max(200), quantity, occurred_at: z.iso.datetime({ offset: true }).optional() });

export const oneOffInvoiceBody = z.strictObject({
  customer_id: z.uuid(),
  lines: z.array(z.strictObject({ price_id: z.uuid(), quantity: quantity.default(1n) })).min(1).max(100),
});
export const payBody = z.strictObject({ amount: minor.optional() });
export const justifiedBody = z.strictObject({ justification });
export const creditNoteBody = z.strictObject({ amount: positiveMinor.nullish(), justification });
export const refundBody = z.strictObject({ amount: positiveMinor.nullish(), justification });
export const creditRequestBody = z.strictObject({
  kind: z.enum(CREDIT_LIKE_KINDS),
  customer_id: z.uuid().optional(),
  invoice_id: z.uuid().optional(),
  payment_id: z.uuid().optional(),
  amount: positiveMinor.nullish(),
  currency: currency.optional(),
  justification,
});

export const settingsBody = z.strictObject({
  seller_name: z.string().max(200).optional(),
  seller_country: country.optional(),
  seller_vat_id: z.string().max(32).nullish(),
  bank_details: z.record(z.string().regex(/^[a-z_]{1,40}$/), z.string().max(200)).optional(),
  non_eu_rates: z.record(country, z.string().regex(/^(0|[1-9][0-9]?)(\.[0-9]{1,3})?$/)).optional(),
  oss_destination: z.boolean().optional(),
  per_line_rounding: z.boolean().optional(),
  max_discount_percent: z.string().regex(/^(100|[1-9]?[0-9])(\.[0-9]{1,2})?$/).optional(),
  max_discount_amount: minor.nullish(),
  refund_approval_threshold: minor.optional(),
  dunning_retry_days: z.array(z.number().int().min(1).max(60)).min(1).max(10).optional(),
  dunning_grace_days: z.number().int().min(0).max(90).optional(),
  dunning_final_action: z.enum(['suspend', 'cancel']).optional(),
  credit_request_ttl_hours: z.number().int().min(1).max(2160).optional(),
  justification,
});

/** "12.5" percent -> 1250 basis points, exactly. */
export const basisPoints = (percent: string): number => {
  const [whole, fraction = ''] = percent.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
};
