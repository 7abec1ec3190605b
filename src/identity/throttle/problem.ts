import { RampartError } from '../../core/index.js';
import type { AttemptDecision } from './throttle.js';

/**
 * 429 problem+json for a refused attempt. The body carries `retry_after_seconds` (RFC 9457
 * extension member); the HTTP edge must also send the `Retry-After` header with the same number
 * of seconds (RFC 9110 §10.2.3), e.g. in Fastify:
 *
 *   reply.header('retry-after', String(retryAfterHeader(error)))
 *
 * The reason (which limit tripped) is deliberately not exposed: telling an attacker that the
 * per-account limit tripped confirms that the account exists and is being protected.
 */
export function throttledProblem(decision: Extract<AttemptDecision, { allowed: false }>): RampartError {
  const retryAfterSeconds = Math.max(1, Math.ceil(decision.retryAfterSeconds));
  return new RampartError('rate_limited', {
    detail: `too many attempts; retry in ${retryAfterSeconds} s`,
    extensions: { retry_after_seconds: retryAfterSeconds },
  });
}

/** The `Retry-After` value for an error made by throttledProblem, or undefined for any other error. */
export function retryAfterHeader(error: unknown): number | undefined {
  if (!(error instanceof RampartError) || error.code !== 'rate_limited') return undefined;
  const seconds = error.extensions?.retry_after_seconds;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : undefined;
}

/**
 * The caller must solve the proof-of-work challenge first (ID-10). 403 with a machine-readable
 * marker until the catalogue has a dedicated code; the hosted login page shows the widget on it.
 */
export function challengeRequiredProblem(): RampartError {
  return new RampartError('forbidden', {
    detail: 'solve the challenge and retry',
    extensions: { challenge_required: true, challenge: 'altcha' },
  });
}
