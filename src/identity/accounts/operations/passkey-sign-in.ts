import {
  generateAuthenticationOptions,
  verifyAuthenticationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type VerifiedAuthenticationResponse,
} from '@simplewebauthn/server';
import type { RequestContext } from '../../../audit/index.js';
import { RampartError, systemClock, uuidv7 } from '../../../core/index.js';
import { withTenant } from '../../../db/index.js';
import { assertMfaSatisfied, type MfaStatus } from '../../credentials/index.js';
import { createSession, type SessionView } from '../../sessions/index.js';
import { throttledProblem, type Throttle } from '../../throttle/index.js';
import type { AccountDeps } from '../deps.js';
import { mfaContextOf, toPublicUser, type PublicUser } from '../store.js';
import { failureOf, PASSKEY_CHALLENGE_TTL_MS, recordCounterRegression, relyingPartyOf, type CeremonyFailure } from './passkey-ceremony.js';

/**
 * Username-less sign-in with a discoverable passkey (controls ID-4, ID-5, ID-9). The options name
 * no credential (the authenticator offers the user's passkeys for this RP); the assertion names
 * its credential and user handle. User verification is REQUIRED: a passkey with presence only is
 * one factor and would not be MFA (the anchor bug the issue names). A user-verified passkey is
 * phishing-resistant MFA on its own, so the session is full (`ok`), amr/acr per the factor policy.
 *
 * The challenge is not bound to a session (there is none yet): it is single use, consumed by a
 * conditional UPDATE before the assertion is verified, and expires after five minutes.
 */

export type PasskeySignInResult = { user: PublicUser; stage: MfaStatus; token: string; session: SessionView };

const refused = () => new RampartError('unauthenticated', { detail: 'the passkey was not accepted; try again or sign in with your password' });

/** The challenge the browser signed, from clientDataJSON; undefined for anything malformed. */
function challengeOf(response: AuthenticationResponseJSON): string | undefined {
  try {
    const data = JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof data.challenge === 'string' && data.challenge.length >= 16 && data.challenge.length <= 512 ? data.challenge : undefined;
  } catch {
    return undefined;
  }
}

export async function beginPasskeySignIn(deps: AccountDeps, input: { tenantId: string }): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const clock = deps.clock ?? systemClock;
  const rp = relyingPartyOf(deps);
  const options = await generateAuthenticationOptions({ rpID: rp.rpId, userVerification: 'required', timeout: PASSKEY_CHALLENGE_TTL_MS });
  await withTenant(deps.db, { tenantId: input.tenantId, actor: { type: 'anonymous' } }, async (trx) => {
    const now = clock.now();
    await trx
      .insertInto('webauthn_challenges')
      .values({ tenant_id: input.tenantId, id: uuidv7(now.getTime()), session_id: null, user_id: null, challenge: options.challenge, purpose: 'sign_in', expires_at: new Date(now.getTime() + PASSKEY_CHALLENGE_TTL_MS), used_at: null })
      .execute();
  });
  return options;
}

export async function finishPasskeySignIn(
  deps: AccountDeps,
  input: { tenantId: string; response: AuthenticationResponseJSON; ip: string; context: RequestContext; throttle: Throttle },
): Promise<PasskeySignInResult> {
  const clock = deps.clock ?? systemClock;
  // Per IP (ID-9): the account is unknown until the assertion names it, and keying on the
  // credential would let anyone lock a victim's passkey out.
  const subject = { ip: input.ip, account: `${input.tenantId}/passkey-sign-in/${input.ip}` };
  const decision = await input.throttle.beforeAttempt(subject);
  if (!decision.allowed) throw throttledProblem(decision);
  const scope = { tenantId: input.tenantId, actor: { type: 'anonymous' } as const };

  const outcome = await withTenant(deps.db, scope, async (trx) => {
    const now = clock.now();
    const seen: { userId?: string } = {};
    const fail = async (reason: CeremonyFailure | 'disabled') => {
      await deps.audit.record(trx, {
        tenantId: input.tenantId,
        actor: { type: 'anonymous' },
        action: 'identity.signin.failed',
        ...(seen.userId ? { target: { type: 'user', id: seen.userId } } : {}),
        diff: { method: { after: 'passkey' }, reason: { after: reason } },
        context: input.context,
      });
      return { failed: reason } as const;
    };
    const challenge = challengeOf(input.response);
    const consumed = challenge
      ? await trx
          .updateTable('webauthn_challenges')
          .set({ used_at: now })
          .where('purpose', '=', 'sign_in')
          .where('challenge', '=', challenge)
          .where('used_at', 'is', null)
          .where('expires_at', '>', now)
          .returning('id')
          .executeTakeFirst()
      : undefined;
    if (!consumed || !challenge) return fail('no_challenge');
    const row = await trx.selectFrom('webauthn_credentials').selectAll().where('credential_id', '=', input.response.id).executeTakeFirst();
    if (!row) return fail('unknown_credential');
    seen.userId = row.user_id;
    // The user handle a discoverable credential returns is the user id it was registered with.
    const handle = input.response.response.userHandle;
    if (handle !== undefined && Buffer.from(handle, 'base64url').toString('utf8') !== row.user_id) return fail('unknown_credential');
    const rp = relyingPartyOf(deps);
    let verification: VerifiedAuthenticationResponse;
    try {
      verification = await verifyAuthenticationResponse({
        response: input.response,
        expectedChallenge: challenge,
        expectedOrigin: rp.origins,
        expectedRPID: rp.rpId,
        credential: { id: row.credential_id, publicKey: new Uint8Array(row.public_key), counter: Number(row.counter), transports: row.transports },
        requireUserVerification: true,
      });
    } catch (error) {
      const reason = failureOf(error);
      if (reason === 'counter_regression') await recordCounterRegression(deps, trx, { tenantId: input.tenantId, userId: row.user_id, credentialId: row.id, context: input.context });
      return fail(reason);
    }
    const info = verification.authenticationInfo;
    if (!verification.verified || !info.userVerified) return fail('user_verification');
    const advanced = await trx
      .updateTable('webauthn_credentials')
      .set({ counter: info.newCounter, last_used_at: now })
      .where('id', '=', row.id)
      .where((eb) => (info.newCounter === 0 ? eb('counter', '=', 0) : eb('counter', '<', info.newCounter)))
      .returning('id')
      .executeTakeFirst();
    if (!advanced) {
      await recordCounterRegression(deps, trx, { tenantId: input.tenantId, userId: row.user_id, credentialId: row.id, context: input.context });
      return fail('counter_regression');
    }
    const user = await trx.selectFrom('users').selectAll().where('id', '=', row.user_id).executeTakeFirst();
    if (!user || user.status !== 'active') return fail('disabled');
    const mfa = await mfaContextOf(trx, user.id);
    const mfaDecision = assertMfaSatisfied({ factors: [{ kind: 'webauthn', userVerified: info.userVerified }], ...mfa });
    const { token, session } = await createSession(
      trx,
      { tenantId: input.tenantId, userId: user.id, stage: mfaDecision.status, amr: mfaDecision.amr, acr: mfaDecision.acr, ip: input.ip, userAgent: input.context.userAgent, webauthnVerified: true },
      clock,
    );
    await deps.audit.record(trx, {
      tenantId: input.tenantId,
      actor: { type: 'user', id: user.id },
      action: 'identity.signin.succeeded',
      target: { type: 'user', id: user.id },
      diff: { method: { after: 'passkey' }, stage: { after: mfaDecision.status }, session: { after: session.id }, amr: { after: mfaDecision.amr }, acr: { after: mfaDecision.acr }, credential: { after: row.id } },
      context: input.context,
    });
    return { user: toPublicUser(user), stage: mfaDecision.status, token, session };
  });
  if ('failed' in outcome) {
    await input.throttle.recordFailure(subject);
    throw refused();
  }
  await input.throttle.recordSuccess(subject);
  return outcome;
}
