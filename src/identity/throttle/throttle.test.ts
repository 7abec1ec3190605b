import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { toProblem } from '../../core/index.js';
import { throttledProblem, retryAfterHeader } from './problem.js';
import { createReplayStore, type ThrottleStore } from './store.js';
import { createThrottle, type AttemptSubject, type Detection, type Throttle, type ThrottleOptions } from './throttle.js';

/**
 * The throttle's behaviour, run here on the memory store and in test/services/throttle.test.ts on
 * Redis. Nothing here waits for time: backoff growth is driven through `unblock`, which keeps the
 * trip history; the memory-only block below moves time with fake timers.
 */

export const KEY_SECRET = 'test-throttle-key-secret-0123456789';

const refused = (decision: Awaited<ReturnType<Throttle['beforeAttempt']>>) => {
  if (decision.allowed) throw new Error('expected the attempt to be refused');
  return decision;
};

/** One failed sign-in as the route will run it: reserve first, then report the outcome. */
export async function failOnce(throttle: Throttle, subject: AttemptSubject) {
  const decision = await throttle.beforeAttempt(subject);
  if (decision.allowed) await throttle.recordFailure(subject);
  return decision;
}

export function throttleBehaviour(label: string, makeStore: () => ThrottleStore) {
  describe(`throttle behaviour on the ${label} store`, () => {
    let detections: Detection[];
    const build = (options: Partial<ThrottleOptions> = {}, store = makeStore()) =>
      createThrottle({ store, keySecret: KEY_SECRET, onDetection: (d) => void detections.push(d), ...options });
    beforeEach(() => {
      detections = [];
    });

    it('ID-9 the IP+account limit trips at exactly N failures and answers 429 with Retry-After', async () => {
      const throttle = build();
      const subject = { ip: '203.0.113.7', account: 'alice@example.com' };
      for (let i = 1; i <= 5; i++) expect(await failOnce(throttle, subject)).toMatchObject({ allowed: true });
      const decision = refused(await throttle.beforeAttempt(subject));
      expect(decision).toEqual({ allowed: false, retryAfterSeconds: 60, reason: 'ip_account' });
      const problem = throttledProblem(decision);
      expect(toProblem(problem)).toMatchObject({ status: 429, code: 'rate_limited', retry_after_seconds: 60 });
      expect(retryAfterHeader(problem)).toBe(60);
      // Still blocked, and the answer keeps pointing at the end of the block.
      const again = refused(await throttle.beforeAttempt(subject));
      expect(again.retryAfterSeconds).toBeGreaterThan(55);
      expect(again.retryAfterSeconds).toBeLessThanOrEqual(60);
    });

    it('ID-9 the per-account limit holds across IPs, and the per-IP limit across accounts', async () => {
      const throttle = build({ limits: { ip: { points: 12 } } });
      for (let i = 1; i <= 10; i++) expect(await failOnce(throttle, { ip: `198.51.100.${i}`, account: 'bob@example.com' })).toMatchObject({ allowed: true });
      expect(await throttle.beforeAttempt({ ip: '198.51.100.200', account: 'bob@example.com' })).toMatchObject({ allowed: false, reason: 'account' });
      for (let i = 1; i <= 12; i++) expect(await failOnce(throttle, { ip: '192.0.2.1', account: `user${i}@example.com` })).toMatchObject({ allowed: true });
      expect(await throttle.beforeAttempt({ ip: '192.0.2.1', account: 'someone-else@example.com' })).toMatchObject({ allowed: false, reason: 'ip' });
    });

    it('ID-9 account identifiers are normalised: case, width and spaces share one bucket', async () => {
      const throttle = build();
      const spellings = ['Carol@Example.com', ' carol@example.com', 'ＣＡＲＯＬ@example.com', 'carol@EXAMPLE.COM\t', 'carol@example.com'];
      for (const account of spellings) expect(await failOnce(throttle, { ip: '203.0.113.9', account })).toMatchObject({ allowed: true });
      expect(await throttle.beforeAttempt({ ip: '203.0.113.9', account: 'CAROL@example.com' })).toMatchObject({ allowed: false, reason: 'ip_account' });
    });

    it('ID-9 a success resets the IP+account counter and refunds its slot on the account', async () => {
      const throttle = build({ limits: { account: { points: 6 } } });
      const subject = { ip: '203.0.113.10', account: 'dave@example.com' };
      for (let i = 0; i < 4; i++) await failOnce(throttle, subject);
      expect(await throttle.beforeAttempt(subject)).toMatchObject({ allowed: true });
      await throttle.recordSuccess(subject);
      // The pair starts over (5 more), but the account keeps its 4 failures: 2 more then refused.
      expect(await failOnce(throttle, subject)).toMatchObject({ allowed: true });
      expect(await failOnce(throttle, subject)).toMatchObject({ allowed: true });
      expect(await throttle.beforeAttempt(subject)).toMatchObject({ allowed: false, reason: 'account' });
    });

    it('ID-9 50 parallel guesses from one IP against one account: never more than the limit (5) get through', async () => {
      const throttle = build();
      const subject = { ip: '203.0.113.11', account: 'erin@example.com' };
      const decisions = await Promise.all(Array.from({ length: 50 }, () => throttle.beforeAttempt(subject)));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
      expect(decisions.filter((d) => !d.allowed)).toHaveLength(45);
    });

    it('ID-9 Retry-After is the real remaining block, also for guesses refused in parallel before the block was set (never the 15-minute window)', async () => {
      const throttle = build();
      const subject = { ip: '203.0.113.14', account: 'ivan@example.com' };
      const decisions = await Promise.all(Array.from({ length: 40 }, () => throttle.beforeAttempt(subject)));
      const waits = decisions.filter((d) => !d.allowed).map((d) => refused(d).retryAfterSeconds);
      expect(waits).toHaveLength(35);
      expect(Math.max(...waits)).toBeLessThanOrEqual(60);
      expect(Math.min(...waits)).toBeGreaterThanOrEqual(1);
      const later = refused(await throttle.beforeAttempt(subject)).retryAfterSeconds;
      expect(later).toBeLessThanOrEqual(60);
      expect(later).toBeGreaterThan(55);
    });

    it('ID-9 50 parallel guesses from 50 IPs against one account: never more than the account limit (10) get through', async () => {
      const throttle = build();
      const decisions = await Promise.all(Array.from({ length: 50 }, (_, i) => throttle.beforeAttempt({ ip: `10.9.${i}.1`, account: 'frank@example.com' })));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
      expect(decisions.filter((d) => !d.allowed).every((d) => !d.allowed && d.reason === 'account')).toBe(true);
    });

    it('ID-9 backoff: every further trip doubles the block, up to the cap', async () => {
      const throttle = build({ limits: { ipAccount: { points: 2, blockSeconds: 30, maxBlockSeconds: 100 } } });
      const subject = { ip: '203.0.113.12', account: 'grace@example.com' };
      const blocks: number[] = [];
      for (let round = 0; round < 4; round++) {
        await failOnce(throttle, subject);
        await failOnce(throttle, subject);
        blocks.push(refused(await throttle.beforeAttempt(subject)).retryAfterSeconds);
        await throttle.unblock(subject); // lifts the block, keeps the trip history
      }
      expect(blocks).toEqual([30, 60, 100, 100]);
    });

    it('ID-9 brute force on one IP+account raises one detection per window, not one per refusal', async () => {
      const throttle = build();
      const subject = { ip: '203.0.113.13', account: 'Heidi@Example.com' };
      for (let i = 0; i < 12; i++) await failOnce(throttle, subject);
      const bruteForce = detections.filter((d) => d.kind === 'brute_force');
      expect(bruteForce).toHaveLength(1);
      expect(bruteForce[0]).toMatchObject({ scope: 'ip_account', ip: '203.0.113.13', account: 'heidi@example.com', count: 5, blockSeconds: 60, trip: 1 });
      expect(bruteForce[0]?.accountKey).toMatch(/^[A-Za-z0-9_-]{32}$/);
    });

    it('ID-9 ID-10 credential stuffing: one IP failing on 10 accounts needs the challenge and raises one detection', async () => {
      const throttle = build();
      const ip = '198.51.100.77';
      for (let i = 0; i < 9; i++) await failOnce(throttle, { ip, account: `victim${i}@example.com` });
      expect(await throttle.needsChallenge({ ip })).toBe(false);
      expect(detections).toHaveLength(0);
      await failOnce(throttle, { ip, account: 'victim9@example.com' });
      expect(await throttle.needsChallenge({ ip })).toBe(true);
      expect(await throttle.beforeAttempt({ ip, account: 'fresh@example.com' })).toEqual({ allowed: true, challengeRequired: true });
      // Further accounts from the same IP do not raise it again within the window.
      for (let i = 10; i < 15; i++) await failOnce(throttle, { ip, account: `victim${i}@example.com` });
      expect(detections.filter((d) => d.kind === 'credential_stuffing')).toEqual([expect.objectContaining({ kind: 'credential_stuffing', ip, count: 10, windowSeconds: 600 })]);
      // Another IP is not affected; repeated failures on one account are not stuffing.
      expect(await throttle.needsChallenge({ ip: '198.51.100.78' })).toBe(false);
    });

    it('ID-9 repeated failures on one account from one IP are not counted as distinct accounts', async () => {
      const throttle = build({ limits: { ipAccount: { points: 50 }, account: { points: 50 } } });
      for (let i = 0; i < 20; i++) await failOnce(throttle, { ip: '198.51.100.90', account: 'same@example.com' });
      expect(detections.filter((d) => d.kind === 'credential_stuffing')).toHaveLength(0);
    });

    it('ID-9 ID-10 a global failure spike switches on "under attack": the challenge is required everywhere', async () => {
      const throttle = build({ limits: { global: { failures: 20 } } });
      for (let i = 0; i < 19; i++) await failOnce(throttle, { ip: `10.20.${i}.1`, account: `spread${i}@example.com` });
      expect(await throttle.needsChallenge({ ip: '10.99.0.1', account: 'innocent@example.com' })).toBe(false);
      await failOnce(throttle, { ip: '10.20.19.1', account: 'spread19@example.com' });
      expect(await throttle.needsChallenge({ ip: '10.99.0.1', account: 'innocent@example.com' })).toBe(true);
      expect(await throttle.beforeAttempt({ ip: '10.99.0.2', account: 'other@example.com' })).toEqual({ allowed: true, challengeRequired: true });
      for (let i = 20; i < 25; i++) await failOnce(throttle, { ip: `10.20.${i}.1`, account: `spread${i}@example.com` });
      expect(detections.filter((d) => d.kind === 'global_spike')).toEqual([expect.objectContaining({ kind: 'global_spike', count: 20, windowSeconds: 60 })]);
    });

    it('ID-10 an IP+account with 3 recent failures needs the challenge; other accounts from that IP do not', async () => {
      const throttle = build();
      const subject = { ip: '203.0.113.14', account: 'ivan@example.com' };
      for (let i = 0; i < 2; i++) expect(await failOnce(throttle, subject)).toEqual({ allowed: true, challengeRequired: false });
      await failOnce(throttle, subject);
      expect(await throttle.needsChallenge(subject)).toBe(true);
      expect(await throttle.beforeAttempt(subject)).toEqual({ allowed: true, challengeRequired: true });
      expect(await throttle.needsChallenge({ ip: subject.ip, account: 'judy@example.com' })).toBe(false);
    });

    it('ID-9 DA-4 store keys never contain the raw account, its local part or the raw IP', async () => {
      const throttle = build();
      const subject = { ip: '203.0.113.15', account: 'Mallory.Secret@Example.com' };
      const keys = throttle.keysFor(subject);
      expect(keys.length).toBeGreaterThan(5);
      for (const key of keys) {
        expect(key.toLowerCase()).not.toContain('mallory');
        expect(key.toLowerCase()).not.toContain('example.com');
        expect(key).not.toContain('203.0.113.15');
      }
      // Another deployment secret gives other keys (the hash is keyed, not a bare SHA-256).
      const other = createThrottle({ store: makeStore(), keySecret: 'another-deployment-secret-xyz' });
      expect(other.keysFor(subject)[0]).not.toBe(keys[0]);
    });

    it('ID-10 the replay store lets a key be claimed once', async () => {
      const replay = createReplayStore(makeStore());
      expect(await replay.claim('sig-1', 60)).toBe(true);
      expect(await replay.claim('sig-1', 60)).toBe(false);
      expect(await replay.claim('sig-2', 60)).toBe(true);
    });
  });
}

throttleBehaviour('memory', () => ({ kind: 'memory' }));

describe('throttle on the memory store, with time moved by fake timers', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-03-01T08:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ID-9 a block ends after Retry-After, and the next trip blocks twice as long', async () => {
    const throttle = createThrottle({ store: { kind: 'memory' }, keySecret: KEY_SECRET });
    const subject = { ip: '203.0.113.20', account: 'ken@example.com' };
    const trip = async () => {
      for (let i = 0; i < 5; i++) expect(await failOnce(throttle, subject)).toMatchObject({ allowed: true });
      return refused(await throttle.beforeAttempt(subject)).retryAfterSeconds;
    };
    expect(await trip()).toBe(60);
    vi.advanceTimersByTime(59_000);
    expect(await throttle.beforeAttempt(subject)).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    vi.advanceTimersByTime(1_001);
    expect(await trip()).toBe(120);
    vi.advanceTimersByTime(120_001);
    expect(await trip()).toBe(240);
  });

  it('ID-9 the backoff history is forgotten after a quiet period', async () => {
    const throttle = createThrottle({ store: { kind: 'memory' }, keySecret: KEY_SECRET, limits: { backoffMemorySeconds: 3600 } });
    const subject = { ip: '203.0.113.21', account: 'leo@example.com' };
    for (let i = 0; i < 5; i++) await failOnce(throttle, subject);
    expect(refused(await throttle.beforeAttempt(subject)).retryAfterSeconds).toBe(60);
    vi.advanceTimersByTime(3_600_001);
    for (let i = 0; i < 5; i++) await failOnce(throttle, subject);
    expect(refused(await throttle.beforeAttempt(subject)).retryAfterSeconds).toBe(60);
  });

  it('ID-9 ID-10 stuffing detection fires again in the next window, and the challenge flag expires', async () => {
    const detections: Detection[] = [];
    const throttle = createThrottle({ store: { kind: 'memory' }, keySecret: KEY_SECRET, onDetection: (d) => void detections.push(d), limits: { stuffing: { distinctAccounts: 3, windowSeconds: 60, challengeSeconds: 120 } } });
    const ip = '198.51.100.30';
    for (let i = 0; i < 3; i++) await failOnce(throttle, { ip, account: `a${i}@example.com` });
    expect(await throttle.needsChallenge({ ip })).toBe(true);
    vi.advanceTimersByTime(60_001);
    for (let i = 3; i < 6; i++) await failOnce(throttle, { ip, account: `a${i}@example.com` });
    expect(detections.filter((d) => d.kind === 'credential_stuffing')).toHaveLength(2);
    vi.advanceTimersByTime(120_001);
    expect(await throttle.needsChallenge({ ip })).toBe(false);
  });
});
