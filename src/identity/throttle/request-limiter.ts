import { createKeyHasher } from './keys.js';
import { consume, limiterFactory, type Limiter, type ThrottleStore } from './store.js';

/**
 * Plain request budgets for identity endpoints that check no credential (ID-9, ID-10): magic-link
 * requests and consumption, username-less passkey options, first-admin setup. Every request
 * counts (there is no "failure" to wait for), per bucket and key; keys are keyed hashes like the
 * throttle's (raw IPs and addresses never reach the store). Same memory/Redis store as the
 * throttle, so budgets hold across nodes.
 */

export type RequestBudget = { points: number; windowSeconds: number };

export const DEFAULT_REQUEST_BUDGETS = {
  /** Magic-link requests per IP; after `softPoints` of them the proof-of-work challenge is required. */
  'magic-link:ip': { points: 20, windowSeconds: 15 * 60, softPoints: 3 },
  /** Mails per account: over this the request still answers 202 but sends nothing (no mail bombing). */
  'magic-link:account': { points: 3, windowSeconds: 15 * 60 },
  'magic-link-consume:ip': { points: 30, windowSeconds: 15 * 60 },
  'passkey-options:ip': { points: 30, windowSeconds: 60 },
  'setup:ip': { points: 10, windowSeconds: 15 * 60 },
} as const satisfies Record<string, RequestBudget & { softPoints?: number }>;

export type RequestBucket = keyof typeof DEFAULT_REQUEST_BUDGETS;

export type RequestDecision = { allowed: boolean; count: number; retryAfterSeconds: number; overSoftLimit: boolean };

export type RequestLimiter = { take(bucket: RequestBucket, key: string): Promise<RequestDecision> };

export function createRequestLimiter(options: { store: ThrottleStore; keySecret: string | Buffer }): RequestLimiter {
  const make = limiterFactory(options.store);
  const hash = createKeyHasher(options.keySecret);
  const limiters = new Map<RequestBucket, Limiter>();
  for (const [bucket, budget] of Object.entries(DEFAULT_REQUEST_BUDGETS) as [RequestBucket, RequestBudget][]) {
    limiters.set(bucket, make({ name: `req-${bucket.replace(':', '-')}`, points: budget.points, durationSeconds: budget.windowSeconds }));
  }
  return {
    async take(bucket, key) {
      const budget: RequestBudget & { softPoints?: number } = DEFAULT_REQUEST_BUDGETS[bucket];
      const { allowed, res } = await consume(limiters.get(bucket)!, hash.account(`${bucket}\0${key}`));
      const soft = budget.softPoints;
      return { allowed, count: res.consumedPoints, retryAfterSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)), overSoftLimit: soft !== undefined && res.consumedPoints > soft };
    },
  };
}
