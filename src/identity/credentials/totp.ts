import { timingSafeEqual } from 'node:crypto';
import { generateSecret, generateSync, generateURI } from 'otplib';
import QRCode from 'qrcode';
import { RampartError } from '../../core/index.js';

/**
 * TOTP (RFC 6238) for the second factor (control: ID-4). SHA-1, 6 digits, 30 s: the only profile
 * every authenticator app supports. otplib v13's functional API computes the codes; the window,
 * replay rule and comparison are ours so each is visible and tested:
 *
 * - window ±1 step (a code from the previous or next 30 s is accepted: clock drift, typing time);
 * - replay: a code whose step is <= the last step accepted for this user is refused, so a code seen
 *   over a shoulder or phished cannot be used again, not even within its 90 s of validity;
 * - format: exactly six ASCII digits; no trimming, no inner spaces, no full-width digits (the UI
 *   may strip a space it inserted itself before calling);
 * - constant time: all three candidates are computed and compared, no early exit.
 */

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
export const TOTP_WINDOW_STEPS = 1;
/** 20 random bytes = 160 bits, RFC 4226's recommended secret length; 32 base32 characters. */
export const TOTP_SECRET_BYTES = 20;

const CODE = /^[0-9]{6}$/;
const BASE32_SECRET = /^[A-Z2-7]{26,}=*$/;

export type TotpEnrollment = {
  /** Base32. Store it encrypted (core `sealValue`/envelope, context e.g. `identity.totp_secret`), never log it. */
  secret: string;
  /** `otpauth://totp/<issuer>:<account>?secret=...&issuer=...`; holds the secret. */
  otpauthUri: string;
  /** A standalone SVG (no script, no style attribute, no external reference) of the URI's QR code. */
  qrSvg: string;
  /** `data:image/svg+xml;base64,...` of `qrSvg`, for `<img src>` under a CSP with `img-src 'self' data:`. */
  qrDataUri: string;
};

export async function createTotpEnrollment({ accountName, issuer }: { accountName: string; issuer: string }): Promise<TotpEnrollment> {
  // A colon in either part would break the `issuer:account` label that apps parse.
  for (const [name, value] of [['accountName', accountName], ['issuer', issuer]] as const) {
    if (!value || value.includes(':') || value.length > 200) {
      throw new RampartError('bad_request', { detail: `${name} must be 1-200 characters without ':'` });
    }
  }
  const secret = generateSecret({ length: TOTP_SECRET_BYTES });
  const otpauthUri = generateURI({ issuer, label: accountName, secret, algorithm: 'sha1', digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS });
  const qrSvg = await QRCode.toString(otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { secret, otpauthUri, qrSvg, qrDataUri: `data:image/svg+xml;base64,${Buffer.from(qrSvg, 'utf8').toString('base64')}` };
}

export type TotpVerification =
  | { ok: true; step: number }
  | { ok: false; reason: 'malformed' | 'invalid' | 'replayed' };

export const totpStep = (now: Date): number => Math.floor(now.getTime() / 1000 / TOTP_PERIOD_SECONDS);

/** The code for a step; for tests and the enrollment confirmation screen of a test authenticator. */
export function totpCodeAt({ secret, step }: { secret: string; step: number }): string {
  return generateSync({ secret, epoch: step * TOTP_PERIOD_SECONDS, period: TOTP_PERIOD_SECONDS, digits: TOTP_DIGITS, algorithm: 'sha1' });
}

/**
 * Checks a code. On `ok`, the caller must store `step` as the user's `lastUsedStep` in the same
 * transaction that accepts the sign-in (compare-and-set), or two parallel requests could both use
 * one code. A bad code must also count against the throttle (ID-9): 10^6 codes are guessable.
 */
export function verifyTotp({ secret, code, lastUsedStep, now = new Date() }: { secret: string; code: string; lastUsedStep?: number | null; now?: Date }): TotpVerification {
  if (!BASE32_SECRET.test(secret)) throw new RampartError('internal', { detail: 'stored TOTP secret is not base32' });
  if (typeof code !== 'string' || !CODE.test(code)) return { ok: false, reason: 'malformed' };

  const current = totpStep(now);
  const given = Buffer.from(code, 'ascii');
  let matched: number | undefined;
  for (let step = current - TOTP_WINDOW_STEPS; step <= current + TOTP_WINDOW_STEPS; step++) {
    const isMatch = timingSafeEqual(Buffer.from(totpCodeAt({ secret, step }), 'ascii'), given);
    // Keep the latest matching step (two steps sharing a code is a 1e-6 event; prefer the one not yet used).
    if (isMatch) matched = step;
  }
  if (matched === undefined) return { ok: false, reason: 'invalid' };
  if (lastUsedStep !== undefined && lastUsedStep !== null && matched <= lastUsedStep) return { ok: false, reason: 'replayed' };
  return { ok: true, step: matched };
}
