import { RampartError, uuidv7 } from '../../core/index.js';
import { fromDb, moneyJson } from '../money/index.js';
import { getSettings, tiersFromDb, tiersToDb } from '../store.js';
import { billingTables, type BillingDeps, type CouponRow, type OperationContext, type PriceRow, type ProductRow, type Tx } from '../types.js';
import { validateTiers, type Tier } from './pricing.js';

/** Products, prices and coupons. Each change is audited in its transaction (invariant 3). */

export type PriceInput = {
  productId: string;
  currency: string;
  type: PriceRow['type'];
  unitAmount: bigint;
  tiersMode: 'graduated' | 'volume' | null;
  tiers: Tier[];
  interval: 'month' | 'year';
  taxBehavior: 'exclusive' | 'inclusive';
};

const audit = (tx: Tx, deps: BillingDeps, context: OperationContext, action: string, target: { type: string; id: string }, diff: Record<string, { before?: unknown; after?: unknown }>, justification?: string) =>
  deps.audit.record(tx, { tenantId: context.tenantId, actor: context.actor, action, target, diff, ...(justification ? { justification } : {}), ...(context.request ? { context: context.request } : {}) });

export async function createProduct(tx: Tx, deps: BillingDeps, context: OperationContext, input: { name: string; description?: string | null }): Promise<ProductRow> {
  const now = deps.clock.now();
  const product = await billingTables(tx)
    .insertInto('billing_products')
    .values({ tenant_id: context.tenantId, id: uuidv7(now.getTime()), name: input.name, description: input.description ?? null, created_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
  await audit(tx, deps, context, 'billing.product.created', { type: 'billing_product', id: product.id }, { name: { after: product.name } });
  return product;
}

export async function createPrice(tx: Tx, deps: BillingDeps, context: OperationContext, input: PriceInput): Promise<PriceRow> {
  const trx = billingTables(tx);
  const product = await trx.selectFrom('billing_products').select(['id', 'active']).where('id', '=', input.productId).executeTakeFirst();
  if (!product) throw new RampartError('not_found', { detail: 'no such product' });
  if (input.type === 'tiered' && input.tiers.length === 0) throw new RampartError('validation_failed', { detail: 'a tiered price needs tiers', issues: [{ pointer: '/tiers', message: 'at least one tier' }] });
  if (input.tiers.length) validateTiers(input.tiers);
  if ((input.type === 'flat' || input.type === 'per_seat') && input.tiers.length) throw new RampartError('validation_failed', { detail: 'flat and per-seat prices have no tiers', issues: [{ pointer: '/tiers', message: 'only for tiered or metered prices' }] });
  const now = deps.clock.now();
  const price = await trx
    .insertInto('billing_prices')
    .values({
      tenant_id: context.tenantId,
      id: uuidv7(now.getTime()),
      product_id: input.productId,
      currency: input.currency,
      type: input.type,
      unit_amount: input.unitAmount,
      tiers_mode: input.tiers.length ? (input.tiersMode ?? 'graduated') : null,
      tiers: tiersToDb(input.tiers),
      billing_interval: input.interval,
      tax_behavior: input.taxBehavior,
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await audit(tx, deps, context, 'billing.price.created', { type: 'billing_price', id: price.id }, { type: { after: price.type }, unit_amount: { after: input.unitAmount.toString() }, currency: { after: price.currency } });
  return price;
}

/** BI-3: a coupon above the tenant's discount caps is refused at creation, and capped again on each invoice. */
export async function createCoupon(
  tx: Tx,
  deps: BillingDeps,
  context: OperationContext,
  input: { code: string; percentOffBasisPoints?: number; amountOff?: bigint; currency?: string; duration: CouponRow['duration']; durationMonths?: number },
): Promise<CouponRow> {
  const trx = billingTables(tx);
  const settings = await getSettings(trx, context.tenantId);
  if (input.percentOffBasisPoints !== undefined && input.percentOffBasisPoints > settings.max_discount_percent_bp) {
    throw new RampartError('validation_failed', { detail: `the tenant caps discounts at ${settings.max_discount_percent_bp / 100}%`, issues: [{ pointer: '/percent_off', message: 'above the tenant discount cap' }], extensions: { reason: 'discount_cap' } });
  }
  if (input.amountOff !== undefined && settings.max_discount_amount !== null && input.amountOff > settings.max_discount_amount) {
    throw new RampartError('validation_failed', { detail: 'the amount off is above the tenant cap per invoice', issues: [{ pointer: '/amount_off', message: 'above the tenant discount cap' }], extensions: { reason: 'discount_cap' } });
  }
  const now = deps.clock.now();
  const coupon = await trx
    .insertInto('billing_coupons')
    .values({
      tenant_id: context.tenantId,
      id: uuidv7(now.getTime()),
      code: input.code,
      percent_off_bp: input.percentOffBasisPoints ?? null,
      amount_off: input.amountOff ?? null,
      currency: input.amountOff !== undefined ? (input.currency ?? null) : null,
      duration: input.duration,
      duration_months: input.duration === 'repeating' ? (input.durationMonths ?? 1) : null,
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await audit(tx, deps, context, 'billing.coupon.created', { type: 'billing_coupon', id: coupon.id }, { code: { after: coupon.code }, percent_off_bp: { after: coupon.percent_off_bp }, amount_off: { after: input.amountOff?.toString() ?? null } });
  return coupon;
}

export const priceView = (price: PriceRow) => ({
  id: price.id,
  product_id: price.product_id,
  currency: price.currency,
  type: price.type,
  unit_amount: moneyJson({ amount: fromDb(price.unit_amount), currency: price.currency }),
  tiers_mode: price.tiers_mode,
  tiers: tiersFromDb(price.tiers).map((t) => ({ up_to: t.upTo?.toString() ?? null, unit_amount: t.unitAmount.toString(), flat_amount: t.flatAmount.toString() })),
  interval: price.billing_interval,
  tax_behavior: price.tax_behavior,
  active: price.active,
});
