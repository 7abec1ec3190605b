import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { containsPan, luhnValid, refusePan, valueContainsPan } from '../psp/pan.js';
import { signatureHeader, verifySignature } from './signature.js';

/** BI-2 signature scheme (compatible with Stripe's own library) and BI-1 card-number refusal. */

const secret = 'whsec_test_secret_0123456789';
const payload = JSON.stringify({ id: 'evt_1', type: 'payment_intent.succeeded' }, null, 2);
const now = new Date('2026-03-01T12:00:00Z');
const t = Math.floor(now.getTime() / 1000);

describe('BI-2 Stripe-Signature verification', () => {
  it('accepts a header produced by the official Stripe library, and Stripe accepts ours', () => {
    const stripe = new Stripe('sk_test_x');
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: t });
    expect(verifySignature({ payload, header, secrets: [secret], now })).toEqual({ timestamp: t });
    const ours = signatureHeader({ payload, secrets: [secret], timestamp: t });
    expect(() => stripe.webhooks.constructEvent(payload, ours, secret, 1e9)).not.toThrow();
  });
  it('BI-2 accepts any of several v1 values and any of several secrets (rotation)', () => {
    const header = `t=${t},v1=${'0'.repeat(64)},v1=${signatureHeader({ payload, secrets: ['new_secret_abcdefgh'], timestamp: t }).split('v1=')[1]}`;
    expect(() => verifySignature({ payload, header, secrets: ['old_secret_abcdefgh', 'new_secret_abcdefgh'], now })).not.toThrow();
  });
  it.each([
    ['a forged signature', `t=${t},v1=${'a'.repeat(64)}`],
    ['a signature over another body', signatureHeader({ payload: `${payload} `, secrets: [secret], timestamp: t })],
    ['a stale timestamp (301 s old)', signatureHeader({ payload, secrets: [secret], timestamp: t - 301 })],
    ['a timestamp from the future (301 s ahead)', signatureHeader({ payload, secrets: [secret], timestamp: t + 301 })],
    ['no v1', `t=${t}`],
    ['no timestamp', `v1=${'a'.repeat(64)}`],
    ['an empty header', ''],
  ])('BI-2 refuses %s with 400', (_name, header) => {
    expect(() => verifySignature({ payload, header, secrets: [secret], now })).toThrow(expect.objectContaining({ status: 400 }));
  });
  it('accepts a timestamp just inside the tolerance both ways', () => {
    for (const offset of [-300, 300]) expect(() => verifySignature({ payload, header: signatureHeader({ payload, secrets: [secret], timestamp: t + offset }), secrets: [secret], now })).not.toThrow();
  });
});

describe('BI-1 card numbers are refused anywhere in a request', () => {
  it('detects Luhn-valid 13-19 digit runs, typed with spaces or dashes', () => {
    expect(luhnValid('4242424242424242')).toBe(true);
    expect(containsPan('card 4242 4242 4242 4242 please')).toBe(true);
    expect(containsPan('4000-0000-0000-0002')).toBe(true);
    expect(containsPan('378282246310005')).toBe(true); // amex, 15 digits
    expect(valueContainsPan({ deep: [{ note: 'x', n: '5555555555554444' }] })).toBe(true);
    expect(valueContainsPan({ '4242424242424242': 1 })).toBe(true);
  });
  it('lets ordinary values through: ids, timestamps, amounts, non-Luhn numbers', () => {
    for (const value of ['pi_3Mtw4242424242424242abc', '1767225600', '4242424242424241', '01900000-0000-7000-8000-00000000abcd', 'DE123456789', '123456789012']) expect(containsPan(value)).toBe(false);
  });
  it('refuses without echoing the value', () => {
    try {
      refusePan({ name: '4242424242424242' });
      expect.unreachable();
    } catch (error) {
      expect(JSON.stringify(error)).not.toContain('4242424242424242');
      expect((error as Error).message).not.toContain('4242');
    }
  });
});
