import type { RequestContext } from '../../../audit/index.js';
import { RampartError, systemClock } from '../../../core/index.js';
import { withTenant } from '../../../db/index.js';
import { verifyTotp } from '../../credentials/index.js';
import { throttledProblem, type Throttle } from '../../throttle/index.js';
import type { AccountDeps } from '../deps.js';
import { TOTP_SECRET_CONTEXT } from './begin-totp-enrollment.js';
import { completeFactor, secondFactorSubject, withSessionUser, type FactorResult } from './second-factor.js';
import { envelopeFor } from '../../../db/index.js';

const wrongCode = () => new RampartError('unauthenticated', { detail: 'the code is wrong or was already used' });

/**
 * The TOTP step of a sign-in. The code's step is stored by compare-and-set
 * (`last_used_step < step`) in the transaction that upgrades the session, so a code works once,
 * even for two parallel requests. Failures are audited (and throttled when a throttle is given:
 * 10^6 codes are guessable).
 */
export async function verifyTotpForSession(
  deps: AccountDeps,
  input: { token: string; code: string; context?: RequestContext; throttle?: Throttle; ip?: string },
): Promise<FactorResult> {
  const clock = deps.clock ?? systemClock;
  const subject = input.throttle ? await secondFactorSubject(deps, input.token, input.ip ?? input.context?.ip) : undefined;
  if (subject && input.throttle) {
    const decision = await input.throttle.beforeAttempt(subject);
    if (!decision.allowed) throw throttledProblem(decision);
  }
  const outcome = await withSessionUser(deps, input.token, async (trx, valid) => {
    if (valid.session.stage === 'ok') throw new RampartError('conflict', { detail: 'this session needs no second factor' });
    const row = await trx.selectFrom('totp_credentials').selectAll().where('user_id', '=', valid.user.id).where('confirmed_at', 'is not', null).executeTakeFirst();
    if (!row) throw new RampartError('forbidden', { detail: 'no authenticator app is enrolled', extensions: { reason: 'mfa_enrollment_required' } });
    const secret = await envelopeFor(trx, deps.ring).decryptText({ tenantId: valid.session.tenant_id, context: TOTP_SECRET_CONTEXT, ciphertext: row.secret_ciphertext });
    const check = verifyTotp({ secret, code: input.code, lastUsedStep: row.last_used_step, now: clock.now() });
    const stored = check.ok
      ? await trx
          .updateTable('totp_credentials')
          .set({ last_used_step: check.step })
          .where('user_id', '=', valid.user.id)
          .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', check.step)]))
          .returning('user_id')
          .executeTakeFirst()
      : undefined;
    if (!stored) return { failed: true as const, userId: valid.user.id, tenantId: valid.session.tenant_id, reason: check.ok ? 'replayed' : check.reason };
    return { failed: false as const, result: await completeFactor(deps, trx, valid, { kind: 'totp' }, 'identity.mfa.verified', input.context, clock) };
  });
  if (outcome.failed) {
    // The refusal is recorded in its own transaction: the one above changed nothing.
    await withTenant(deps.db, { tenantId: outcome.tenantId, actor: { type: 'user', id: outcome.userId } }, (trx) =>
      deps.audit.record(trx, { tenantId: outcome.tenantId, actor: { type: 'user', id: outcome.userId }, action: 'identity.mfa.failed', target: { type: 'user', id: outcome.userId }, diff: { factor: { after: 'totp' }, reason: { after: outcome.reason } }, ...(input.context ? { context: input.context } : {}) }),
    );
    if (subject) await input.throttle?.recordFailure(subject);
    throw wrongCode();
  }
  if (subject) await input.throttle?.recordSuccess(subject);
  return outcome.result;
}
