import { randomBytes } from 'node:crypto';
import { hash, parseOptions, verify, type Algorithm, type Version } from '@node-rs/argon2';
import { RampartError } from '../../core/index.js';

/**
 * Password hashing with argon2id (controls: ID-4 context, issue 3 item 2).
 *
 * Parameters: m = 64 MiB, t = 3, p = 1. That is above the OWASP floor (m = 19 MiB, t = 2, p = 1)
 * by ~5x in memory x passes and costs ~63 ms per verification on the 2-core reference machine
 * (`npx tsx bench/argon2.ts`; docs/identity-credentials.md has the table). p = 1 because the
 * libuv pool already runs several verifications in parallel; more lanes buy the attacker as much
 * as us. The password is NFKC-normalised first (NIST SP 800-63B 5.1.1.2), so the same password
 * typed on two keyboards that emit different code points still verifies.
 */

export type Argon2Params = {
  /** Memory in KiB (`m=` in the PHC string). */
  memoryCost: number;
  /** Passes over memory (`t=`). */
  timeCost: number;
  /** Lanes (`p=`). */
  parallelism: number;
};

export const OWASP_MINIMUM_ARGON2_PARAMS: Readonly<Argon2Params> = Object.freeze({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });
export const DEFAULT_ARGON2_PARAMS: Readonly<Argon2Params> = Object.freeze({ memoryCost: 65_536, timeCost: 3, parallelism: 1 });

// `Algorithm` and `Version` are ambient const enums, which isolatedModules cannot inline.
const ARGON2ID = 2 as Algorithm;
const VERSION_0x13 = 1 as Version;
const OUTPUT_BYTES = 32;

/**
 * Anything longer (UTF-16 units) is refused before hashing: argon2 itself is cheap on long input,
 * but NFKC on a megabyte string is not, and no real password is this long. The policy's limit is
 * 256 code points; this bound only stops abuse of the hashing endpoint.
 */
export const MAX_PASSWORD_INPUT_LENGTH = 4096;

const normalize = (password: string): string => password.normalize('NFKC');

function assertParams(params: Argon2Params): void {
  const floor = OWASP_MINIMUM_ARGON2_PARAMS;
  const isInteger = [params.memoryCost, params.timeCost, params.parallelism].every((n) => Number.isSafeInteger(n) && n > 0);
  if (!isInteger || params.memoryCost < floor.memoryCost || params.timeCost < floor.timeCost) {
    // A config typo must not silently weaken every new hash.
    throw new RampartError('internal', { detail: `argon2id parameters below the OWASP floor (m=${floor.memoryCost}, t=${floor.timeCost})` });
  }
}

const argonOptions = (params: Argon2Params) => ({ ...params, algorithm: ARGON2ID, version: VERSION_0x13, outputLen: OUTPUT_BYTES });

/** Returns a PHC string: `$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>`. */
export async function hashPassword(password: string, params: Argon2Params = DEFAULT_ARGON2_PARAMS): Promise<string> {
  assertParams(params);
  if (password.length === 0 || password.length > MAX_PASSWORD_INPUT_LENGTH) {
    throw new RampartError('bad_request', { detail: 'password length is out of range' });
  }
  return hash(normalize(password), argonOptions(params));
}

export type PasswordVerification = { ok: boolean; needsRehash: boolean };

/**
 * True when the stored hash is weaker than `current`: another algorithm or version, less memory,
 * fewer passes or a shorter output. A stronger stored hash is left alone (no downgrade on login).
 */
export function needsRehash(storedHash: string, current: Argon2Params = DEFAULT_ARGON2_PARAMS): boolean {
  let stored;
  try {
    stored = parseOptions(storedHash);
  } catch {
    return true;
  }
  return (
    stored.algorithm !== ARGON2ID ||
    stored.version !== VERSION_0x13 ||
    stored.memoryCost < current.memoryCost ||
    stored.timeCost < current.timeCost ||
    stored.outputLen < OUTPUT_BYTES
  );
}

/**
 * Verifies a password against its stored PHC string. `needsRehash` is only ever true with
 * `ok: true`: that is the one moment the caller holds the plaintext and can store a new hash.
 * A stored value that is not an argon2 PHC string is a data fault and throws (never "ok").
 */
export async function verifyPassword(storedHash: string, password: string, options: { current?: Argon2Params } = {}): Promise<PasswordVerification> {
  const current = options.current ?? DEFAULT_ARGON2_PARAMS;
  if (password.length === 0 || password.length > MAX_PASSWORD_INPUT_LENGTH) {
    // Same cost as a real miss, so the length check is not a timing oracle either.
    await dummyVerify(current);
    return { ok: false, needsRehash: false };
  }
  let ok: boolean;
  try {
    ok = await verify(storedHash, normalize(password));
  } catch (error) {
    throw new RampartError('internal', { detail: 'stored password hash is not a valid argon2 PHC string', cause: error });
  }
  return { ok, needsRehash: ok && needsRehash(storedHash, current) };
}

// One dummy hash per parameter set, made on first use. It is not a secret (its password is random
// and thrown away); caching it is what keeps the unknown-user path as slow as the known one.
const dummyHashes = new Map<string, Promise<string>>();

/**
 * Spends the same time as `verifyPassword` for a user that does not exist (or has no password), so
 * response time does not reveal whether an account exists. Always resolves to `false`.
 */
export async function dummyVerify(params: Argon2Params = DEFAULT_ARGON2_PARAMS): Promise<false> {
  const key = `${params.memoryCost}/${params.timeCost}/${params.parallelism}`;
  let dummy = dummyHashes.get(key);
  if (!dummy) {
    dummy = hashPassword(randomBytes(18).toString('base64url'), params);
    dummyHashes.set(key, dummy);
  }
  await verify(await dummy, 'rampart-dummy-password-that-never-matches');
  return false;
}
