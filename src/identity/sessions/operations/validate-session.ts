import { systemClock, type Clock } from '../../../core/index.js';
import { readAsTenant, withTenant, type Database, type TenantTransaction } from '../../../db/index.js';
import { SESSION_IDLE_SECONDS, SESSION_TOUCH_SECONDS } from '../policy.js';
import { findSessionByHash, loadSessionUser, sessionWithUserQuery, type SessionRow, type SessionWithUser } from '../store.js';
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
  if (!isUsable(session, now, options)) return null;
  const user = await loadSessionUser(trx, session.user_id);
  if (!user || user.status !== 'active') return null;
  if (isTouchDue(session, now)) {
    const idle = new Date(Math.min(now.getTime() + SESSION_IDLE_SECONDS * 1000, session.absolute_expires_at.getTime()));
    await trx.updateTable('sessions').set({ last_seen_at: now, idle_expires_at: idle }).where('id', '=', session.id).execute();
    session.last_seen_at = now;
    session.idle_expires_at = idle;
  }
  return { session, user: { id: user.id, department: user.department, region: user.region, roles: user.roles } };
}

/** Not revoked, within its idle and absolute timeouts, and (unless allowPending) MFA complete. */
const isUsable = (session: SessionRow, now: Date, options: ValidateOptions): boolean =>
  !session.revoked_at && now < session.idle_expires_at && now < session.absolute_expires_at && (session.stage === 'ok' || Boolean(options.allowPending));

/** A full session slides its idle expiry at most once a minute (a write). */
const isTouchDue = (session: SessionRow, now: Date): boolean => session.stage === 'ok' && now.getTime() - session.last_seen_at.getTime() >= SESSION_TOUCH_SECONDS * 1000;

/**
 * Validates a session token; null for anything not valid. The session, its user and roles are read
 * in one statement sent with the tenant scope (readAsTenant: one call embedded, one round trip on
 * PostgreSQL). Only a session due its once-a-minute slide takes a tenant transaction, where
 * checkSession reads it again and writes the slide.
 */
export async function validateSession({ db, clock = systemClock }: { db: Database; clock?: Clock }, token: string, options: ValidateOptions = {}): Promise<ValidSession | null> {
  const parsed = parseSessionToken(token);
  if (!parsed) return null;
  const scope = { tenantId: parsed.tenantId, actor: SYSTEM };
  const [row] = await readAsTenant<SessionWithUser>(db, scope, sessionWithUserQuery(db, hashToken(token)));
  if (!row) return null;
  const { user_status: status, user_department: department, user_region: region, user_roles: roles, ...session } = row;
  const now = clock.now();
  if (!isUsable(session, now, options) || status !== 'active') return null;
  if (isTouchDue(session, now)) return withTenant(db, scope, (trx) => checkSession(trx, token, clock, options));
  return { session, user: { id: session.user_id, department, region, roles } };
}
