import {
  generateRegistrationOptions,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
  type VerifiedRegistrationResponse,
} from '@simplewebauthn/server';
import type { RequestContext } from '../../../audit/index.js';
import { uuidv7 } from '../../../core/index.js';
import type { AccountDeps } from '../deps.js';
import { findUserById } from '../store.js';
import { consumeChallenges, failureOf, passkeyRefused, PASSKEY_CHALLENGE_TTL_MS, recordFailure, relyingPartyOf, storeChallenge, type CeremonyFailure } from './passkey-ceremony.js';
import { assertMayAddFactor, completeFactor, withSessionUser, type FactorResult } from './second-factor.js';

/**
 * Starts registering a passkey for the session's user (pending or full session). Discoverable
 * credentials with user verification required: a passkey registered this way is a multi-factor
 * credential on its own and the factor high-privilege roles need (ID-5). Like TOTP enrollment, a
 * user who already holds a factor must have completed MFA in this session (supabase/auth#1615).
 */
export async function beginPasskeyRegistration(deps: AccountDeps, input: { token: string; context?: RequestContext }): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return withSessionUser(deps, input.token, async (trx, valid, clock) => {
    await assertMayAddFactor(trx, valid, clock);
    const rp = relyingPartyOf(deps);
    const user = await findUserById(trx, valid.user.id);
    const existing = await trx.selectFrom('webauthn_credentials').select(['credential_id', 'transports']).where('user_id', '=', valid.user.id).execute();
    const options = await generateRegistrationOptions({
      rpName: rp.rpName,
      rpID: rp.rpId,
      userName: user?.email ?? valid.user.id,
      userDisplayName: user?.display_name ?? '',
      userID: new TextEncoder().encode(valid.user.id),
      attestationType: 'none',
      timeout: PASSKEY_CHALLENGE_TTL_MS,
      excludeCredentials: existing.map((c) => ({ id: c.credential_id, transports: c.transports })),
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
    });
    await storeChallenge(trx, valid, 'register', options.challenge, clock);
    await deps.audit.record(trx, { tenantId: valid.session.tenant_id, actor: { type: 'user', id: valid.user.id }, action: 'identity.mfa.passkey.registration_started', target: { type: 'user', id: valid.user.id }, ...(input.context ? { context: input.context } : {}) });
    return options;
  });
}

/**
 * Verifies the browser's attestation against the stored single-use challenge, the configured
 * origins and RP ID, with user verification required; stores the credential and completes the
 * factor: password + a user-verified passkey is phishing-resistant MFA, so a pending session
 * (including a high-privilege one at `passkey_required`) becomes a full session under a new token.
 */
export async function finishPasskeyRegistration(
  deps: AccountDeps,
  input: { token: string; response: RegistrationResponseJSON; name?: string; context?: RequestContext },
): Promise<FactorResult & { credentialId: string }> {
  const outcome = await withSessionUser(deps, input.token, async (trx, valid, clock) => {
    await assertMayAddFactor(trx, valid, clock);
    const refuse = async (reason: CeremonyFailure) => {
      await recordFailure(deps, trx, valid, 'register', reason, input.context);
      return { failed: reason } as const;
    };
    const challenges = await consumeChallenges(trx, valid, 'register', clock);
    if (!challenges.length) return refuse('no_challenge');
    const rp = relyingPartyOf(deps);
    let verification: VerifiedRegistrationResponse;
    try {
      verification = await verifyRegistrationResponse({
        response: input.response,
        expectedChallenge: (challenge) => challenges.includes(challenge),
        expectedOrigin: rp.origins,
        expectedRPID: rp.rpId,
        requireUserPresence: true,
        requireUserVerification: true,
      });
    } catch (error) {
      return refuse(failureOf(error));
    }
    if (!verification.verified) return refuse('invalid');
    const info = verification.registrationInfo;
    const taken = await trx.selectFrom('webauthn_credentials').select('id').where('credential_id', '=', info.credential.id).executeTakeFirst();
    if (taken) return refuse('duplicate_credential');
    const id = uuidv7();
    await trx
      .insertInto('webauthn_credentials')
      .values({
        tenant_id: valid.session.tenant_id,
        id,
        user_id: valid.user.id,
        credential_id: info.credential.id,
        public_key: info.credential.publicKey,
        counter: info.credential.counter,
        transports: info.credential.transports ?? [],
        device_type: info.credentialDeviceType,
        backed_up: info.credentialBackedUp,
        name: input.name?.trim() || 'Passkey',
        last_used_at: null,
      })
      .execute();
    await deps.audit.record(trx, {
      tenantId: valid.session.tenant_id,
      actor: { type: 'user', id: valid.user.id },
      action: 'identity.mfa.passkey.registered',
      target: { type: 'webauthn_credential', id },
      diff: { device_type: { after: info.credentialDeviceType }, backed_up: { after: info.credentialBackedUp }, user_verified: { after: info.userVerified } },
      ...(input.context ? { context: input.context } : {}),
    });
    const result = await completeFactor(deps, trx, valid, { kind: 'webauthn', userVerified: info.userVerified }, 'identity.mfa.verified', input.context, clock);
    return { ...result, credentialId: id };
  });
  if ('failed' in outcome) throw passkeyRefused('register', outcome.failed);
  return outcome;
}
