import {
  type AuthenticationResponseJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import type { RequestContext } from '../../audit/index.js';
import { RampartError } from '../../core/index.js';
import type { AccountDeps } from '../accounts/index.js';
import { assertionOptionsFor, consumeChallenges, passkeyRefused, recordFailure, verifyAssertion, type CeremonyFailure } from '../accounts/operations/passkey-ceremony.js';
import { withSessionUser } from '../accounts/operations/second-factor.js';
import { recordStepUp, type SessionView } from '../sessions/index.js';

/**
 * Step-up (control ID-7): a full session re-proves a passkey, with user verification, to pass a
 * route's `requireFreshAuth({ factor: 'webauthn' })` guard for its max age. The challenge is bound
 * to the session and to the purpose `step_up`, single use, five minutes. What is stored is only the
 * time of the proof (`sessions.webauthn_verified_at`); freshness is computed from it at every check.
 */

const noPasskey = () => new RampartError('forbidden', { detail: 'no passkey is registered: register one to confirm high-risk actions', extensions: { reason: 'passkey_required' } });

export async function beginStepUp(deps: AccountDeps, input: { token: string; context?: RequestContext }): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return withSessionUser(
    deps,
    input.token,
    async (trx, valid, clock) => {
      return assertionOptionsFor(deps, trx, valid, 'step_up', clock, noPasskey);
    },
    { allowPending: false },
  );
}

/**
 * Verifies the assertion (UV required, counter must advance) and records the proof. The session
 * token is rotated: the caller gets a new cookie.
 */
export async function finishStepUp(deps: AccountDeps, input: { token: string; response: AuthenticationResponseJSON; context?: RequestContext }): Promise<{ token: string; session: SessionView; verifiedAt: Date }> {
  const outcome = await withSessionUser(
    deps,
    input.token,
    async (trx, valid, clock) => {
      const refuse = async (reason: CeremonyFailure) => {
        await recordFailure(deps, trx, valid, 'step_up', reason, input.context);
        return { failed: reason } as const;
      };
      const challenges = await consumeChallenges(trx, valid, 'step_up', clock);
      if (!challenges.length) return refuse('no_challenge');
      const row = await trx.selectFrom('webauthn_credentials').selectAll().where('user_id', '=', valid.user.id).where('credential_id', '=', input.response.id).executeTakeFirst();
      if (!row) return refuse('unknown_credential');
      const checked = await verifyAssertion(deps, trx, { row, challenges, response: input.response, clock, unverified: 'user_verification' });
      if ('failed' in checked) return refuse(checked.failed);
      const { info } = checked;
      const stepped = await recordStepUp(trx, valid.session, clock);
      await deps.audit.record(trx, {
        tenantId: valid.session.tenant_id,
        actor: { type: 'user', id: valid.user.id },
        action: 'identity.stepup.verified',
        target: { type: 'session', id: valid.session.id },
        diff: { factor: { after: 'webauthn' }, credential: { after: row.id }, user_verified: { after: info.userVerified } },
        ...(input.context ? { context: input.context } : {}),
      });
      return { ...stepped, verifiedAt: clock.now() };
    },
    { allowPending: false },
  );
  if ('failed' in outcome) throw passkeyRefused('authenticate', outcome.failed);
  return outcome;
}
