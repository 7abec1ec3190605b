import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addInterval, prorate } from './periods.js';

describe('BI-5 billing periods and proration by the second', () => {
  it('keeps the anchor day across short months', () => {
    const jan31 = new Date('2026-01-31T10:00:00Z');
    const feb = addInterval(jan31, 'month');
    expect(feb.toISOString()).toBe('2026-02-28T10:00:00.000Z');
    expect(addInterval(feb, 'month', 31).toISOString()).toBe('2026-03-31T10:00:00.000Z');
    expect(addInterval(new Date('2028-02-29T00:00:00Z'), 'year').toISOString()).toBe('2029-02-28T00:00:00.000Z');
  });
  it('BI-5 upgrade halfway through a 10 -> 20 plan charges 5 net (Stripe example)', () => {
    const start = new Date('2026-04-01T00:00:00Z');
    const end = new Date('2026-05-01T00:00:00Z');
    const half = new Date((start.getTime() + end.getTime()) / 2);
    const p = prorate({ periodStart: start, periodEnd: end, at: half, oldAmount: 1000n, newAmount: 2000n });
    expect(p).toMatchObject({ credit: -500n, charge: 1000n });
    expect(p.credit + p.charge).toBe(500n);
  });
  it('counts whole seconds: one second before the end prorates to (almost) nothing', () => {
    const start = new Date('2026-04-01T00:00:00Z');
    const end = new Date('2026-05-01T00:00:00Z');
    const p = prorate({ periodStart: start, periodEnd: end, at: new Date(end.getTime() - 1000), oldAmount: 259_200_000n, newAmount: 0n });
    expect(p.remainingSeconds).toBe(1n);
    expect(p.credit).toBe(-100n); // 259.2M × 1 / 2,592,000 s
  });
  it('property: credit and charge are within the price and opposite for a same-price change', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30 * 86_400 }), fc.bigInt({ min: 0n, max: 10n ** 9n }), (offset, amount) => {
        const start = new Date('2026-04-01T00:00:00Z');
        const end = new Date('2026-05-01T00:00:00Z');
        const p = prorate({ periodStart: start, periodEnd: end, at: new Date(start.getTime() + offset * 1000), oldAmount: amount, newAmount: amount });
        expect(p.credit + p.charge).toBe(0n);
        expect(p.charge <= amount && p.charge >= 0n).toBe(true);
      }),
    );
  });
});
