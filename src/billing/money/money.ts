import { RampartError } from '../../core/index.js';
import { CURRENCY_EXPONENTS, isCurrency } from './currencies.js';

/**
 * Money is an integer count of minor units (`bigint`) with an ISO 4217 currency (invariant 4).
 * There is no float anywhere on this path: amounts come in as strings, rates as decimal strings
 * turned into exact fractions, and every division goes through `roundDiv`, the one rounding rule
 * (half away from zero), so an invoice and the credit note that mirrors it round identically.
 */

export type Money = { readonly amount: bigint; readonly currency: string };

/** A rate as an exact fraction of one: "20" percent is 20/100, "5.5" is 55/1000. */
export type Rate = { readonly num: bigint; readonly den: bigint };

const invalid = (pointer: string, message: string) => new RampartError('validation_failed', { detail: `${pointer}: ${message}`, issues: [{ pointer, message }] });

export function currencyExponent(currency: string): number {
  if (!isCurrency(currency)) throw invalid('/currency', 'an active ISO 4217 code in upper case, e.g. EUR');
  return CURRENCY_EXPONENTS[currency]!;
}

export const money = (amount: bigint, currency: string): Money => {
  currencyExponent(currency);
  return { amount, currency };
};

/** Largest amount Rampart accepts anywhere (well inside int8 and inside Stripe's integer range). */
export const MAX_MINOR = 10n ** 15n;

const MINOR = /^-?(0|[1-9][0-9]{0,17})$/;

/** Parses minor units given as a string of digits ("1999"). Numbers are refused: JSON numbers lose precision past 2^53. */
export function parseMinor(text: unknown, pointer = '/amount'): bigint {
  if (typeof text !== 'string' || !MINOR.test(text)) throw invalid(pointer, 'minor units as a string of digits, e.g. "1999"');
  const value = BigInt(text);
  if (value > MAX_MINOR || value < -MAX_MINOR) throw invalid(pointer, 'out of range');
  return value;
}

const DECIMAL = /^(-)?(0|[1-9][0-9]{0,17})(?:\.([0-9]{1,18}))?$/;

/** Parses a major-unit decimal string ("12.34" EUR -> 1234n); more decimals than the currency has are refused, not rounded. */
export function parseAmount(text: unknown, currency: string, pointer = '/amount'): bigint {
  const exponent = currencyExponent(currency);
  const match = typeof text === 'string' ? DECIMAL.exec(text) : null;
  if (!match) throw invalid(pointer, 'a decimal string such as "12.34"');
  const [, sign, whole, fraction = ''] = match;
  if (fraction.length > exponent) throw invalid(pointer, `${currency} has ${exponent} decimal place(s)`);
  const minor = BigInt(whole!) * 10n ** BigInt(exponent) + BigInt(fraction.padEnd(exponent, '0') || '0');
  if (minor > MAX_MINOR) throw invalid(pointer, 'out of range');
  return sign ? -minor : minor;
}

export function formatAmount(amount: bigint, currency: string): string {
  const exponent = currencyExponent(currency);
  const negative = amount < 0n;
  const digits = (negative ? -amount : amount).toString().padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = exponent ? `.${digits.slice(digits.length - exponent)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction}`;
}

/**
 * The one rounding function: n / d rounded half away from zero (2.5 -> 3, -2.5 -> -3). Every
 * proration, tax and percentage in billing ends here, so the rule cannot drift between modules.
 */
export function roundDiv(n: bigint, d: bigint): bigint {
  if (d === 0n) throw new RangeError('division by zero');
  if (d < 0n) return roundDiv(-n, -d);
  const negative = n < 0n;
  const abs = negative ? -n : n;
  const quotient = abs / d;
  const rounded = (abs % d) * 2n >= d ? quotient + 1n : quotient;
  return negative ? -rounded : rounded;
}

/** amount × num / den, rounded once. */
export const scale = (amount: bigint, num: bigint, den: bigint): bigint => roundDiv(amount * num, den);

const RATE = /^(0|[1-9][0-9]{0,2})(?:\.([0-9]{1,6}))?$/;

/** A percentage given as a decimal string ("20", "5.5", "25.5") as an exact fraction of one. */
export function parseRate(percent: unknown, pointer = '/rate'): Rate {
  const match = typeof percent === 'string' ? RATE.exec(percent) : null;
  if (!match) throw invalid(pointer, 'a percentage as a decimal string, e.g. "20" or "5.5"');
  const fraction = match[2] ?? '';
  const den = 100n * 10n ** BigInt(fraction.length);
  const num = BigInt(match[1]!) * 10n ** BigInt(fraction.length) + BigInt(fraction || '0');
  if (num > den) throw invalid(pointer, 'at most 100');
  return { num, den };
}

/** The rate's percentage as a canonical decimal string ("5.50" -> "5.5"). */
export function formatRate(rate: Rate): string {
  const exact = (rate.num * 10n ** 8n) / rate.den; // percent × 10^6
  const whole = exact / 10n ** 6n;
  const fraction = (exact % 10n ** 6n).toString().padStart(6, '0').replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : `${whole}`;
}

export const applyRate = (base: bigint, rate: Rate): bigint => roundDiv(base * rate.num, rate.den);

/**
 * Splits `total` into parts proportional to `weights` without creating or losing a minor unit
 * (largest remainder; ties go to the earlier part). Used for discounts spread over lines,
 * tax-inclusive nets and partial credit notes, so sums always reconcile exactly.
 */
export function allocate(total: bigint, weights: readonly bigint[]): bigint[] {
  if (weights.length === 0) {
    if (total !== 0n) throw new RangeError('cannot allocate a non-zero amount over nothing');
    return [];
  }
  if (weights.some((w) => w < 0n)) throw new RangeError('weights must not be negative');
  if (total < 0n) return allocate(-total, weights).map((part) => -part);
  const sum = weights.reduce((a, b) => a + b, 0n);
  const effective = sum === 0n ? weights.map(() => 1n) : weights;
  const den = sum === 0n ? BigInt(weights.length) : sum;
  const parts = effective.map((w) => (total * w) / den);
  const remainders = effective.map((w, index) => ({ index, rest: (total * w) % den }));
  let left = total - parts.reduce((a, b) => a + b, 0n);
  remainders.sort((a, b) => (a.rest === b.rest ? a.index - b.index : a.rest > b.rest ? -1 : 1));
  for (const { index } of remainders) {
    if (left === 0n) break;
    parts[index]! += 1n;
    left -= 1n;
  }
  return parts;
}

export const sum = (amounts: readonly bigint[]): bigint => amounts.reduce((a, b) => a + b, 0n);

export function assertSameCurrency(a: string, b: string): void {
  if (a !== b) throw new RampartError('validation_failed', { detail: `currency ${b} does not match ${a}`, issues: [{ pointer: '/currency', message: `must be ${a}` }] });
}

/** JSON shape of an amount: minor units as a string (JSON numbers cannot carry int8 safely). */
export const moneyJson = (m: Money) => ({ amount: m.amount.toString(), currency: m.currency, formatted: formatAmount(m.amount, m.currency) });

/** For provider SDKs that take a JS number; refuses anything outside the safe-integer range. */
export function toSafeNumber(amount: bigint): number {
  if (amount > BigInt(Number.MAX_SAFE_INTEGER) || amount < -BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('amount exceeds the safe integer range');
  return Number(amount);
}

/** `pg` returns int8 as a string and PGlite as a bigint or number; this is the one way back to bigint. */
export function fromDb(value: string | number | bigint | null | undefined): bigint {
  if (value === null || value === undefined) return 0n;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError('int8 value outside the safe range arrived as a number');
    return BigInt(value);
  }
  return BigInt(value);
}

/** JSON.stringify that writes bigint as a decimal string instead of throwing. */
export const safeJson = (value: unknown): string => JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
