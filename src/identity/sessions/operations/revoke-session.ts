import type { AuditLog, RequestContext } from '../../../audit/index.js';
import { RampartError, systemClock, type Clock } from '../../../core/index.js';
import { withTenant, type Actor, type Database } from '../../../db/index.js';

import type { SessionCache } from '../cache.js';

export type RevokeDeps = { db: Database; audit: AuditLog; clock?: Clock; sessionCache?: SessionCache };

/**
 * Revokes one session of `userId` (a user signing out, or revoking one of their devices). A
 * session of another user or tenant answers 404, never 403.
 */
export async function revokeSession(
  { db, audit, clock = systemClock, sessionCache }: RevokeDeps,
  input: { tenantId: string; actor: Actor; userId: string; sessionId: string; reason?: string; context?: RequestContext },
): Promise<void> {
  // Forgotten after commit (finally): from the next request on, this node reads the session from
  // the database (ID-6), and a lookup that raced the revoke cannot store the old state.
  try {
    await withTenant(db, { tenantId: input.tenantId, actor: input.actor }, async (trx) => {
      const reason = (input.reason ?? 'signed out').slice(0, 200);
      const row = await trx
        .updateTable('sessions')
        .set({ revoked_at: clock.now(), revoked_reason: reason })
        .where('id', '=', input.sessionId)
        .where('user_id', '=', input.userId)
        .where('revoked_at', 'is', null)
        .returning('id')
        .executeTakeFirst();
      if (!row) throw new RampartError('not_found', { detail: 'no such active session' });
      await audit.record(trx, {
        tenantId: input.tenantId,
        actor: input.actor,
        action: 'identity.session.revoked',
        target: { type: 'session', id: input.sessionId },
        diff: { user: { after: input.userId }, reason: { after: reason } },
        ...(input.context ? { context: input.context } : {}),
      });
    });
  } finally {
    sessionCache?.forgetSession(input.sessionId);
  }
}

/** "Sign out everywhere": revokes every live session of the user, in one audited transaction. */
export async function revokeAllSessions(
  { db, audit, clock = systemClock, sessionCache }: RevokeDeps,
  input: { tenantId: string; actor: Actor; userId: string; reason?: string; context?: RequestContext },
): Promise<{ revoked: number }> {
  try {
    return await withTenant(db, { tenantId: input.tenantId, actor: input.actor }, async (trx) => {
      const reason = (input.reason ?? 'signed out everywhere').slice(0, 200);
      const rows = await trx
        .updateTable('sessions')
        .set({ revoked_at: clock.now(), revoked_reason: reason })
        .where('user_id', '=', input.userId)
        .where('revoked_at', 'is', null)
        .returning('id')
        .execute();
      await audit.record(trx, {
        tenantId: input.tenantId,
        actor: input.actor,
        action: 'identity.session.revoked_all',
        target: { type: 'user', id: input.userId },
        diff: { revoked: { after: rows.length }, reason: { after: reason } },
        ...(input.context ? { context: input.context } : {}),
      });
      return { revoked: rows.length };
    });
  } finally {
    sessionCache?.forgetUser(input.userId);
  }
}
