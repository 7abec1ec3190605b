import { describe, expect, it } from 'vitest';
import { isRampartError, toProblem } from '../../core/index.js';
import { createKeyHasher, ipBucket, normalizeAccount } from './keys.js';
import { backoffSeconds, DEFAULT_LIMITS, resolveLimits } from './limits.js';
import { challengeRequiredProblem, retryAfterHeader, throttledProblem } from './problem.js';

describe('throttle keys, limits and problems', () => {
  it('ID-9 normalises accounts: NFKC, case and surrounding space', () => {
    expect(normalizeAccount('  Alice@Example.COM\n')).toBe('alice@example.com');
    expect(normalizeAccount('ａｌｉｃｅ@ｅｘａｍｐｌｅ.com')).toBe('alice@example.com');
    expect(normalizeAccount('ﬁnn@example.com')).toBe('finn@example.com');
  });

  it('ID-9 an IPv6 host is bucketed by its /64; IPv4-mapped addresses are IPv4', () => {
    expect(ipBucket('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(ipBucket('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(ipBucket('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(ipBucket('::1')).toBe('0:0:0:0::/64');
    expect(ipBucket('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(ipBucket('192.0.2.1')).toBe('192.0.2.1');
    expect(ipBucket('not an ip')).toBe('not an ip');
  });

  it('ID-9 DA-4 keys are keyed hashes: no raw account, same key for equivalent spellings', () => {
    const hasher = createKeyHasher('deployment-secret-0123456789');
    const key = hasher.account('Alice@Example.com');
    expect(key).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(hasher.account(' alice@example.com')).toBe(key);
    expect(createKeyHasher('another-secret-0123456789').account('alice@example.com')).not.toBe(key);
    expect(hasher.ip('2001:db8:1:2::1')).toBe(hasher.ip('2001:db8:1:2::2'));
    expect(hasher.ipAccount('192.0.2.1', 'a@x.io')).not.toBe(hasher.ipAccount('192.0.2.2', 'a@x.io'));
    expect(() => createKeyHasher('short')).toThrow(/16 bytes/);
  });

  it('ID-9 backoff doubles per trip and stops at the cap', () => {
    const rule = { points: 5, windowSeconds: 900, blockSeconds: 60, maxBlockSeconds: 3600 };
    expect([1, 2, 3, 4, 5, 6, 7, 100].map((trip) => backoffSeconds(rule, trip))).toEqual([60, 120, 240, 480, 960, 1920, 3600, 3600]);
  });

  it('ID-9 limits merge over the defaults and refuse nonsense', () => {
    expect(resolveLimits()).toEqual(DEFAULT_LIMITS);
    expect(resolveLimits({ account: { points: 3 } }).account).toEqual({ ...DEFAULT_LIMITS.account, points: 3 });
    expect(() => resolveLimits({ ip: { points: 0 } })).toThrow(/invalid throttle limits/);
    expect(() => resolveLimits({ ipAccount: { blockSeconds: 600, maxBlockSeconds: 60 } })).toThrow(/maxBlockSeconds/);
  });

  it('ID-9 a refusal becomes a 429 problem with retry_after_seconds; the limit that tripped stays private', () => {
    const error = throttledProblem({ allowed: false, retryAfterSeconds: 12.2, reason: 'account' });
    expect(isRampartError(error)).toBe(true);
    const doc = toProblem(error);
    expect(doc).toMatchObject({ status: 429, code: 'rate_limited', retry_after_seconds: 13 });
    expect(JSON.stringify(doc)).not.toContain('account');
    expect(retryAfterHeader(error)).toBe(13);
    expect(retryAfterHeader(new Error('x'))).toBeUndefined();
    expect(toProblem(challengeRequiredProblem())).toMatchObject({ status: 403, challenge_required: true, challenge: 'altcha' });
  });
});
