import { createHmac, timingSafeEqual } from 'node:crypto';
import { RampartError } from '../../core/index.js';

/**
 * Stripe's webhook signature scheme (BI-2), used both ways: the sandbox PSP signs with it and the
 * intake verifies Stripe's and the sandbox's alike.
 *   Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>[,v1=…]
 * - The HMAC is over the raw bytes as received: a re-serialised JSON body would not match.
 * - Several v1 values, and several secrets on our side, make secret rotation seamless.
 * - The timestamp must be within the tolerance in both directions: an old capture replayed later
 *   fails, and so does a message dated in the future (a replay prepared in advance).
 * - Comparison is constant-time, so timing reveals nothing about how much of a guess was right.
 */

export const DEFAULT_TOLERANCE_SECONDS = 300;

export const hmacHex = (secret: string, timestamp: number, payload: string | Buffer): string =>
  createHmac('sha256', secret).update(`${timestamp}.`).update(payload).digest('hex');

export function signatureHeader({ payload, secrets, timestamp }: { payload: string | Buffer; secrets: readonly string[]; timestamp: number }): string {
  return [`t=${timestamp}`, ...secrets.map((secret) => `v1=${hmacHex(secret, timestamp, payload)}`)].join(',');
}

const refused = (detail: string) => new RampartError('bad_request', { detail, extensions: { reason: 'webhook_signature' } });

export function verifySignature({
  payload,
  header,
  secrets,
  now,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
}: {
  payload: Buffer | string;
  header: string | undefined;
  secrets: readonly string[];
  now: Date;
  toleranceSeconds?: number;
}): { timestamp: number } {
  if (!header || header.length > 4096) throw refused('missing or oversized Stripe-Signature header');
  let timestamp: number | undefined;
  const candidates: Buffer[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.split('=', 2).map((s) => s.trim());
    if (key === 't' && value && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    if (key === 'v1' && value && /^[0-9a-f]{64}$/.test(value)) candidates.push(Buffer.from(value, 'hex'));
  }
  if (timestamp === undefined || candidates.length === 0) throw refused('the Stripe-Signature header has no timestamp or no v1 signature');
  const age = Math.floor(now.getTime() / 1000) - timestamp;
  if (Math.abs(age) > toleranceSeconds) throw refused('the webhook timestamp is outside the tolerance');
  let valid = false;
  for (const secret of secrets) {
    const expected = Buffer.from(hmacHex(secret, timestamp, payload), 'hex');
    // Every pair is compared, so the time taken does not depend on which one matched.
    for (const candidate of candidates) if (timingSafeEqual(expected, candidate)) valid = true;
  }
  if (!valid) throw refused('no webhook signature matches');
  return { timestamp };
}
