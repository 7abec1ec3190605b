import type { RequestContext } from '../../../audit/index.js';
import { RampartError } from '../../../core/index.js';
import { envelopeFor } from '../../../db/index.js';
import { createTotpEnrollment } from '../../credentials/index.js';
import type { AccountDeps } from '../deps.js';
import { findUserById } from '../store.js';
import { assertMayAddFactor, withSessionUser } from './second-factor.js';

export const TOTP_SECRET_CONTEXT = 'totp_credentials.secret_ciphertext';

/**
 * Starts TOTP enrollment for the session's user: a new secret, sealed under the tenant's data key,
 * unconfirmed until a code proves the app holds it. Refused when a TOTP factor is already
 * confirmed: replacing a factor needs re-verification of the existing one (supabase/auth#1615),
 * which the step-up freshness check (five minutes) enforces.
 */
export async function beginTotpEnrollment(
  deps: AccountDeps,
  input: { token: string; context?: RequestContext },
): Promise<{ secret: string; otpauthUri: string; qrSvg: string; qrDataUri: string }> {
  return withSessionUser(deps, input.token, async (trx, valid, clock) => {
    const tenantId = valid.session.tenant_id;
    await assertMayAddFactor(trx, valid, clock);
    const existing = await trx.selectFrom('totp_credentials').select('confirmed_at').where('user_id', '=', valid.user.id).executeTakeFirst();
    if (existing?.confirmed_at) throw new RampartError('conflict', { detail: 'an authenticator app is already enrolled' });
    const user = await findUserById(trx, valid.user.id);
    const enrollment = await createTotpEnrollment({ accountName: (user?.email ?? valid.user.id).replaceAll(':', ''), issuer: deps.totpIssuer ?? 'Rampart' });
    const ciphertext = await envelopeFor(trx, deps.ring).encrypt({ tenantId, context: TOTP_SECRET_CONTEXT, plaintext: enrollment.secret });
    await trx.deleteFrom('totp_credentials').where('user_id', '=', valid.user.id).where('confirmed_at', 'is', null).execute();
    await trx.insertInto('totp_credentials').values({ tenant_id: tenantId, user_id: valid.user.id, secret_ciphertext: ciphertext, last_used_step: null, confirmed_at: null }).execute();
    await deps.audit.record(trx, { tenantId, actor: { type: 'user', id: valid.user.id }, action: 'identity.mfa.totp.enrollment_started', target: { type: 'user', id: valid.user.id }, ...(input.context ? { context: input.context } : {}) });
    return enrollment;
  });
}
