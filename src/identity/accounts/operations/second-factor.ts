import type { RequestContext } from '../../../audit/index.js';
import { RampartError, type Clock } from '../../../core/index.js';
import { withTenant, type TenantTransaction } from '../../../db/index.js';
import { ACR, assertMfaSatisfied, type MfaStatus, type VerifiedFactor } from '../../credentials/index.js';
import { assertFreshAuth, requireFreshAuth } from '../../../http/index.js';
import { checkSession, parseSessionToken, principalOfSession, upgradeSession, validateSession, type SessionView, type ValidSession } from '../../sessions/index.js';
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
  options: { allowPending?: boolean } = {},
): Promise<T> {
  const parsed = parseSessionToken(token);
  if (!parsed) throw noSession();
  const clock = deps.clock ?? { now: () => new Date() };
  let sessionId: string | undefined;
  try {
    return await withTenant(deps.db, { tenantId: parsed.tenantId, actor: { type: 'anonymous' } }, async (trx) => {
      const valid = await checkSession(trx, token, clock, { allowPending: options.allowPending ?? true });
      if (!valid) throw noSession();
      sessionId = valid.session.id;
      return fn(trx, valid, clock);
    });
  } finally {
    // What ran here may have rotated the token or changed the session (a factor, a step-up):
    // after commit, this node's session cache reads it again (ID-6).
    if (sessionId) deps.sessionCache?.forgetSession(sessionId);
  }
}

/**
 * Adding a factor needs proof of the factors already held (supabase/auth#1615): a first factor can
 * be enrolled with the password alone (ID-4 forces it), but once the account holds one, only a
 * session that completed MFA (amr `mfa`) may add another. Otherwise a stolen password would let an
 * attacker enroll their own authenticator and skip the victim's.
 */
/**
 * The throttle subject for second-factor guesses: keyed on the *user*, not the session, so signing
 * in again for a fresh pending session does not buy a fresh budget of 6-digit guesses (ID-9).
 * Resolves the session first; an unknown token gives no subject (the operation answers 401).
 */
export async function secondFactorSubject(deps: AccountDeps, token: string, ip: string | undefined): Promise<{ ip: string; account: string } | undefined> {
  const valid = await validateSession(deps, token, { allowPending: true });
  return valid ? { ip: ip ?? '0.0.0.0', account: `${valid.session.tenant_id}/second-factor/${valid.user.id}` } : undefined;
}

/** Adding or removing a factor needs a re-verification at most this old (supabase/auth#1615). */
export const FACTOR_CHANGE_MAX_AGE_SECONDS = 5 * 60;

/**
 * The freshness a factor change needs: a passkey holder re-proves a passkey (step-up); anyone
 * else a sign-in completed within five minutes. Computed at check time from the session row.
 */
export function assertFreshForFactorChange(valid: ValidSession, enrolled: readonly string[], clock: Clock): void {
  const now = clock.now();
  const requirement = requireFreshAuth({ maxAgeSeconds: FACTOR_CHANGE_MAX_AGE_SECONDS, factor: enrolled.includes('webauthn') ? 'webauthn' : 'any' });
  assertFreshAuth(principalOfSession(valid, now), requirement, now);
}

export async function assertMayAddFactor(trx: TenantTransaction, valid: ValidSession, clock: Clock): Promise<void> {
  const { enrolled } = await mfaContextOf(trx, valid.user.id);
  if (enrolled.length === 0) return; // the first factor, right after the password
  if (!valid.session.amr.includes('mfa')) {
    throw new RampartError('forbidden', { detail: 'verify a factor you already hold before adding another', extensions: { reason: 'mfa_required' } });
  }
  // Whoever holds a passkey proves it before adding any factor: otherwise a phished password and
  // TOTP (or recovery) code would be enough to register the attacker's own passkey (ID-5).
  if (enrolled.includes('webauthn') && valid.session.acr !== ACR.phishingResistant) {
    throw new RampartError('forbidden', { detail: 'sign in with your passkey before adding a factor', extensions: { reason: 'passkey_required' } });
  }
  assertFreshForFactorChange(valid, enrolled, clock);
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
  const amr = valid.session.amr;
  // A magic-link session carries `otp` without `pwd`: the link was its first factor.
  const decision = assertMfaSatisfied({ factors: [factor], passwordVerified: amr.includes('pwd'), linkVerified: !amr.includes('pwd') && amr.includes('otp'), ...mfa });
  const webauthnVerified = factor.kind === 'webauthn' && factor.userVerified === true;
  // A factor added to a session that already completed MFA keeps how that session signed in: the
  // new factor alone must not demote it (an admin enrolling TOTP would fall to passkey_required).
  const next = valid.session.stage === 'ok' ? { status: 'ok' as const, amr: valid.session.amr, acr: valid.session.acr } : decision;
  const { token, session } = await upgradeSession(trx, { session: valid.session, stage: next.status, amr: next.amr, acr: next.acr, webauthnVerified }, clock);
  await deps.audit.record(trx, {
    tenantId: valid.session.tenant_id,
    actor: { type: 'user', id: valid.user.id },
    action,
    target: { type: 'session', id: session.id },
    diff: { factor: { after: factor.kind }, stage: { before: valid.session.stage, after: next.status }, amr: { after: next.amr }, acr: { after: next.acr } },
    ...(context ? { context } : {}),
  });
  return { stage: next.status, token, session };
}
