import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CURRENCY_CODES, sum } from '../money/index.js';
import { computeDocument, type DocumentLineInput } from './document.js';
import { decideVat, euStandardRate, isValidVatIdFormat, type TaxContext } from './vat.js';

/** BI-5: VAT by jurisdiction with effective dates, and EN 16931 document-level rounding that reconciles. */

const on = new Date('2026-03-01T00:00:00Z');
const b2c = (country: string) => ({ country, isBusiness: false, exempt: false });
const ctx = (buyer: TaxContext['buyer'], seller = { country: 'DE' }, extra: Partial<TaxContext> = {}): TaxContext => ({ seller, buyer, date: on, ...extra });

describe('BI-5 VAT decisions', () => {
  it('rates change on their effective date (DE 16% in 2020-H2, FI 25.5% from 2024-09-01)', () => {
    expect(euStandardRate('DE', new Date('2020-08-01'))).toBe('16');
    expect(euStandardRate('DE', new Date('2021-01-01'))).toBe('19');
    expect(euStandardRate('FI', new Date('2024-08-31'))).toBe('24');
    expect(euStandardRate('FI', new Date('2024-09-01'))).toBe('25.5');
    expect(() => euStandardRate('US', on)).toThrow();
  });
  it('BI-5 domestic B2C and B2B pay the seller state rate', () => {
    expect(decideVat(ctx(b2c('DE')))).toMatchObject({ category: 'S', rate: '19', country: 'DE' });
    expect(decideVat(ctx({ ...b2c('DE'), isBusiness: true, vatId: 'DE123456789' }))).toMatchObject({ category: 'S', rate: '19' });
  });
  it('BI-5 intra-EU B2B with a valid VAT id is reverse charge; an invalid id falls back to B2C (OSS)', () => {
    expect(decideVat(ctx({ country: 'FR', isBusiness: true, exempt: false, vatId: 'FR12345678901' }))).toMatchObject({ category: 'AE', rate: '0' });
    expect(decideVat(ctx({ country: 'FR', isBusiness: true, exempt: false, vatId: 'FR123' }))).toMatchObject({ category: 'S', rate: '20', country: 'FR' });
  });
  it('BI-5 OSS: cross-border B2C pays the destination rate; under the threshold, the seller rate', () => {
    expect(decideVat(ctx(b2c('HU')))).toMatchObject({ category: 'S', rate: '27', country: 'HU' });
    expect(decideVat(ctx(b2c('HU'), { country: 'DE' }, { ossDestination: false }))).toMatchObject({ category: 'S', rate: '19', country: 'DE' });
  });
  it('BI-5 exports are zero-rated; a registered non-EU jurisdiction uses the configured table', () => {
    expect(decideVat(ctx(b2c('US')))).toMatchObject({ category: 'G', rate: '0' });
    expect(decideVat(ctx(b2c('GB'), { country: 'DE' }, { nonEuRates: { GB: '20' } }))).toMatchObject({ category: 'S', rate: '20', country: 'GB' });
    expect(decideVat(ctx(b2c('US'), { country: 'US' }))).toMatchObject({ category: 'O' });
    expect(decideVat(ctx(b2c('CH'), { country: 'CH' }, { nonEuRates: { CH: '8.1' } }))).toMatchObject({ category: 'S', rate: '8.1' });
  });
  it('BI-5 an exempt customer pays no VAT', () => {
    expect(decideVat(ctx({ ...b2c('DE'), exempt: true }))).toMatchObject({ category: 'E', rate: '0' });
  });
  it('validates EU VAT id formats, Greece as EL, ignoring spaces and dots', () => {
    expect(isValidVatIdFormat('DE', 'DE 123.456.789')).toBe(true);
    expect(isValidVatIdFormat('GR', 'EL123456789')).toBe(true);
    expect(isValidVatIdFormat('NL', 'NL123456789B01')).toBe(true);
    expect(isValidVatIdFormat('AT', 'ATU1234567')).toBe(false);
    expect(isValidVatIdFormat('US', 'US123')).toBe(false);
  });
});

describe('BI-5 EN 16931 document totals', () => {
  it('rounds VAT once per rate group (3 × 0.03 at 19%: 0.02), per line only when configured (0.03)', () => {
    const lines: DocumentLineInput[] = [3n, 3n, 3n].map((amount) => ({ amount, taxBehavior: 'exclusive', category: 'S', rate: '19' }));
    expect(computeDocument({ lines }).taxTotal).toBe(2n); // 9 × 0.19 = 1.71 -> 2
    expect(computeDocument({ lines, perLineRounding: true }).taxTotal).toBe(3n); // 0.57 -> 1, three times
  });
  it('applies discounts before VAT and caps them', () => {
    const lines: DocumentLineInput[] = [{ amount: 10_000n, taxBehavior: 'exclusive', category: 'S', rate: '20' }];
    const doc = computeDocument({ lines, discount: { percentBasisPoints: 5_000, cap: 3_000n } });
    expect(doc.discountTotal).toBe(3_000n);
    expect(doc.taxTotal).toBe(1_400n);
    expect(doc.total).toBe(8_400n);
  });
  it('derives the net of a tax-inclusive price', () => {
    const doc = computeDocument({ lines: [{ amount: 11_900n, taxBehavior: 'inclusive', category: 'S', rate: '19' }] });
    expect(doc).toMatchObject({ taxableTotal: 10_000n, taxTotal: 1_900n, total: 11_900n });
  });

  const rateArb = fc.constantFrom('0', '5', '5.5', '7', '10', '19', '20', '21', '25.5', '27', '8.1', '17.5');
  const lineArb = fc.record({
    amount: fc.bigInt({ min: -(10n ** 9n), max: 10n ** 10n }),
    taxBehavior: fc.constantFrom('exclusive' as const, 'inclusive' as const),
    category: fc.constantFrom('S' as const, 'AE' as const, 'E' as const, 'G' as const),
    rate: rateArb,
    discountable: fc.boolean(),
  });

  it('BI-5 property: lines, tax breakdown and totals always reconcile to the minor unit (random catalogs, currencies, rates, discounts)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CURRENCY_CODES),
        fc.array(lineArb, { minLength: 1, maxLength: 50 }),
        fc.option(fc.oneof(fc.record({ percentBasisPoints: fc.integer({ min: 0, max: 10_000 }) }), fc.record({ amountOff: fc.bigInt({ min: 0n, max: 10n ** 9n }) }))),
        fc.option(fc.bigInt({ min: 0n, max: 10n ** 8n })),
        fc.boolean(),
        (_currency, lines, discount, cap, perLineRounding) => {
          const doc = computeDocument({ lines, discount: discount ? { ...discount, cap } : null, perLineRounding });
          expect(sum(doc.lines.map((l) => l.net))).toBe(doc.taxableTotal);
          expect(sum(doc.lines.map((l) => l.tax))).toBe(doc.taxTotal);
          expect(sum(doc.lines.map((l) => l.gross))).toBe(doc.total);
          expect(sum(doc.breakdown.map((b) => b.taxable))).toBe(doc.taxableTotal);
          expect(sum(doc.breakdown.map((b) => b.tax))).toBe(doc.taxTotal);
          expect(doc.total).toBe(doc.taxableTotal + doc.taxTotal);
          const exclusiveTax = sum(doc.breakdown.filter((b) => b.taxBehavior === 'exclusive').map((b) => b.tax));
          expect(doc.total).toBe(doc.subtotal - doc.discountTotal + exclusiveTax);
          expect(sum(doc.lines.map((l) => l.discount))).toBe(doc.discountTotal);
          expect(doc.discountTotal >= 0n).toBe(true);
          if (cap !== null && discount) expect(doc.discountTotal <= cap).toBe(true);
          for (const row of doc.breakdown) if (row.rate === '0') expect(row.tax).toBe(0n);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: a full credit note (all amounts negated) mirrors its invoice exactly', () => {
    fc.assert(
      fc.property(fc.array(lineArb, { minLength: 1, maxLength: 20 }), (lines) => {
        const clean = lines.map((l) => ({ ...l, discountable: false }));
        const invoice = computeDocument({ lines: clean });
        const credit = computeDocument({ lines: clean.map((l) => ({ ...l, amount: -l.amount })) });
        expect(credit.total).toBe(-invoice.total);
        expect(credit.taxTotal).toBe(-invoice.taxTotal);
        expect(credit.breakdown.map((b) => b.tax)).toEqual(invoice.breakdown.map((b) => -b.tax));
      }),
    );
  });
});
