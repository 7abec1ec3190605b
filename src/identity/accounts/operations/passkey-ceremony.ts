import { generateAuthenticationOptions, verifyAuthenticationResponse, type AuthenticationResponseJSON, type PublicKeyCredentialRequestOptionsJSON, type VerifiedAuthenticationResponse } from '@simplewebauthn/server';
import type { RequestContext } from '../../../audit/index.js';
import { RampartError, uuidv7, type Clock } from '../../../core/index.js';
import type { TenantTransaction } from '../../../db/index.js';
import type { ValidSession } from '../../sessions/index.js';
import type { AccountDeps } from '../deps.js';

/**
 * Shared steps of the passkey (WebAuthn) operations: the relying party, and the ceremony
 * challenges. A challenge is bound to the session that asked for it and to its purpose, expires
 * after five minutes and is consumed by a conditional UPDATE before the response is verified, so a
 * failed or replayed response burns it. Challenges and public keys never reach a log or an audit
 * event.
 */

export const PASSKEY_CHALLENGE_TTL_MS = 5 * 60_000;

export type RelyingParty = { rpId: string; rpName: string; origins: string[] };
export type CeremonyPurpose = 'register' | 'authenticate' | 'step_up';

export const relyingPartyOf = (deps: AccountDeps): RelyingParty => deps.webauthn ?? { rpId: 'localhost', rpName: 'Rampart', origins: ['http://localhost:3000'] };

/** Stores a new challenge for the session, retiring any earlier unused one of the same purpose. */
export async function storeChallenge(trx: TenantTransaction, valid: ValidSession, purpose: CeremonyPurpose, challenge: string, clock: Clock): Promise<void> {
  const now = clock.now();
  await trx.updateTable('webauthn_challenges').set({ used_at: now }).where('session_id', '=', valid.session.id).where('purpose', '=', purpose).where('used_at', 'is', null).execute();
  await trx
    .insertInto('webauthn_challenges')
    .values({ tenant_id: valid.session.tenant_id, id: uuidv7(), session_id: valid.session.id, user_id: valid.user.id, challenge, purpose, expires_at: new Date(now.getTime() + PASSKEY_CHALLENGE_TTL_MS), used_at: null })
    .execute();
}

/** Marks the session's live challenges of this purpose used and returns them (empty: none, or expired). */
export async function consumeChallenges(trx: TenantTransaction, valid: ValidSession, purpose: CeremonyPurpose, clock: Clock): Promise<string[]> {
  const now = clock.now();
  const rows = await trx
    .updateTable('webauthn_challenges')
    .set({ used_at: now })
    .where('session_id', '=', valid.session.id)
    .where('user_id', '=', valid.user.id)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning('challenge')
    .execute();
  return rows.map((row) => row.challenge);
}

export type CeremonyFailure = 'no_challenge' | 'challenge' | 'origin' | 'rp_id' | 'user_verification' | 'unknown_credential' | 'duplicate_credential' | 'counter_regression' | 'invalid';

/**
 * A verification error as a fixed reason: the library's messages can quote the challenge, so the
 * message itself is never recorded.
 */
export function failureOf(error: unknown): CeremonyFailure {
  const message = error instanceof Error ? error.message : '';
  if (/counter/i.test(message)) return 'counter_regression';
  if (/challenge/i.test(message)) return 'challenge';
  if (/origin/i.test(message)) return 'origin';
  if (/RP ?ID/i.test(message)) return 'rp_id';
  if (/user (could not be )?verif/i.test(message)) return 'user_verification';
  return 'invalid';
}

/** Records a refused ceremony (in the transaction that consumed the challenge, which commits). */
export async function recordFailure(deps: AccountDeps, trx: TenantTransaction, valid: ValidSession, purpose: CeremonyPurpose, reason: CeremonyFailure, context: RequestContext | undefined): Promise<void> {
  await deps.audit.record(trx, {
    tenantId: valid.session.tenant_id,
    actor: { type: 'user', id: valid.user.id },
    action: purpose === 'register' ? 'identity.mfa.passkey.registration_failed' : purpose === 'step_up' ? 'identity.stepup.failed' : 'identity.mfa.failed',
    target: { type: 'user', id: valid.user.id },
    diff: { factor: { after: 'webauthn' }, reason: { after: reason } },
    ...(context ? { context } : {}),
  });
  if (reason === 'counter_regression') await recordCounterRegression(deps, trx, { tenantId: valid.session.tenant_id, userId: valid.user.id, context });
}

/**
 * A signature counter that did not move forward suggests a cloned authenticator: besides the
 * refusal, this event raises the `passkey-counter-regression` alert (ID-5, MO-2).
 */
export async function recordCounterRegression(
  deps: Pick<AccountDeps, 'audit'>,
  trx: TenantTransaction,
  input: { tenantId: string; userId: string; credentialId?: string; context?: RequestContext | undefined },
): Promise<void> {
  await deps.audit.record(trx, {
    tenantId: input.tenantId,
    actor: { type: 'user', id: input.userId },
    action: 'identity.passkey.counter_regression',
    target: input.credentialId ? { type: 'webauthn_credential', id: input.credentialId } : { type: 'user', id: input.userId },
    diff: { user: { after: input.userId } },
    ...(input.context ? { context: input.context } : {}),
  });
}

export const passkeyRefused = (purpose: CeremonyPurpose, reason: CeremonyFailure) =>
  purpose === 'register'
    ? new RampartError('validation_failed', { detail: 'body /response: the passkey could not be registered', issues: [{ in: 'body', pointer: '/response', message: reasonText(reason) }] })
    : new RampartError('unauthenticated', { detail: `the passkey was not accepted: ${reasonText(reason)}` });

function reasonText(reason: CeremonyFailure): string {
  switch (reason) {
    case 'no_challenge':
      return 'no ceremony in progress, or it expired; start again';
    case 'counter_regression':
      return 'the authenticator may have been cloned';
    case 'duplicate_credential':
      return 'this passkey is already registered';
    case 'unknown_credential':
      return 'this passkey is not registered to the account';
    default:
      return 'the response does not verify';
  }
}

/**
 * Assertion options naming the session user's passkeys, with user verification required (a
 * passkey counts as a factor only with UV, ID-5), and the challenge stored for `purpose`. Shared by
 * the sign-in's second factor and by step-up so the two can never drift apart.
 */
export async function assertionOptionsFor(deps: AccountDeps, trx: TenantTransaction, valid: ValidSession, purpose: CeremonyPurpose, clock: Clock, noPasskey: () => Error): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const credentials = await trx.selectFrom('webauthn_credentials').select(['credential_id', 'transports']).where('user_id', '=', valid.user.id).execute();
  if (!credentials.length) throw noPasskey();
  const options = await generateAuthenticationOptions({
    rpID: relyingPartyOf(deps).rpId,
    allowCredentials: credentials.map((c) => ({ id: c.credential_id, transports: c.transports })),
    userVerification: 'required',
    timeout: PASSKEY_CHALLENGE_TTL_MS,
  });
  await storeChallenge(trx, valid, purpose, options.challenge, clock);
  return options;
}

type CredentialRow = { id: string; credential_id: string; public_key: Buffer | Uint8Array; counter: bigint | number | string; transports: string[] };

/**
 * Verifies an assertion against one of the challenges this session holds, user verification
 * required, then advances the signature counter with a conditional UPDATE: it must increase unless
 * the authenticator keeps none (0 stays 0), so a cloned authenticator is refused and two parallel
 * uses of one assertion cannot both pass. `unverified` names the failure when the library answers
 * "not verified" without throwing. Shared by the sign-in factor and step-up.
 */
export async function verifyAssertion(
  deps: AccountDeps,
  trx: TenantTransaction,
  input: { row: CredentialRow; challenges: string[]; response: AuthenticationResponseJSON; clock: Clock; unverified: CeremonyFailure },
): Promise<{ failed: CeremonyFailure } | { info: VerifiedAuthenticationResponse['authenticationInfo'] }> {
  const { row, challenges, response, clock } = input;
  const rp = relyingPartyOf(deps);
  let verification: VerifiedAuthenticationResponse;
  try {
    verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge: (challenge) => challenges.includes(challenge),
      expectedOrigin: rp.origins,
      expectedRPID: rp.rpId,
      credential: { id: row.credential_id, publicKey: new Uint8Array(row.public_key), counter: Number(row.counter), transports: row.transports as never },
      requireUserVerification: true,
    });
  } catch (error) {
    return { failed: failureOf(error) };
  }
  if (!verification.verified || !verification.authenticationInfo.userVerified) return { failed: input.unverified };
  const info = verification.authenticationInfo;
  const advanced = await trx
    .updateTable('webauthn_credentials')
    .set({ counter: info.newCounter, last_used_at: clock.now() })
    .where('id', '=', row.id)
    .where((eb) => (info.newCounter === 0 ? eb('counter', '=', 0) : eb('counter', '<', info.newCounter)))
    .returning('id')
    .executeTakeFirst();
  return advanced ? { info } : { failed: 'counter_regression' };
}
