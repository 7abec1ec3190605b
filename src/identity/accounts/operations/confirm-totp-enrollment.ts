import type { RequestContext } from '../../../audit/index.js';
import { RampartError, uuidv7 } from '../../../core/index.js';
import { envelopeFor } from '../../../db/index.js';
import { generateRecoveryCodes, hashRecoveryCode, verifyTotp } from '../../credentials/index.js';
import type { AccountDeps } from '../deps.js';
import { TOTP_SECRET_CONTEXT } from './begin-totp-enrollment.js';
import { assertMayAddFactor, completeFactor, withSessionUser, type FactorResult } from './second-factor.js';

const wrongCode = () => new RampartError('validation_failed', { detail: 'body /code: the code is wrong or expired', issues: [{ in: 'body', pointer: '/code', message: 'the code is wrong or expired' }] });

/**
 * Confirms enrollment with a code from the app: marks the factor enrolled, stores the step as used
 * (the confirming code cannot be replayed), replaces the recovery codes (ten, stored as peppered
 * HMACs, returned in plaintext this once), and, since password + TOTP is MFA, upgrades the
 * session (a high-privilege user still gets `passkey_required`, ID-5).
 */
export async function confirmTotpEnrollment(deps: AccountDeps, input: { token: string; code: string; context?: RequestContext }): Promise<FactorResult & { recoveryCodes: string[] }> {
  return withSessionUser(deps, input.token, async (trx, valid, clock) => {
    const tenantId = valid.session.tenant_id;
    await assertMayAddFactor(trx, valid, clock);
    const row = await trx.selectFrom('totp_credentials').selectAll().where('user_id', '=', valid.user.id).where('confirmed_at', 'is', null).executeTakeFirst();
    if (!row) throw new RampartError('conflict', { detail: 'no enrollment in progress' });
    const secret = await envelopeFor(trx, deps.ring).decryptText({ tenantId, context: TOTP_SECRET_CONTEXT, ciphertext: row.secret_ciphertext });
    const check = verifyTotp({ secret, code: input.code, lastUsedStep: null, now: clock.now() });
    if (!check.ok) throw wrongCode();
    const confirmed = await trx
      .updateTable('totp_credentials')
      .set({ confirmed_at: clock.now(), last_used_step: check.step })
      .where('user_id', '=', valid.user.id)
      .where('confirmed_at', 'is', null)
      .returning('user_id')
      .executeTakeFirst();
    if (!confirmed) throw new RampartError('conflict', { detail: 'enrollment was already confirmed' });
    const recoveryCodes = generateRecoveryCodes();
    await trx.deleteFrom('recovery_codes').where('user_id', '=', valid.user.id).execute();
    await trx
      .insertInto('recovery_codes')
      .values(recoveryCodes.map((code) => ({ tenant_id: tenantId, id: uuidv7(), user_id: valid.user.id, code_hash: hashRecoveryCode(code, deps.recoveryPepper), used_at: null })))
      .execute();
    await deps.audit.record(trx, { tenantId, actor: { type: 'user', id: valid.user.id }, action: 'identity.mfa.totp.enrolled', target: { type: 'user', id: valid.user.id }, diff: { recovery_codes_issued: { after: recoveryCodes.length } }, ...(input.context ? { context: input.context } : {}) });
    const result = await completeFactor(deps, trx, valid, { kind: 'totp' }, 'identity.mfa.verified', input.context, clock);
    return { ...result, recoveryCodes };
  });
}
