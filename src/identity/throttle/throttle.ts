import { systemClock, type Clock } from '../../core/index.js';
import { createKeyHasher, normalizeAccount } from './keys.js';
import { backoffSeconds, resolveLimits, type LimitRule, type ThrottleLimits, type ThrottleLimitsInput } from './limits.js';
import { consume, limiterFactory, onceStore, type Limiter, type ThrottleStore } from './store.js';

/**
 * Sign-in throttling and attack detection (control ID-9), for every credential endpoint
 * (password, OTP, magic link, recovery).
 *
 * The attempt is consumed atomically BEFORE the credential is checked. Zitadel
 * (GHSA-7h8m-vrxx-vr4m) counted after the check, so a burst of parallel guesses all passed the
 * "under the limit?" read before any of them incremented it. Here the increment is the check:
 * with a limit of N, N parallel requests get a slot and every further one is refused, on one node
 * or (Redis) on many. A success refunds its slot; a failure simply keeps it.
 */

export type AttemptSubject = { ip: string; account: string };
export type ThrottleScope = 'account' | 'ip' | 'ip_account';

export type AttemptDecision =
  | { allowed: true; challengeRequired: boolean }
  | { allowed: false; retryAfterSeconds: number; reason: ThrottleScope };

export type DetectionKind = 'credential_stuffing' | 'brute_force' | 'global_spike';

/**
 * What a detector saw. `ip` is the client IP as passed in; `account` is the normalised identifier
 * (the caller resolves it to a user id for the audit event and must not log it raw, DA-4);
 * `accountKey` is the keyed hash the store uses.
 */
export type Detection = {
  kind: DetectionKind;
  scope?: ThrottleScope;
  ip?: string;
  account?: string;
  accountKey?: string;
  /** Failures (brute_force, global_spike) or distinct accounts (credential_stuffing) in the window. */
  count: number;
  windowSeconds: number;
  /** Brute force only: how long the subject is now blocked, and which remembered trip this is. */
  blockSeconds?: number;
  trip?: number;
  at: Date;
};

export type ThrottleOptions = {
  store: ThrottleStore;
  /** Per-deployment secret for hashing accounts and IPs into store keys (at least 16 bytes). */
  keySecret: string | Buffer;
  limits?: ThrottleLimitsInput;
  /** Stamps detections. Counter windows run on the store's clock (process time, or Redis TTLs). */
  clock?: Clock;
  /** Called at most once per window per subject and kind, across all nodes sharing the store. */
  onDetection?: (detection: Detection) => void | Promise<void>;
};

export type Throttle = {
  readonly limits: ThrottleLimits;
  /** Reserve an attempt before checking the credential; refuse with 429 when not allowed. */
  beforeAttempt(subject: AttemptSubject): Promise<AttemptDecision>;
  /** The credential (or the required challenge) was wrong: feeds the stuffing and global detectors. */
  recordFailure(subject: AttemptSubject): Promise<void>;
  /** The credential was right: clears the IP+account counter and refunds this attempt's slots. */
  recordSuccess(subject: AttemptSubject): Promise<void>;
  /** "Looks automated" (ID-10): the IP is flagged for stuffing, the global detector is on, or the pair keeps failing. */
  needsChallenge(subject: { ip: string; account?: string }): Promise<boolean>;
  /** Admin unlock: clears the counters and blocks of an account and/or IP; the backoff history stays. */
  unblock(subject: { ip?: string; account?: string }): Promise<void>;
  /** The store keys an attempt touches (support runbooks and tests); never contains the raw account. */
  keysFor(subject: AttemptSubject): string[];
};

type Check = { scope: ThrottleScope; limiter: Limiter; rule: LimitRule; key: string };

const UNLIMITED = 2 ** 30;

export function createThrottle(options: ThrottleOptions): Throttle {
  const limits = resolveLimits(options.limits);
  const clock = options.clock ?? systemClock;
  const hash = createKeyHasher(options.keySecret);
  const make = limiterFactory(options.store);
  const rules: Record<ThrottleScope, LimitRule> = { account: limits.account, ip: limits.ip, ip_account: limits.ipAccount };
  const limiters: Record<ThrottleScope, Limiter> = {
    account: make({ name: 'acct', points: limits.account.points, durationSeconds: limits.account.windowSeconds }),
    ip: make({ name: 'ip', points: limits.ip.points, durationSeconds: limits.ip.windowSeconds }),
    ip_account: make({ name: 'ipacct', points: limits.ipAccount.points, durationSeconds: limits.ipAccount.windowSeconds }),
  };
  const trips = make({ name: 'trips', points: UNLIMITED, durationSeconds: limits.backoffMemorySeconds });
  const flags = make({ name: 'flags', points: UNLIMITED, durationSeconds: limits.stuffing.challengeSeconds });
  const stuffingSeen = make({ name: 'stuff-seen', points: UNLIMITED, durationSeconds: limits.stuffing.windowSeconds });
  const stuffingDistinct = make({ name: 'stuff-distinct', points: UNLIMITED, durationSeconds: limits.stuffing.windowSeconds });
  const globalFailures = make({ name: 'global', points: UNLIMITED, durationSeconds: limits.global.windowSeconds });
  const detected = onceStore(make, 'detected');
  const GLOBAL_FLAG = 'under-attack';
  const stuffingFlag = (ipKey: string) => `stuffing:${ipKey}`;

  const keyOf = (subject: AttemptSubject): Record<ThrottleScope, string> => ({
    account: hash.account(subject.account),
    ip: hash.ip(subject.ip),
    ip_account: hash.ipAccount(subject.ip, subject.account),
  });
  const checksFor = (subject: AttemptSubject): Check[] => {
    const keys = keyOf(subject);
    return (['account', 'ip', 'ip_account'] as const).map((scope) => ({ scope, limiter: limiters[scope], rule: rules[scope], key: keys[scope] }));
  };

  const emit = async (dedupeKey: string, ttlSeconds: number, detection: Omit<Detection, 'at'>) => {
    if (!options.onDetection) return;
    if (!(await detected.claim(`${detection.kind}:${dedupeKey}`, ttlSeconds))) return;
    await options.onDetection({ ...detection, at: clock.now() });
  };

  /** Gives back a slot this attempt took; never below zero and never out of an active block. */
  const refund = async ({ limiter, key, rule }: Check) => {
    const current = await limiter.get(key);
    if (!current || current.consumedPoints <= 0 || current.consumedPoints > rule.points) return;
    const after = await limiter.reward(key, 1);
    if (after.consumedPoints < 0) await limiter.delete(key);
  };

  const isFlagged = async (key: string) => ((await flags.get(key))?.consumedPoints ?? 0) > 0;

  /**
   * A refused attempt: the first refusal in a window trips the block, with exponential backoff.
   * Any later one answers with the block's remaining time. Its own counter may still carry the
   * window's expiry (up to 15 min), because parallel refusals can be counted before the tripping
   * one has set the block: the wait is then the block the backoff gives, never the window.
   */
  const refuse = async (check: Check, consumedPoints: number, msBeforeNext: number, subject: AttemptSubject): Promise<number> => {
    if (consumedPoints !== check.rule.points + 1) {
      const [state, tripped] = await Promise.all([check.limiter.get(check.key), trips.get(`${check.scope}:${check.key}`)]);
      const remaining = Math.ceil((state?.msBeforeNext ?? msBeforeNext) / 1000);
      return Math.max(1, Math.min(remaining, backoffSeconds(check.rule, Math.max(1, tripped?.consumedPoints ?? 1))));
    }
    const trip = (await trips.penalty(`${check.scope}:${check.key}`)).consumedPoints;
    const blockSeconds = backoffSeconds(check.rule, trip);
    await check.limiter.block(check.key, blockSeconds);
    await emit(`${check.scope}:${check.key}`, check.rule.windowSeconds, {
      kind: 'brute_force',
      scope: check.scope,
      ...(check.scope !== 'account' && { ip: subject.ip }),
      ...(check.scope !== 'ip' && { account: normalizeAccount(subject.account), accountKey: hash.account(subject.account) }),
      count: check.rule.points,
      windowSeconds: check.rule.windowSeconds,
      blockSeconds,
      trip,
    });
    return blockSeconds;
  };

  const detectGlobalSpike = async () => {
    const failures = (await globalFailures.penalty('all')).consumedPoints;
    if (failures < limits.global.failures) return;
    // Re-armed by every further failure, so the mode lasts as long as the spike does.
    await flags.set(GLOBAL_FLAG, 1, limits.global.underAttackSeconds);
    await emit('all', limits.global.underAttackSeconds, { kind: 'global_spike', count: failures, windowSeconds: limits.global.windowSeconds });
  };

  const detectStuffing = async (subject: AttemptSubject, keys: Record<ThrottleScope, string>) => {
    const pair = await stuffingSeen.penalty(keys.ip_account);
    if (pair.consumedPoints !== 1) return; // this account was already counted for this IP
    const distinct = (await stuffingDistinct.penalty(keys.ip)).consumedPoints;
    if (distinct < limits.stuffing.distinctAccounts) return;
    await flags.set(stuffingFlag(keys.ip), 1, limits.stuffing.challengeSeconds);
    await emit(keys.ip, limits.stuffing.windowSeconds, { kind: 'credential_stuffing', ip: subject.ip, count: distinct, windowSeconds: limits.stuffing.windowSeconds });
  };

  return {
    limits,

    async beforeAttempt(subject) {
      const checks = checksFor(subject);
      const results = await Promise.all(checks.map((check) => consume(check.limiter, check.key)));
      if (results.every((r) => r.allowed)) {
        const pairAttempts = results[2]?.res.consumedPoints ?? 0;
        const challengeRequired = pairAttempts - 1 >= limits.challengeAfterFailures || (await isFlagged(GLOBAL_FLAG)) || (await isFlagged(stuffingFlag(checks[1]!.key)));
        return { allowed: true, challengeRequired };
      }
      // Refused: hand back the slots this attempt took on the limiters that let it through, so a
      // blocked IP+account cannot also drain the account's budget (locking its owner out).
      await Promise.all(checks.map((check, i) => (results[i]?.allowed ? refund(check) : undefined)));
      let worst: { retryAfterSeconds: number; reason: ThrottleScope } = { retryAfterSeconds: 0, reason: 'ip_account' };
      for (const [i, check] of checks.entries()) {
        const result = results[i];
        if (!result || result.allowed) continue;
        const retryAfterSeconds = await refuse(check, result.res.consumedPoints, result.res.msBeforeNext, subject);
        if (retryAfterSeconds > worst.retryAfterSeconds) worst = { retryAfterSeconds, reason: check.scope };
      }
      return { allowed: false, ...worst };
    },

    async recordFailure(subject) {
      const keys = keyOf(subject);
      await Promise.all([detectGlobalSpike(), detectStuffing(subject, keys)]);
    },

    async recordSuccess(subject) {
      const [account, ip, pair] = checksFor(subject) as [Check, Check, Check];
      await Promise.all([pair.limiter.delete(pair.key), trips.delete(`ip_account:${pair.key}`), refund(account), refund(ip)]);
    },

    async needsChallenge(subject) {
      const ipKey = hash.ip(subject.ip);
      const [underAttack, stuffing, pair] = await Promise.all([
        isFlagged(GLOBAL_FLAG),
        isFlagged(stuffingFlag(ipKey)),
        subject.account === undefined ? null : limiters.ip_account.get(hash.ipAccount(subject.ip, subject.account)),
      ]);
      return underAttack || stuffing || (pair?.consumedPoints ?? 0) >= limits.challengeAfterFailures;
    },

    async unblock(subject) {
      const work: Promise<unknown>[] = [];
      if (subject.account !== undefined) work.push(limiters.account.delete(hash.account(subject.account)));
      if (subject.ip !== undefined) work.push(limiters.ip.delete(hash.ip(subject.ip)), flags.delete(stuffingFlag(hash.ip(subject.ip))));
      if (subject.ip !== undefined && subject.account !== undefined) work.push(limiters.ip_account.delete(hash.ipAccount(subject.ip, subject.account)));
      await Promise.all(work);
    },

    keysFor(subject) {
      const keys = keyOf(subject);
      return [
        ...checksFor(subject).map((check) => check.limiter.getKey(check.key)),
        ...(['account', 'ip', 'ip_account'] as const).map((scope) => trips.getKey(`${scope}:${keys[scope]}`)),
        flags.getKey(stuffingFlag(keys.ip)),
        stuffingSeen.getKey(keys.ip_account),
        stuffingDistinct.getKey(keys.ip),
      ];
    },
  };
}
