import { RampartError, systemClock } from '../../../core/index.js';
import { withTenant } from '../../../db/index.js';
import { assertMfaSatisfied, dummyVerify, hashPassword, needsRehash, verifyPassword, type MfaStatus } from '../../credentials/index.js';
import { challengeRequiredProblem, throttledProblem, type Throttle } from '../../throttle/index.js';
import { createSession, type SessionView } from '../../sessions/index.js';
import type { AccountDeps } from '../deps.js';
import { accountFingerprint, findUserByEmail, mfaContextOf, normalizeEmail } from '../store.js';

export type PasswordSignInInput = {
  tenantId: string;
  email: string;
  password: string;
  ip: string;
  userAgent?: string | undefined;
  requestId?: string | undefined;
  throttle: Throttle;
  /** The route verified an ALTCHA solution with this request (ID-10). */
  challengeSolved?: boolean;
};

/**
 * Only what the next step needs (ID-4): who the user is, their tenant, profile, roles and factors
 * stay behind the second factor. The pending session's cookie is the handle for the next step.
 */
export type PasswordSignInResult = {
  /** Never 'ok': a password alone is one factor (ID-4). */
  stage: Exclude<MfaStatus, 'ok'>;
  /** A pending session's token: good only for the enrollment / second-factor steps. */
  token: string;
  session: SessionView;
};

const wrong = () => new RampartError('unauthenticated', { detail: 'email or password is wrong' });

/**
 * The password step of a sign-in. Order matters:
 * 1. the throttle consumes the attempt BEFORE any check (ID-9; parallel guesses cannot exceed it);
 * 2. an unknown account costs a dummy argon2 verification and gets the same 401 as a wrong password;
 * 3. success yields a short pending session (amr pwd, acr sfa), never a full one (ID-4).
 * Failures are audited (feeding the signin-failure-spike alert) with a fingerprint, never the raw
 * address of an unknown account and never the password.
 */
export async function passwordSignIn(deps: AccountDeps, input: PasswordSignInInput): Promise<PasswordSignInResult> {
  const { db, audit, clock = systemClock, passwordParams } = deps;
  const email = typeof input.email === 'string' ? input.email.normalize('NFKC').trim().toLowerCase() : '';
  const subject = { ip: input.ip, account: `${input.tenantId}/${email}` };
  const decision = await input.throttle.beforeAttempt(subject);
  if (!decision.allowed) throw throttledProblem(decision);
  if (decision.challengeRequired && !input.challengeSolved) throw challengeRequiredProblem();
  const isWellFormed = (() => {
    try {
      normalizeEmail(email);
      return true;
    } catch {
      return false;
    }
  })();
  const password = typeof input.password === 'string' ? input.password : '';
  const scope = { tenantId: input.tenantId, actor: { type: 'anonymous' } as const };
  const context = { ip: input.ip, userAgent: input.userAgent, requestId: input.requestId };

  const found = isWellFormed ? await withTenant(db, scope, (trx) => findUserByEmail(trx, email), { readOnly: true }) : undefined;
  let verified = false;
  if (found?.password_hash) verified = (await verifyPassword(found.password_hash, password, passwordParams ? { current: passwordParams } : {})).ok;
  else await dummyVerify(passwordParams);
  const rehash = verified && found?.password_hash && needsRehash(found.password_hash, passwordParams) ? await hashPassword(password, passwordParams) : undefined;

  const outcome = await withTenant(db, scope, async (trx) => {
    const user = found ? await trx.selectFrom('users').selectAll().where('id', '=', found.id).executeTakeFirst() : undefined;
    const reason = !user ? 'unknown_account' : !verified ? 'wrong_password' : user.status !== 'active' ? 'disabled' : undefined;
    if (reason || !user) {
      await audit.record(trx, {
        tenantId: input.tenantId,
        actor: { type: 'anonymous' },
        action: 'identity.signin.failed',
        ...(user ? { target: { type: 'user', id: user.id } } : {}),
        diff: { method: { after: 'password' }, reason: { after: reason ?? 'unknown_account' }, ...(user ? {} : { account_fingerprint: { after: accountFingerprint(input.tenantId, email) } }) },
        context,
      });
      return undefined;
    }
    if (rehash) await trx.updateTable('users').set({ password_hash: rehash, updated_at: clock.now() }).where('id', '=', user.id).execute();
    const mfa = await mfaContextOf(trx, user.id);
    const decision = assertMfaSatisfied({ factors: [], passwordVerified: true, ...mfa });
    // assertMfaSatisfied never says ok without a second factor; the guard keeps it so if that changes.
    const stage = decision.status === 'ok' ? 'mfa_required' : decision.status;
    const { token, session } = await createSession(trx, { tenantId: input.tenantId, userId: user.id, stage, amr: decision.amr, acr: decision.acr, ip: input.ip, userAgent: input.userAgent }, clock);
    await audit.record(trx, {
      tenantId: input.tenantId,
      actor: { type: 'user', id: user.id },
      action: 'identity.signin.succeeded',
      target: { type: 'user', id: user.id },
      diff: { method: { after: 'password' }, stage: { after: stage }, session: { after: session.id }, amr: { after: decision.amr }, ...(rehash ? { password_rehashed: { after: true } } : {}) },
      context,
    });
    return { stage, token, session };
  });
  if (!outcome) {
    await input.throttle.recordFailure(subject);
    throw wrong();
  }
  await input.throttle.recordSuccess(subject);
  return outcome;
}
