import type { RequestContext } from '../../../audit/index.js';
import { RampartError, type Clock } from '../../../core/index.js';
import { withTenant, type TenantTransaction } from '../../../db/index.js';
import { assertMfaSatisfied, type MfaStatus, type VerifiedFactor } from '../../credentials/index.js';
import { checkSession, parseSessionToken, upgradeSession, type SessionView, type ValidSession } from '../../sessions/index.js';
import type { AccountDeps } from '../deps.js';
import { mfaContextOf } from '../store.js';

/** Shared steps of the factor operations (enrollment, TOTP, recovery code). */

export type FactorResult = { stage: MfaStatus; token: string; session: SessionView };

export const noSession = () => new RampartError('unauthenticated', { detail: 'sign in again: this sign-in has expired' });

/**
 * Runs `fn` in the tenant of a (pending or full) session, acting as its user. The session is
 * re-checked inside the same transaction that changes factors.
 */
export async function withSessionUser<T>(
  deps: AccountDeps,
  token: string,
  fn: (trx: TenantTransaction, valid: ValidSession, clock: Clock) => Promise<T>,
): Promise<T> {
  const parsed = parseSessionToken(token);
  if (!parsed) throw noSession();
  const clock = deps.clock ?? { now: () => new Date() };
  return withTenant(deps.db, { tenantId: parsed.tenantId, actor: { type: 'anonymous' } }, async (trx) => {
    const valid = await checkSession(trx, token, clock, { allowPending: true });
    if (!valid) throw noSession();
    return fn(trx, valid, clock);
  });
}

/**
 * Adding a factor needs proof of the factors already held (supabase/auth#1615): a first factor can
 * be enrolled with the password alone (ID-4 forces it), but once the account holds one, only a
 * session that completed MFA (amr `mfa`) may add another. Otherwise a stolen password would let an
 * attacker enroll their own authenticator and skip the victim's.
 */
export async function assertMayAddFactor(trx: TenantTransaction, valid: ValidSession): Promise<void> {
  if (valid.session.amr.includes('mfa')) return;
  const { enrolled } = await mfaContextOf(trx, valid.user.id);
  if (enrolled.length > 0) {
    throw new RampartError('forbidden', { detail: 'verify a factor you already hold before adding another', extensions: { reason: 'mfa_required' } });
  }
}

/** Decides the session's new stage with the factor just verified, rotates its token, audits. */
export async function completeFactor(
  deps: AccountDeps,
  trx: TenantTransaction,
  valid: ValidSession,
  factor: VerifiedFactor,
  action: string,
  context: RequestContext | undefined,
  clock: Clock,
): Promise<FactorResult> {
  const mfa = await mfaContextOf(trx, valid.user.id);
  const decision = assertMfaSatisfied({ factors: [factor], passwordVerified: valid.session.amr.includes('pwd'), ...mfa });
  const { token, session } = await upgradeSession(trx, { session: valid.session, stage: decision.status, amr: decision.amr, acr: decision.acr }, clock);
  await deps.audit.record(trx, {
    tenantId: valid.session.tenant_id,
    actor: { type: 'user', id: valid.user.id },
    action,
    target: { type: 'session', id: session.id },
    diff: { factor: { after: factor.kind }, stage: { before: valid.session.stage, after: decision.status }, amr: { after: decision.amr }, acr: { after: decision.acr } },
    ...(context ? { context } : {}),
  });
  return { stage: decision.status, token, session };
}
