import { systemClock, type Clock } from '../../../core/index.js';
import { withTenant, type Database, type TenantTransaction } from '../../../db/index.js';
import { SESSION_IDLE_SECONDS, SESSION_TOUCH_SECONDS } from '../policy.js';
import { findSessionByHash, loadSessionUser, type SessionRow } from '../store.js';
import { hashToken, parseSessionToken } from '../tokens.js';

export type ValidSession = {
  session: SessionRow;
  user: { id: string; department: string | null; region: string | null; roles: string[] };
};

export type ValidateOptions = {
  /** Accept MFA-incomplete sessions: only for the enrollment and second-factor steps. */
  allowPending?: boolean;
};

const SYSTEM = { type: 'system', id: 'sessions' } as const;

/**
 * Checks a session inside an open tenant transaction: found by token hash, not revoked, within
 * its idle and absolute timeouts, user active, and (unless allowPending) MFA complete. Slides
 * `last_seen_at` and the idle expiry at most once a minute, never past the absolute expiry.
 */
export async function checkSession(trx: TenantTransaction, token: string, clock: Clock, options: ValidateOptions = {}): Promise<ValidSession | null> {
  const session = await findSessionByHash(trx, hashToken(token));
  if (!session) return null;
  const now = clock.now();
  if (session.revoked_at || now >= session.idle_expires_at || now >= session.absolute_expires_at) return null;
  if (session.stage !== 'ok' && !options.allowPending) return null;
  const user = await loadSessionUser(trx, session.user_id);
  if (!user || user.status !== 'active') return null;
  if (now.getTime() - session.last_seen_at.getTime() >= SESSION_TOUCH_SECONDS * 1000 && session.stage === 'ok') {
    const idle = new Date(Math.min(now.getTime() + SESSION_IDLE_SECONDS * 1000, session.absolute_expires_at.getTime()));
    await trx.updateTable('sessions').set({ last_seen_at: now, idle_expires_at: idle }).where('id', '=', session.id).execute();
    session.last_seen_at = now;
    session.idle_expires_at = idle;
  }
  return { session, user: { id: user.id, department: user.department, region: user.region, roles: user.roles } };
}

/** Validates a session token in its own tenant transaction; null for anything not valid. */
export async function validateSession({ db, clock = systemClock }: { db: Database; clock?: Clock }, token: string, options: ValidateOptions = {}): Promise<ValidSession | null> {
  const parsed = parseSessionToken(token);
  if (!parsed) return null;
  return withTenant(db, { tenantId: parsed.tenantId, actor: SYSTEM }, (trx) => checkSession(trx, token, clock, options));
}
