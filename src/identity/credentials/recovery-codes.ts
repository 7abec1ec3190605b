import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { RampartError, Secret } from '../../core/index.js';

/**
 * Recovery codes (control: ID-4): one-time, stored hashed.
 *
 * A code is 12 characters from a 30-letter alphabet without look-alikes (no 0/o, 1/i/l, u),
 * shown as `xxxx-xxxx-xxxx`: log2(30^12) = 58.9 bits each. Stored as HMAC-SHA-256 under a
 * server-side pepper, not argon2: with 59 bits of entropy there is nothing for a slow hash to
 * stretch (a leaked table without the pepper cannot be attacked at all, and with it 2^58 HMACs on
 * average per code), while matching against 10 salted argon2 hashes would cost ~0.6 s of CPU per
 * attempt: a denial-of-service lever on an unauthenticated endpoint.
 *
 * One-time use is the caller's job: on a match, delete (or mark used) that stored hash in the same
 * transaction that accepts the sign-in, conditionally (`DELETE ... WHERE hash = $1` must affect one
 * row), so two parallel requests cannot both spend it.
 */

export const RECOVERY_CODE_ALPHABET = '23456789abcdefghjkmnpqrstvwxyz';
export const RECOVERY_CODE_LENGTH = 12;
export const RECOVERY_CODE_GROUP = 4;
export const RECOVERY_CODE_BITS = RECOVERY_CODE_LENGTH * Math.log2(RECOVERY_CODE_ALPHABET.length);
export const DEFAULT_RECOVERY_CODE_COUNT = 10;
const HASH_PREFIX = 'rc1$';
const MIN_PEPPER_BYTES = 32;

export type Pepper = Secret | Uint8Array;

function generateRecoveryCode(): string {
  let raw = '';
  // randomInt draws without modulo bias.
  for (let i = 0; i < RECOVERY_CODE_LENGTH; i++) raw += RECOVERY_CODE_ALPHABET[randomInt(RECOVERY_CODE_ALPHABET.length)];
  return raw.match(new RegExp(`.{${RECOVERY_CODE_GROUP}}`, 'g'))!.join('-');
}

/** Plaintext codes to show the user once; store only `hashRecoveryCode` of each. */
export function generateRecoveryCodes(n: number = DEFAULT_RECOVERY_CODE_COUNT): string[] {
  if (!Number.isSafeInteger(n) || n < 1 || n > 100) throw new RampartError('bad_request', { detail: 'recovery code count must be 1-100' });
  const codes = new Set<string>();
  while (codes.size < n) codes.add(generateRecoveryCode());
  return [...codes];
}

/**
 * Case, spaces and dashes (incl. Unicode dashes and full-width forms, via NFKC) are ignored.
 * Returns undefined when the result is not a well-formed code.
 */
export function normalizeRecoveryCode(input: string): string | undefined {
  if (typeof input !== 'string' || input.length > 100) return undefined;
  const compact = input.normalize('NFKC').toLowerCase().replace(/[\s\p{Pd}_]/gu, '');
  if (compact.length !== RECOVERY_CODE_LENGTH) return undefined;
  for (const char of compact) if (!RECOVERY_CODE_ALPHABET.includes(char)) return undefined;
  return compact;
}

function pepperBytes(pepper: Pepper): Buffer {
  const bytes = pepper instanceof Secret ? Buffer.from(pepper.reveal(), 'utf8') : Buffer.from(pepper);
  if (bytes.length < MIN_PEPPER_BYTES) throw new RampartError('internal', { detail: `recovery code pepper must be at least ${MIN_PEPPER_BYTES} bytes` });
  return bytes;
}

const mac = (normalized: string, pepper: Buffer): Buffer => createHmac('sha256', pepper).update(`rampart:recovery-code:v1|${normalized}`).digest();

/** The stored form: `rc1$<base64url HMAC-SHA-256>`. Throws on a malformed code (generate, then hash). */
export function hashRecoveryCode(code: string, pepper: Pepper): string {
  const normalized = normalizeRecoveryCode(code);
  if (!normalized) throw new RampartError('bad_request', { detail: 'not a recovery code' });
  return HASH_PREFIX + mac(normalized, pepperBytes(pepper)).toString('base64url');
}

/**
 * Index of the stored hash the input matches, or -1. Every stored hash is compared in constant
 * time, without early exit, so timing does not tell which slot matched or how many are left.
 */
export function matchRecoveryCode(input: string, storedHashes: ReadonlyArray<string>, pepper: Pepper): number {
  const key = pepperBytes(pepper);
  const normalized = normalizeRecoveryCode(input);
  // A malformed input still costs one HMAC and the comparisons.
  const candidate = mac(normalized ?? '', key);
  let found = -1;
  storedHashes.forEach((stored, index) => {
    const bytes = stored.startsWith(HASH_PREFIX) ? Buffer.from(stored.slice(HASH_PREFIX.length), 'base64url') : Buffer.alloc(0);
    const isMatch = bytes.length === candidate.length && timingSafeEqual(bytes, candidate);
    if (isMatch && found === -1 && normalized !== undefined) found = index;
  });
  return found;
}
