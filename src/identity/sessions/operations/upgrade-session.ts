import { RampartError, systemClock, type Clock } from '../../../core/index.js';
import type { TenantTransaction } from '../../../db/index.js';
import { toView, type SessionRow, type SessionStage, type SessionView } from '../store.js';
import { hashToken, newSessionToken } from '../tokens.js';
import { expiriesFor } from './create-session.js';

/**
 * Records a completed factor on a session: new stage, amr and acr, auth_time now. The token is
 * rotated (the old one stops working), so a token captured before MFA (session fixation, a
 * shoulder-surfed pending cookie) never becomes a full session.
 */
export async function upgradeSession(
  trx: TenantTransaction,
  input: { session: SessionRow; stage: SessionStage; amr: string[]; acr: string; webauthnVerified?: boolean },
  clock: Clock = systemClock,
): Promise<{ token: string; session: SessionView }> {
  const now = clock.now();
  const token = newSessionToken(input.session.tenant_id);
  const { idle, absolute } = expiriesFor(input.stage, input.session.created_at, now);
  const row = await trx
    .updateTable('sessions')
    .set({ token_hash: hashToken(token), stage: input.stage, amr: input.amr, acr: input.acr, auth_time: now, last_seen_at: now, idle_expires_at: idle, absolute_expires_at: absolute, ...(input.webauthnVerified ? { webauthn_verified_at: now } : {}) })
    .where('id', '=', input.session.id)
    .where('token_hash', '=', input.session.token_hash)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  // Two parallel upgrades of one session: the second finds the hash already rotated.
  if (!row) throw new RampartError('conflict', { detail: 'this sign-in was completed by another request; sign in again if needed' });
  return { token, session: toView(row) };
}

/**
 * Records a step-up (ID-7) on a full session: `webauthn_verified_at` now, and a new token (the
 * elevated session is not reachable with a token captured before the step-up). Stage, amr and
 * auth_time stay: a step-up proves freshness, it does not change how the session signed in, and
 * the freshness it grants is computed from the timestamp at every check, so it lapses by itself.
 */
export async function recordStepUp(trx: TenantTransaction, session: SessionRow, clock: Clock = systemClock): Promise<{ token: string; session: SessionView }> {
  const now = clock.now();
  const token = newSessionToken(session.tenant_id);
  const row = await trx
    .updateTable('sessions')
    .set({ token_hash: hashToken(token), webauthn_verified_at: now, last_seen_at: now })
    .where('id', '=', session.id)
    .where('token_hash', '=', session.token_hash)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new RampartError('conflict', { detail: 'this session changed in another request; retry' });
  return { token, session: toView(row) };
}
