import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { AuthzPrincipal } from '../authz/index.js';
import { GATED_CLASSES } from './spec/model.js';
import { ANONYMOUS_ROLE, type ResourceSpec } from './spec/schema.js';

/**
 * Anonymous reads of `public: true` resources (AZ-2, DA-1). A caller who is not signed in names
 * the tenant by its slug in the URL (`/api/v1/public/:tenant/apps/:app/:resource`), the same way
 * sign-in names it; nothing else about the request (a cookie, a token) can change whose data or
 * which rights apply: the principal is always the tenant's `anonymous` role, decided by the engine
 * and confined by row-level security like any other call. Only list and read exist. A per-IP budget
 * stops scraping and enumeration of tenant slugs.
 */

/** The engine's principal for a caller who is not signed in, in the tenant the URL names. */
export function anonymousPrincipal(tenantId: string): AuthzPrincipal {
  // No user id is 'anonymous' (ids are UUIDs), so an owner rule never matches it.
  return { id: ANONYMOUS_ROLE, tenantId, roles: [ANONYMOUS_ROLE], department: null, region: null };
}

/**
 * What an anonymous caller gets back: never a pii, phi or secret field (the linter already refuses
 * public resources that have them; this holds even if a tenant grant changed), and never the ids
 * of the tenant's people (`owner_id`, `created_by`).
 */
export function publicView(resource: ResourceSpec, record: Record<string, unknown>): Record<string, unknown> {
  const hidden = new Set(['owner_id', 'created_by', '_masked', ...resource.fields.filter((f) => GATED_CLASSES[f.class] !== undefined).map((f) => f.name)]);
  return Object.fromEntries(Object.entries(record).filter(([key]) => !hidden.has(key)));
}

export type PublicLimiter = (ip: string) => Promise<{ allowed: boolean; retryAfterSeconds: number }>;

/** Per client IP, across tenants: a scraper cannot multiply its budget by naming other tenants. */
export const PUBLIC_READ_BUDGET = { points: 300, durationSeconds: 60 } as const;

/** Memory on one node; Redis (with a memory fallback) when the nodes share one, so the budget is cluster-wide. */
export function createPublicLimiter(options: { redis?: Redis | undefined; keyPrefix?: string; points?: number; durationSeconds?: number } = {}): PublicLimiter {
  const points = options.points ?? PUBLIC_READ_BUDGET.points;
  const duration = options.durationSeconds ?? PUBLIC_READ_BUDGET.durationSeconds;
  const keyPrefix = options.keyPrefix ?? 'rampart:apps-public-read';
  const memory = new RateLimiterMemory({ keyPrefix, points, duration });
  const limiter = options.redis ? new RateLimiterRedis({ storeClient: options.redis, keyPrefix, points, duration, rejectIfRedisNotReady: true, insuranceLimiter: memory }) : memory;
  return async (ip) => {
    try {
      await limiter.consume(ip);
      return { allowed: true, retryAfterSeconds: 0 };
    } catch (error) {
      if (error instanceof RateLimiterRes) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(error.msBeforeNext / 1000)) };
      throw error;
    }
  };
}
