import { RampartError } from '../core/index.js';

/**
 * Step-up (control ID-7): a high-risk route needs a recent proof of a factor, not merely a valid
 * session or token. Freshness is a pure function of Principal fields and the current time, so:
 * - an elevation EXPIRES with its max age: nothing is stored as "elevated", the age is computed at
 *   every check (the Keycloak bug where an elevated acr stuck to the session, discussion #39084);
 * - any authenticator can satisfy it: the session authenticator fills `factorTimes` from the
 *   session row; an OIDC bearer authenticator fills `authTime` and `amr` from the token's
 *   `auth_time` and `amr` claims (a passkey sign-in carries `hwk` or `swk`).
 */

export type FreshFactor = 'webauthn' | 'any';
export type FreshAuthRequirement = { readonly maxAgeSeconds: number; readonly factor: FreshFactor };

/** What a Principal may carry about how and when it authenticated (all optional). */
export type AuthenticationFacts = {
  /** When the principal last completed an authentication (OIDC `auth_time`). */
  authTime?: Date | undefined;
  /** RFC 8176 methods of that authentication (OIDC `amr`). */
  amr?: readonly string[] | undefined;
  acr?: string | undefined;
  /** When each factor was last proven, when the authenticator knows it per factor (sessions do). */
  factorTimes?: { webauthn?: Date | undefined } | undefined;
  /** The authenticator's "now" for this request (tests run it on a manual clock); default: the system clock. */
  validatedAt?: Date | undefined;
};

/** A few seconds of clock skew between nodes are tolerated; a proof from further in the future is not. */
const MAX_FUTURE_SKEW_MS = 60_000;
const MAX_AGE_LIMIT_SECONDS = 24 * 60 * 60;

/** A route guard: `auth: { action, resource, fresh: requireFreshAuth({ maxAgeSeconds: 300, factor: 'webauthn' }) }`. */
export function requireFreshAuth(requirement: { maxAgeSeconds: number; factor?: FreshFactor }): FreshAuthRequirement {
  const { maxAgeSeconds, factor = 'webauthn' } = requirement;
  if (!Number.isSafeInteger(maxAgeSeconds) || maxAgeSeconds < 1 || maxAgeSeconds > MAX_AGE_LIMIT_SECONDS) throw new Error(`requireFreshAuth: maxAgeSeconds must be an integer from 1 to ${MAX_AGE_LIMIT_SECONDS}`);
  if (factor !== 'webauthn' && factor !== 'any') throw new Error('requireFreshAuth: factor must be webauthn or any');
  return Object.freeze({ maxAgeSeconds, factor });
}

export function isFreshAuthRequirement(value: unknown): value is FreshAuthRequirement {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return Object.keys(v).every((k) => k === 'maxAgeSeconds' || k === 'factor') && Number.isSafeInteger(v.maxAgeSeconds) && (v.maxAgeSeconds as number) >= 1 && (v.maxAgeSeconds as number) <= MAX_AGE_LIMIT_SECONDS && (v.factor === 'webauthn' || v.factor === 'any');
}

const PASSKEY_AMR = new Set(['hwk', 'swk']);

/** When the factor was last proven, as far as the principal says; undefined when never. */
export function factorProvenAt(facts: AuthenticationFacts, factor: FreshFactor): Date | undefined {
  // A token principal has no per-factor times: its auth_time counts for webauthn only when its
  // amr shows that authentication used a passkey.
  const webauthn = facts.factorTimes ? facts.factorTimes.webauthn : facts.amr?.some((m) => PASSKEY_AMR.has(m)) ? facts.authTime : undefined;
  if (factor === 'webauthn') return webauthn;
  const times = [facts.authTime, webauthn].filter((t): t is Date => t instanceof Date);
  return times.length ? new Date(Math.max(...times.map((t) => t.getTime()))) : undefined;
}

/** True when the factor was proven within maxAgeSeconds of `now` (and not in the future). */
export function isFreshAuth(facts: AuthenticationFacts, requirement: FreshAuthRequirement, now: Date = facts.validatedAt ?? new Date()): boolean {
  const at = factorProvenAt(facts, requirement.factor);
  if (!at || Number.isNaN(at.getTime())) return false;
  const age = now.getTime() - at.getTime();
  return age >= -MAX_FUTURE_SKEW_MS && age <= requirement.maxAgeSeconds * 1000;
}

/**
 * 401 `urn:rampart:problem:step-up-required` with `maxAgeSeconds` and `factor`, so a UI knows to
 * prompt for a passkey (POST /api/v1/identity/step-up/options, then /verify) and retry.
 */
export function stepUpRequiredProblem(requirement: FreshAuthRequirement): RampartError {
  const what = requirement.factor === 'webauthn' ? 'confirm with your passkey' : 'sign in again';
  return new RampartError('step_up_required', {
    detail: `this action needs a recent re-verification: ${what} (within ${requirement.maxAgeSeconds} s) and retry`,
    extensions: { maxAgeSeconds: requirement.maxAgeSeconds, factor: requirement.factor },
  });
}

/** Throws the step-up problem unless the principal is fresh enough. For use inside handlers too. */
export function assertFreshAuth(facts: AuthenticationFacts, requirement: FreshAuthRequirement, now?: Date): void {
  if (!isFreshAuth(facts, requirement, now)) throw stepUpRequiredProblem(requirement);
}
