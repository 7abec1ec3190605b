import {
  type AuthenticationResponseJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import type { RequestContext } from '../../../audit/index.js';
import { RampartError } from '../../../core/index.js';
import type { AccountDeps } from '../deps.js';
import { assertionOptionsFor, consumeChallenges, passkeyRefused, recordFailure, verifyAssertion, type CeremonyFailure } from './passkey-ceremony.js';
import { completeFactor, withSessionUser, type FactorResult } from './second-factor.js';

const alreadyDone = () => new RampartError('conflict', { detail: 'this session needs no second factor' });

/** Starts the passkey step of a sign-in for a pending session: options naming the user's passkeys. */
export async function beginPasskeyAuthentication(deps: AccountDeps, input: { token: string; context?: RequestContext }): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return withSessionUser(deps, input.token, async (trx, valid, clock) => {
    if (valid.session.stage === 'ok') throw alreadyDone();
    return assertionOptionsFor(deps, trx, valid, 'authenticate', clock, () => new RampartError('forbidden', { detail: 'no passkey is registered', extensions: { reason: valid.session.stage } }));
  });
}

/**
 * The passkey step of a sign-in. The assertion must carry user verification; its signature
 * counter must increase unless the authenticator keeps none (0 stays 0): a counter that does not
 * move forward suggests a cloned authenticator and is refused. The counter is advanced by a
 * conditional UPDATE, so two parallel uses of one assertion cannot both pass.
 */
export async function finishPasskeyAuthentication(deps: AccountDeps, input: { token: string; response: AuthenticationResponseJSON; context?: RequestContext }): Promise<FactorResult> {
  const outcome = await withSessionUser(deps, input.token, async (trx, valid, clock) => {
    if (valid.session.stage === 'ok') throw alreadyDone();
    const refuse = async (reason: CeremonyFailure) => {
      await recordFailure(deps, trx, valid, 'authenticate', reason, input.context);
      return { failed: reason } as const;
    };
    const challenges = await consumeChallenges(trx, valid, 'authenticate', clock);
    if (!challenges.length) return refuse('no_challenge');
    const row = await trx.selectFrom('webauthn_credentials').selectAll().where('user_id', '=', valid.user.id).where('credential_id', '=', input.response.id).executeTakeFirst();
    if (!row) return refuse('unknown_credential');
    const checked = await verifyAssertion(deps, trx, { row, challenges, response: input.response, clock, unverified: 'invalid' });
    if ('failed' in checked) return refuse(checked.failed);
    const { info } = checked;
    await deps.audit.record(trx, {
      tenantId: valid.session.tenant_id,
      actor: { type: 'user', id: valid.user.id },
      action: 'identity.mfa.passkey.used',
      target: { type: 'webauthn_credential', id: row.id },
      diff: { user_verified: { after: info.userVerified } },
      ...(input.context ? { context: input.context } : {}),
    });
    return completeFactor(deps, trx, valid, { kind: 'webauthn', userVerified: info.userVerified }, 'identity.mfa.verified', input.context, clock);
  });
  if ('failed' in outcome) throw passkeyRefused('authenticate', outcome.failed);
  return outcome;
}
