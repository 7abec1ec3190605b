import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocate, applyRate, currencyExponent, formatAmount, formatRate, fromDb, moneyJson, parseAmount, parseMinor, parseRate, roundDiv, safeJson, sum, toSafeNumber } from './money.js';
import { CURRENCY_CODES } from './currencies.js';

/** Money math (invariant 4, BI-3): exact minor units, one rounding rule, nothing lost in allocation. */

describe('currencies', () => {
  it('knows the exponents of zero-, two-, three- and four-decimal currencies', () => {
    expect(currencyExponent('JPY')).toBe(0);
    expect(currencyExponent('EUR')).toBe(2);
    expect(currencyExponent('BHD')).toBe(3);
    expect(currencyExponent('CLF')).toBe(4);
    expect(CURRENCY_CODES.length).toBeGreaterThan(150);
  });
  it('refuses unknown or lower-case codes', () => {
    for (const code of ['eur', 'XAU', 'ABC', '']) expect(() => currencyExponent(code)).toThrow(/ISO 4217/);
  });
});

describe('parsing from strings only', () => {
  it('parses major-unit decimals by the currency exponent', () => {
    expect(parseAmount('12.34', 'EUR')).toBe(1234n);
    expect(parseAmount('12.3', 'EUR')).toBe(1230n);
    expect(parseAmount('1000', 'JPY')).toBe(1000n);
    expect(parseAmount('1.005', 'BHD')).toBe(1005n);
    expect(parseAmount('-0.01', 'USD')).toBe(-1n);
  });
  it('refuses numbers, extra decimals, exponents, separators and junk', () => {
    for (const bad of [12.34, '12.345', '1e3', '1,000.00', ' 1', '01', '.5', '0x10', '', null]) expect(() => parseAmount(bad, 'EUR')).toThrow();
    expect(() => parseAmount('1.5', 'JPY')).toThrow(/0 decimal/);
  });
  it('parses minor units from digit strings and refuses numbers (precision loss past 2^53)', () => {
    expect(parseMinor('1999')).toBe(1999n);
    expect(parseMinor('-5')).toBe(-5n);
    expect(() => parseMinor(1999)).toThrow();
    expect(() => parseMinor('9007199254740993.0')).toThrow();
    expect(() => parseMinor('10000000000000001')).toThrow(/range/);
  });
  it('formats back exactly, round trip for every currency', () => {
    fc.assert(
      fc.property(fc.constantFrom(...CURRENCY_CODES), fc.bigInt({ min: -(10n ** 14n), max: 10n ** 14n }), (currency, amount) => {
        expect(parseAmount(formatAmount(amount, currency), currency)).toBe(amount);
      }),
    );
    expect(formatAmount(5n, 'BHD')).toBe('0.005');
    expect(formatAmount(-1234n, 'EUR')).toBe('-12.34');
    expect(formatAmount(1234n, 'JPY')).toBe('1234');
  });
});

describe('one rounding rule: half away from zero', () => {
  it('rounds halves away from zero on both signs', () => {
    expect(roundDiv(5n, 2n)).toBe(3n);
    expect(roundDiv(-5n, 2n)).toBe(-3n);
    expect(roundDiv(4n, 3n)).toBe(1n);
    expect(roundDiv(5n, 3n)).toBe(2n);
    expect(roundDiv(-5n, 3n)).toBe(-2n);
    expect(roundDiv(5n, -2n)).toBe(-3n);
    expect(() => roundDiv(1n, 0n)).toThrow();
  });
  it('is symmetric: a credit note rounds to exactly minus its invoice', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), fc.bigInt({ min: 1n, max: 10n ** 9n }), (n, d) => {
        expect(roundDiv(-n, d)).toBe(-roundDiv(n, d));
        const r = roundDiv(n, d);
        // within half a unit of the exact quotient: |n - r d| <= d / 2
        const error = n - r * d;
        expect((error < 0n ? -error : error) * 2n <= d).toBe(true);
      }),
    );
  });
  it('parses rates exactly and applies them with the same rule', () => {
    expect(parseRate('20')).toEqual({ num: 20n, den: 100n });
    expect(parseRate('5.5')).toEqual({ num: 55n, den: 1000n });
    expect(formatRate(parseRate('25.50'))).toBe('25.5');
    expect(applyRate(1005n, parseRate('10'))).toBe(101n); // 100.5 -> 101
    expect(applyRate(-1005n, parseRate('10'))).toBe(-101n);
    for (const bad of ['101', '-1', '1e2', 20, '']) expect(() => parseRate(bad)).toThrow();
  });
});

describe('allocation without losing a minor unit', () => {
  it('splits 100 over three equal weights as 34/33/33', () => {
    expect(allocate(100n, [1n, 1n, 1n])).toEqual([34n, 33n, 33n]);
    expect(allocate(-100n, [1n, 1n, 1n])).toEqual([-34n, -33n, -33n]);
    expect(allocate(10n, [0n, 0n])).toEqual([5n, 5n]);
    expect(allocate(0n, [])).toEqual([]);
    expect(() => allocate(1n, [])).toThrow();
  });
  it('always sums to the total and stays within one unit of the exact share', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }), fc.array(fc.bigInt({ min: 0n, max: 10n ** 9n }), { minLength: 1, maxLength: 30 }), (total, weights) => {
        const parts = allocate(total, weights);
        expect(sum(parts)).toBe(total);
        const weightSum = sum(weights);
        if (weightSum > 0n) {
          parts.forEach((part, i) => {
            const exactTimesSum = total * weights[i]!;
            const diff = part * weightSum - exactTimesSum;
            expect((diff < 0n ? -diff : diff) < weightSum).toBe(true);
          });
        }
      }),
    );
  });
});

describe('safe JSON and database values', () => {
  it('writes bigint as strings instead of throwing', () => {
    expect(() => JSON.stringify({ a: 1n })).toThrow();
    expect(safeJson({ a: 12345678901234567890n })).toBe('{"a":"12345678901234567890"}');
    expect(moneyJson({ amount: 1999n, currency: 'EUR' })).toEqual({ amount: '1999', currency: 'EUR', formatted: '19.99' });
  });
  it('reads int8 from pg strings, bigint or safe numbers only', () => {
    expect(fromDb('9007199254740993')).toBe(9007199254740993n);
    expect(fromDb(12)).toBe(12n);
    expect(fromDb(null)).toBe(0n);
    expect(() => fromDb(2 ** 60)).toThrow();
    expect(() => toSafeNumber(2n ** 60n)).toThrow();
    expect(toSafeNumber(1999n)).toBe(1999);
  });
});
