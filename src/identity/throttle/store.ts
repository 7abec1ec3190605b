import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/**
 * Where counters live. `memory` is one process (the embedded default); `redis` shares every
 * counter between nodes, so a limit holds across the cluster instead of multiplying by the node
 * count. In Redis mode each limiter carries an in-memory insurance limiter: if Redis is down, each
 * node keeps throttling on its own instead of failing open (or failing every sign-in).
 */
export type ThrottleStore = { kind: 'memory' } | { kind: 'redis'; client: Redis; keyPrefix?: string };

export const DEFAULT_KEY_PREFIX = 'rampart:throttle';

export type Limiter = RateLimiterAbstract;

export type LimiterFactory = (options: { name: string; points: number; durationSeconds: number }) => Limiter;

export function limiterFactory(store: ThrottleStore): LimiterFactory {
  if (store.kind === 'memory') {
    return ({ name, points, durationSeconds }) => new RateLimiterMemory({ keyPrefix: name, points, duration: durationSeconds });
  }
  const prefix = store.keyPrefix ?? DEFAULT_KEY_PREFIX;
  return ({ name, points, durationSeconds }) =>
    new RateLimiterRedis({
      storeClient: store.client,
      keyPrefix: `${prefix}:${name}`,
      points,
      duration: durationSeconds,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix: `${prefix}:${name}`, points, duration: durationSeconds }),
    });
}

/** rate-limiter-flexible rejects with a RateLimiterRes when over the limit and with an Error when the store fails. */
export const isLimitResult = (value: unknown): value is RateLimiterRes => value instanceof RateLimiterRes;

/** Consumes and reports instead of throwing on "over the limit"; store errors still throw. */
export async function consume(limiter: Limiter, key: string, points = 1): Promise<{ allowed: boolean; res: RateLimiterRes }> {
  try {
    return { allowed: true, res: await limiter.consume(key, points) };
  } catch (error) {
    if (isLimitResult(error)) return { allowed: false, res: error };
    throw error;
  }
}

/**
 * A once-only marker set with a time to live: `claim` is true for the first caller only, across
 * every node sharing the store (the increment is atomic in memory and in Redis).
 */
export type OnceStore = { claim(key: string, ttlSeconds: number): Promise<boolean> };

export function onceStore(makeLimiter: LimiterFactory, name: string): OnceStore {
  const limiter = makeLimiter({ name, points: 1, durationSeconds: 60 });
  return {
    async claim(key, ttlSeconds) {
      const res = await limiter.penalty(key, 1, { customDuration: Math.max(1, Math.ceil(ttlSeconds)) });
      return res.consumedPoints === 1;
    },
  };
}

/** The replay store the ALTCHA challenger uses; same memory/Redis store as the throttle. */
export function createReplayStore(store: ThrottleStore): OnceStore {
  return onceStore(limiterFactory(store), 'altcha-used');
}
