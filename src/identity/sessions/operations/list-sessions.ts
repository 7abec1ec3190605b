import { systemClock, type Clock } from '../../../core/index.js';
import { withTenant, type Actor, type Database } from '../../../db/index.js';
import { activeSessions, toView, type SessionView } from '../store.js';

/** The user's live sessions (newest first), for "your devices"; never the token hash. */
export async function listSessions({ db, clock = systemClock }: { db: Database; clock?: Clock }, input: { tenantId: string; actor: Actor; userId: string }): Promise<SessionView[]> {
  return withTenant(db, { tenantId: input.tenantId, actor: input.actor }, async (trx) => (await activeSessions(trx, input.userId, clock.now())).map(toView), { readOnly: true });
}
