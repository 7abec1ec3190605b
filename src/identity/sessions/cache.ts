import { SESSION_TOUCH_SECONDS } from './policy.js';
import type { ValidSession } from './operations/validate-session.js';

/**
 * A per-node memory of sessions that validated a moment ago (control ID-6), so a signed-in
 * request does not pay a tenant transaction (session, user and roles) before its own work. The
 * database stays the authority:
 *
 * - an entry lives `ttlMs` (default 2 s, `identity.sessionCacheMs`; 0 turns the cache off), the
 *   same bound the policy-set cache gives a permission change;
 * - a hit is re-checked against the idle and absolute expiries at the caller's clock, and a
 *   session whose `last_seen_at` is due to slide goes to the database, which slides it;
 * - every write to a session on this node (sign-out, revoke one, sign out everywhere, a completed
 *   factor, a step-up, each of which also rotates or kills the token) forgets it after commit, so
 *   on the node that did it the change holds for the very next request;
 * - a lookup that began before a forget does not store what it read (the generation check), so a
 *   read racing a revoke cannot put the old state back.
 *
 * Another node learns of a revocation when its entry lapses, within `ttlMs`. Only full sessions
 * are kept (a pending, MFA-incomplete session is always read from the database), keyed by the
 * SHA-256 of the token, never the token.
 */
export type SessionCache = {
  /** A fresh entry for this token hash, or undefined (missing, lapsed, expired or due a touch). */
  get(tokenHash: string, now: Date): ValidSession | undefined;
  /** The generation to pass to `put` for a lookup starting now. */
  readonly generation: number;
  /** Stores a validated full session, unless something was forgotten since `generation`. */
  put(tokenHash: string, valid: ValidSession, generation: number): void;
  forgetSession(sessionId: string): void;
  forgetUser(userId: string): void;
  readonly size: number;
};

type Entry = { valid: ValidSession; storedAt: number };

export function createSessionCache({ ttlMs = 2_000, maxEntries = 10_000, monotonic = () => performance.now() }: { ttlMs?: number; maxEntries?: number; monotonic?: () => number } = {}): SessionCache {
  const entries = new Map<string, Entry>();
  let generation = 0;
  const drop = (match: (valid: ValidSession) => boolean) => {
    generation += 1;
    for (const [hash, entry] of entries) if (match(entry.valid)) entries.delete(hash);
  };
  return {
    get(tokenHash, now) {
      if (ttlMs <= 0) return undefined;
      const entry = entries.get(tokenHash);
      if (!entry) return undefined;
      const { session } = entry.valid;
      const lapsed = monotonic() - entry.storedAt >= ttlMs;
      const expired = now >= session.idle_expires_at || now >= session.absolute_expires_at;
      const touchDue = now.getTime() - session.last_seen_at.getTime() >= SESSION_TOUCH_SECONDS * 1000;
      if (lapsed || expired || touchDue) {
        entries.delete(tokenHash);
        return undefined;
      }
      return entry.valid;
    },
    get generation() {
      return generation;
    },
    put(tokenHash, valid, startedAt) {
      if (ttlMs <= 0 || startedAt !== generation || valid.session.stage !== 'ok' || valid.session.revoked_at) return;
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(tokenHash, { valid, storedAt: monotonic() });
    },
    forgetSession(sessionId) {
      drop((valid) => valid.session.id === sessionId);
    },
    forgetUser(userId) {
      drop((valid) => valid.user.id === userId);
    },
    get size() {
      return entries.size;
    },
  };
}
