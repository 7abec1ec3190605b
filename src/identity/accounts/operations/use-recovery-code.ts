import type { RequestContext } from '../../../audit/index.js';
import { RampartError } from '../../../core/index.js';
import { withTenant } from '../../../db/index.js';
import { matchRecoveryCode } from '../../credentials/index.js';
import type { AccountDeps } from '../deps.js';
import { throttledProblem, type Throttle } from '../../throttle/index.js';
import { completeFactor, secondFactorSubject, withSessionUser, type FactorResult } from './second-factor.js';

/**
 * A recovery code as the second factor: one-time, spent by a conditional UPDATE
 * (`used_at IS NULL`) in the transaction that upgrades the session. A high-privilege user gets
 * `passkey_required` (ID-5): enough to register a new passkey, not to reach data.
 */
export async function useRecoveryCode(deps: AccountDeps, input: { token: string; code: string; context?: RequestContext; throttle?: Throttle; ip?: string }): Promise<FactorResult> {
  // Same per-user budget as TOTP guesses (ID-9).
  const subject = input.throttle ? await secondFactorSubject(deps, input.token, input.ip ?? input.context?.ip) : undefined;
  if (subject && input.throttle) {
    const decision = await input.throttle.beforeAttempt(subject);
    if (!decision.allowed) throw throttledProblem(decision);
  }
  const outcome = await withSessionUser(deps, input.token, async (trx, valid, clock) => {
    if (valid.session.stage === 'ok') throw new RampartError('conflict', { detail: 'this session needs no second factor' });
    const codes = await trx.selectFrom('recovery_codes').select(['id', 'code_hash']).where('user_id', '=', valid.user.id).where('used_at', 'is', null).orderBy('id').execute();
    const index = matchRecoveryCode(typeof input.code === 'string' ? input.code : '', codes.map((c) => c.code_hash), deps.recoveryPepper);
    const spent =
      index >= 0
        ? await trx.updateTable('recovery_codes').set({ used_at: clock.now() }).where('id', '=', codes[index]!.id).where('used_at', 'is', null).returning('id').executeTakeFirst()
        : undefined;
    if (!spent) return { failed: true as const, userId: valid.user.id, tenantId: valid.session.tenant_id };
    const result = await completeFactor(deps, trx, valid, { kind: 'recovery' }, 'identity.mfa.recovery_code.used', input.context, clock);
    return { failed: false as const, result };
  });
  if (outcome.failed) {
    await withTenant(deps.db, { tenantId: outcome.tenantId, actor: { type: 'user', id: outcome.userId } }, (trx) =>
      deps.audit.record(trx, { tenantId: outcome.tenantId, actor: { type: 'user', id: outcome.userId }, action: 'identity.mfa.failed', target: { type: 'user', id: outcome.userId }, diff: { factor: { after: 'recovery' } }, ...(input.context ? { context: input.context } : {}) }),
    );
    if (subject) await input.throttle?.recordFailure(subject);
    throw new RampartError('unauthenticated', { detail: 'the recovery code is wrong or was already used' });
  }
  if (subject) await input.throttle?.recordSuccess(subject);
  return outcome.result;
}
