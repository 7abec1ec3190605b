import { hash } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import { RampartError } from '../../core/index.js';
import {
  DEFAULT_ARGON2_PARAMS,
  MAX_PASSWORD_INPUT_LENGTH,
  OWASP_MINIMUM_ARGON2_PARAMS,
  dummyVerify,
  hashPassword,
  needsRehash,
  verifyPassword,
} from './password.js';

// The OWASP floor keeps most tests fast; the defaults are exercised where they matter.
const FAST = OWASP_MINIMUM_ARGON2_PARAMS;
const PASSWORD = 'correct horse battery staple';

describe('ID-4 password hashing (argon2id)', () => {
  it('ID-4 defaults are at or above the OWASP floor (m=19 MiB, t=2, p=1)', () => {
    expect(DEFAULT_ARGON2_PARAMS.memoryCost).toBeGreaterThanOrEqual(19_456);
    expect(DEFAULT_ARGON2_PARAMS.timeCost).toBeGreaterThanOrEqual(2);
    expect(DEFAULT_ARGON2_PARAMS.parallelism).toBeGreaterThanOrEqual(1);
  });

  it('ID-4 hashes to an argon2id PHC string with the default parameters and a random salt', async () => {
    const first = await hashPassword(PASSWORD);
    const second = await hashPassword(PASSWORD);
    expect(first).toMatch(/^\$argon2id\$v=19\$m=65536,t=3,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(second).not.toBe(first);
    expect(first).not.toContain(PASSWORD);
  });

  it('ID-4 verifies the right password and refuses a wrong one', async () => {
    const stored = await hashPassword(PASSWORD, FAST);
    expect(await verifyPassword(stored, PASSWORD, { current: FAST })).toEqual({ ok: true, needsRehash: false });
    expect(await verifyPassword(stored, `${PASSWORD}!`, { current: FAST })).toEqual({ ok: false, needsRehash: false });
    expect(await verifyPassword(stored, PASSWORD.toUpperCase(), { current: FAST })).toEqual({ ok: false, needsRehash: false });
  });

  it('ID-4 hashes the NFKC form: a composed and a decomposed accent verify alike', async () => {
    const stored = await hashPassword('caf\u00e9 au lait tous les jours', FAST);
    expect((await verifyPassword(stored, 'cafe\u0301 au lait tous les jours', { current: FAST })).ok).toBe(true);
  });

  it('ID-4 flags a hash made with weaker parameters for rehash, only on a successful verify', async () => {
    const weak = await hashPassword(PASSWORD, FAST);
    expect(await verifyPassword(weak, PASSWORD)).toEqual({ ok: true, needsRehash: true });
    expect(await verifyPassword(weak, 'wrong password here')).toEqual({ ok: false, needsRehash: false });
    expect(needsRehash(weak, DEFAULT_ARGON2_PARAMS)).toBe(true);
    expect(needsRehash(weak, FAST)).toBe(false);
  });

  it('ID-4 less memory alone, or fewer passes alone, is weaker', async () => {
    const lessMemory = await hashPassword(PASSWORD, { memoryCost: 32_768, timeCost: 3, parallelism: 1 });
    const fewerPasses = await hashPassword(PASSWORD, { memoryCost: 65_536, timeCost: 2, parallelism: 1 });
    expect(needsRehash(lessMemory, DEFAULT_ARGON2_PARAMS)).toBe(true);
    expect(needsRehash(fewerPasses, DEFAULT_ARGON2_PARAMS)).toBe(true);
    expect(needsRehash(await hashPassword(PASSWORD), DEFAULT_ARGON2_PARAMS)).toBe(false);
  });

  it('ID-4 does not downgrade a hash stronger than current', async () => {
    const strong = await hashPassword(PASSWORD, { memoryCost: 32_768, timeCost: 3, parallelism: 1 });
    expect(needsRehash(strong, FAST)).toBe(false);
  });

  it('ID-4 flags argon2i/argon2d hashes and unparsable values for rehash', async () => {
    const argon2i = await hash(PASSWORD, { memoryCost: 65_536, timeCost: 3, algorithm: 1 as never });
    expect(argon2i.startsWith('$argon2i$')).toBe(true);
    expect(needsRehash(argon2i)).toBe(true);
    expect(needsRehash('$2b$12$notargon')).toBe(true);
  });

  it('ID-4 refuses parameters below the OWASP floor instead of silently weakening hashes', async () => {
    await expect(hashPassword(PASSWORD, { memoryCost: 4096, timeCost: 2, parallelism: 1 })).rejects.toBeInstanceOf(RampartError);
    await expect(hashPassword(PASSWORD, { memoryCost: 19_456, timeCost: 1, parallelism: 1 })).rejects.toBeInstanceOf(RampartError);
  });

  it('ID-4 refuses empty and oversized passwords without hashing them', async () => {
    await expect(hashPassword('', FAST)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(hashPassword('a'.repeat(MAX_PASSWORD_INPUT_LENGTH + 1), FAST)).rejects.toMatchObject({ code: 'bad_request' });
    const stored = await hashPassword(PASSWORD, FAST);
    expect(await verifyPassword(stored, 'a'.repeat(MAX_PASSWORD_INPUT_LENGTH + 1), { current: FAST })).toEqual({ ok: false, needsRehash: false });
  });

  it('ID-4 a stored value that is not a PHC string is a 500, never a match', async () => {
    await expect(verifyPassword('plaintext-password', 'plaintext-password')).rejects.toMatchObject({ code: 'internal', expose: false });
  });

  it('ID-9 dummyVerify exists, resolves false and costs about what a real verify costs', async () => {
    const stored = await hashPassword(PASSWORD, FAST);
    expect(await dummyVerify(FAST)).toBe(false); // warm: the first call also makes the dummy hash
    const time = async (fn: () => Promise<unknown>) => {
      const start = performance.now();
      for (let i = 0; i < 5; i++) await fn();
      return performance.now() - start;
    };
    const real = await time(() => verifyPassword(stored, 'wrong password here', { current: FAST }));
    const dummy = await time(() => dummyVerify(FAST));
    // Same parameters, same work: within a factor of 3 even on a busy CI machine (an early return would be ~1000x faster).
    expect(dummy / real).toBeGreaterThan(0.33);
    expect(dummy / real).toBeLessThan(3);
  });
});
