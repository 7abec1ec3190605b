import { z } from 'zod';

/**
 * Throttle limits (control ID-9). Every number is configurable; the defaults follow OWASP's
 * authentication guidance: small per-IP+account budgets, a larger per-account budget that one
 * attacker cannot exhaust alone, and a per-IP budget for one source spraying many accounts.
 */

const positiveInt = z.number().int().positive();

const limitRule = z.object({
  /** Attempts allowed per window; attempt N+1 is refused. */
  points: positiveInt,
  windowSeconds: positiveInt,
  /** First block once the limit trips; doubles with every further trip remembered. */
  blockSeconds: positiveInt,
  /** The doubling stops here. */
  maxBlockSeconds: positiveInt,
});

export type LimitRule = z.infer<typeof limitRule>;

const limitsSchema = z.object({
  account: limitRule,
  ip: limitRule,
  ipAccount: limitRule,
  /** How long a trip is remembered for the backoff (a quiet day resets the doubling). */
  backoffMemorySeconds: positiveInt,
  /** One IP failing against this many distinct accounts within the window is credential stuffing. */
  stuffing: z.object({ distinctAccounts: positiveInt, windowSeconds: positiveInt, challengeSeconds: positiveInt }),
  /** Failures across all accounts per window above which every attempt needs the challenge. */
  global: z.object({ failures: positiveInt, windowSeconds: positiveInt, underAttackSeconds: positiveInt }),
  /** Recent failures of one IP+account after which that pair needs the challenge. */
  challengeAfterFailures: positiveInt,
});

export type ThrottleLimits = z.infer<typeof limitsSchema>;

export type ThrottleLimitsInput = {
  [K in keyof ThrottleLimits]?: ThrottleLimits[K] extends object ? Partial<ThrottleLimits[K]> : ThrottleLimits[K];
};

export const DEFAULT_LIMITS: ThrottleLimits = {
  account: { points: 10, windowSeconds: 15 * 60, blockSeconds: 60, maxBlockSeconds: 60 * 60 },
  ip: { points: 50, windowSeconds: 15 * 60, blockSeconds: 60, maxBlockSeconds: 60 * 60 },
  ipAccount: { points: 5, windowSeconds: 15 * 60, blockSeconds: 60, maxBlockSeconds: 60 * 60 },
  backoffMemorySeconds: 24 * 60 * 60,
  stuffing: { distinctAccounts: 10, windowSeconds: 10 * 60, challengeSeconds: 60 * 60 },
  global: { failures: 100, windowSeconds: 60, underAttackSeconds: 15 * 60 },
  challengeAfterFailures: 3,
};

export function resolveLimits(input: ThrottleLimitsInput = {}): ThrottleLimits {
  const merged = {
    account: { ...DEFAULT_LIMITS.account, ...input.account },
    ip: { ...DEFAULT_LIMITS.ip, ...input.ip },
    ipAccount: { ...DEFAULT_LIMITS.ipAccount, ...input.ipAccount },
    backoffMemorySeconds: input.backoffMemorySeconds ?? DEFAULT_LIMITS.backoffMemorySeconds,
    stuffing: { ...DEFAULT_LIMITS.stuffing, ...input.stuffing },
    global: { ...DEFAULT_LIMITS.global, ...input.global },
    challengeAfterFailures: input.challengeAfterFailures ?? DEFAULT_LIMITS.challengeAfterFailures,
  };
  const parsed = limitsSchema.safeParse(merged);
  if (!parsed.success) throw new Error(`invalid throttle limits: ${z.prettifyError(parsed.error)}`);
  for (const scope of ['account', 'ip', 'ipAccount'] as const) {
    if (parsed.data[scope].maxBlockSeconds < parsed.data[scope].blockSeconds) throw new Error(`invalid throttle limits: ${scope}.maxBlockSeconds is below blockSeconds`);
  }
  return parsed.data;
}

/** Exponential backoff: the n-th remembered trip blocks for base * 2^(n-1), capped. */
export const backoffSeconds = (rule: LimitRule, trip: number): number => Math.min(rule.maxBlockSeconds, rule.blockSeconds * 2 ** Math.min(Math.max(trip - 1, 0), 30));
