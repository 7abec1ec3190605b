import { RampartError } from '../../core/index.js';

/**
 * What a price charges for a quantity in one billing period, computed on the server from the
 * catalog only (BI-3): flat fee, per seat, tiered (graduated: each unit at its tier's rate;
 * volume: every unit at the rate of the tier the total falls in) and metered (usage summed over
 * the period, priced per unit or by tiers). Tiers follow Stripe's model: `upTo` is inclusive and
 * the last tier is open (`null`); a tier may carry a flat amount on top of its unit amount.
 */

export type PriceType = 'flat' | 'per_seat' | 'tiered' | 'metered';
export type TiersMode = 'graduated' | 'volume';
export type Tier = { upTo: bigint | null; unitAmount: bigint; flatAmount: bigint };
export type PriceModel = { type: PriceType; unitAmount: bigint; tiersMode: TiersMode | null; tiers: readonly Tier[] };

/** Tiers must ascend strictly and end with an open tier; otherwise some quantity has no price. */
export function validateTiers(tiers: readonly Tier[]): void {
  const fail = (message: string) => {
    throw new RampartError('validation_failed', { detail: `tiers: ${message}`, issues: [{ pointer: '/tiers', message }] });
  };
  if (tiers.length === 0) fail('at least one tier');
  let previous = 0n;
  tiers.forEach((tier, index) => {
    const last = index === tiers.length - 1;
    if (tier.unitAmount < 0n || tier.flatAmount < 0n) fail('amounts must not be negative');
    if (last && tier.upTo !== null) fail('the last tier must be open (up_to: null)');
    if (!last && (tier.upTo === null || tier.upTo <= previous)) fail('up_to must ascend strictly');
    if (tier.upTo !== null) previous = tier.upTo;
  });
}

function graduated(tiers: readonly Tier[], quantity: bigint): bigint {
  let total = 0n;
  let floor = 0n;
  for (const tier of tiers) {
    if (quantity <= floor) break;
    const ceiling = tier.upTo ?? quantity;
    const units = (quantity < ceiling ? quantity : ceiling) - floor;
    total += units * tier.unitAmount + tier.flatAmount;
    floor = ceiling;
  }
  return total;
}

function volume(tiers: readonly Tier[], quantity: bigint): bigint {
  if (quantity === 0n) return 0n;
  const tier = tiers.find((t) => t.upTo === null || quantity <= t.upTo) ?? tiers.at(-1)!;
  return quantity * tier.unitAmount + tier.flatAmount;
}

/** The amount for `quantity` units in one period, in the price's minor units. */
export function priceAmount(model: PriceModel, quantity: bigint): bigint {
  if (quantity < 0n) throw new RampartError('validation_failed', { detail: 'quantity must not be negative', issues: [{ pointer: '/quantity', message: 'zero or more' }] });
  if (model.type === 'flat') return model.unitAmount;
  if (model.type === 'per_seat') return model.unitAmount * quantity;
  if (model.tiers.length > 0) return (model.tiersMode ?? 'graduated') === 'volume' ? volume(model.tiers, quantity) : graduated(model.tiers, quantity);
  return model.unitAmount * quantity;
}
