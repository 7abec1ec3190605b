import { RampartError } from '../../core/index.js';

/**
 * BI-1: no Rampart endpoint accepts a card number. A run of 13 to 19 digits (spaces or dashes
 * allowed between them, as people type cards) that passes the Luhn check is treated as a PAN,
 * wherever it sits in a request, and the request is refused before anything stores or logs it.
 * The refusal names neither the value nor where it was found, so the error itself cannot leak it.
 */

const CANDIDATE = /(?<![0-9A-Za-z])\d(?:[ -]?\d){12,18}(?![0-9A-Za-z])/g;

export function luhnValid(digits: string): boolean {
  let total = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    total += d;
    double = !double;
  }
  return total % 10 === 0;
}

export function containsPan(text: string): boolean {
  for (const match of text.matchAll(CANDIDATE)) {
    const digits = match[0].replace(/[ -]/g, '');
    if (digits.length >= 13 && digits.length <= 19 && luhnValid(digits)) return true;
  }
  return false;
}

/** Walks any parsed JSON value (keys included) or raw text. */
export function valueContainsPan(value: unknown, depth = 0): boolean {
  if (depth > 32) return false;
  if (typeof value === 'string') return containsPan(value);
  if (typeof value === 'number' || typeof value === 'bigint') return containsPan(String(value));
  if (Buffer.isBuffer(value)) return containsPan(value.toString('utf8'));
  if (Array.isArray(value)) return value.some((v) => valueContainsPan(v, depth + 1));
  if (value && typeof value === 'object') return Object.entries(value).some(([k, v]) => containsPan(k) || valueContainsPan(v, depth + 1));
  return false;
}

export function refusePan(...values: unknown[]): void {
  if (values.some((v) => valueContainsPan(v))) {
    throw new RampartError('bad_request', {
      detail: 'the request contains what looks like a card number; Rampart never accepts card data (enter cards in the payment provider’s hosted fields)',
      extensions: { reason: 'card_data_refused' },
    });
  }
}
