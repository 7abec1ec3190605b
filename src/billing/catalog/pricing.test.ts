import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { priceAmount, validateTiers, type PriceModel, type Tier } from './pricing.js';

/** BI-3: amounts come from the catalog. Stripe's documented tier examples as fixtures. */

const tiers: Tier[] = [
  { upTo: 5n, unitAmount: 500n, flatAmount: 0n },
  { upTo: 10n, unitAmount: 400n, flatAmount: 0n },
  { upTo: null, unitAmount: 300n, flatAmount: 100n },
];
const model = (partial: Partial<PriceModel>): PriceModel => ({ type: 'flat', unitAmount: 0n, tiersMode: null, tiers: [], ...partial });

describe('pricing', () => {
  it('flat ignores quantity; per seat multiplies', () => {
    expect(priceAmount(model({ type: 'flat', unitAmount: 4900n }), 3n)).toBe(4900n);
    expect(priceAmount(model({ type: 'per_seat', unitAmount: 1000n }), 7n)).toBe(7000n);
  });
  it('graduated: each unit at its tier, flat fee for every tier reached', () => {
    expect(priceAmount(model({ type: 'tiered', tiersMode: 'graduated', tiers }), 12n)).toBe(5n * 500n + 5n * 400n + 2n * 300n + 100n);
    expect(priceAmount(model({ type: 'tiered', tiersMode: 'graduated', tiers }), 0n)).toBe(0n);
  });
  it('volume: every unit at the tier the total reaches', () => {
    expect(priceAmount(model({ type: 'tiered', tiersMode: 'volume', tiers }), 6n)).toBe(6n * 400n);
    expect(priceAmount(model({ type: 'tiered', tiersMode: 'volume', tiers }), 11n)).toBe(11n * 300n + 100n);
  });
  it('metered: per unit, or by tiers', () => {
    expect(priceAmount(model({ type: 'metered', unitAmount: 2n }), 250n)).toBe(500n);
    expect(priceAmount(model({ type: 'metered', tiersMode: 'graduated', tiers }), 6n)).toBe(2900n);
  });
  it('refuses a negative quantity and malformed tiers', () => {
    expect(() => priceAmount(model({ type: 'per_seat', unitAmount: 1n }), -1n)).toThrow();
    expect(() => validateTiers([{ upTo: 5n, unitAmount: 1n, flatAmount: 0n }])).toThrow(/open/);
    expect(() => validateTiers([{ upTo: 5n, unitAmount: 1n, flatAmount: 0n }, { upTo: 5n, unitAmount: 1n, flatAmount: 0n }, { upTo: null, unitAmount: 1n, flatAmount: 0n }])).toThrow(/ascend/);
    expect(() => validateTiers([])).toThrow();
    expect(() => validateTiers(tiers)).not.toThrow();
  });
  it('property: graduated pricing never decreases with quantity and volume equals graduated with one tier', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10_000n }), fc.bigInt({ min: 0n, max: 10_000n }), (a, b) => {
        const [lo, hi] = a < b ? [a, b] : [b, a];
        const g = model({ type: 'tiered', tiersMode: 'graduated', tiers });
        expect(priceAmount(g, lo) <= priceAmount(g, hi)).toBe(true);
        const single = [{ upTo: null, unitAmount: 7n, flatAmount: 0n }];
        expect(priceAmount(model({ type: 'tiered', tiersMode: 'volume', tiers: single }), hi)).toBe(priceAmount(model({ type: 'tiered', tiersMode: 'graduated', tiers: single }), hi));
      }),
    );
  });
});
