import { systemClock } from '../../core/index.js';
import { withTenant } from '../../db/index.js';
import type { AccountDeps } from '../accounts/index.js';
import { findUserById, mfaContextOf } from '../accounts/store.js';
import { ACR, assertMfaSatisfied, type FactorKind } from '../credentials/index.js';
import { checkSession, parseSessionToken, type SessionStage } from '../sessions/index.js';

/**
 * What the login page needs to pick its next step for the browser's own session. Only the holder
 * of the session cookie learns this, and only for the tenant the cookie belongs to; a cookie of
 * another tenant reads as signed out.
 *
 * Before the second factor (a pending session: one factor proven) the answer is the next step and
 * no more (ID-4): the stage, the kinds of second factor the account holds (so the page offers "use
 * your passkey" only to passkey holders and knows whether a high-privilege user must first confirm
 * with the authenticator app before registering a passkey, ID-5), and whether this session already
 * proved MFA. Who the user is (email, name, roles), the session id and the role class come only
 * with a full session, for the account page.
 */
export type LoginState =
  | { signedIn: false }
  | { signedIn: true; stage: Exclude<SessionStage, 'ok'>; factors: FactorKind[]; mfaDone: boolean }
  | {
      signedIn: true;
      stage: 'ok';
      sessionId: string;
      factors: FactorKind[];
      mfaDone: boolean;
      phishingResistant: boolean;
      highPrivilege: boolean;
      user: { email: string; displayName: string; roles: string[] };
    };

const SIGNED_OUT: LoginState = { signedIn: false };

export async function loginState(deps: AccountDeps, input: { token: string | undefined; tenantId: string }): Promise<LoginState> {
  const parsed = input.token ? parseSessionToken(input.token) : undefined;
  if (!input.token || !parsed || parsed.tenantId !== input.tenantId) return SIGNED_OUT;
  const token = input.token;
  const clock = deps.clock ?? systemClock;
  return withTenant(deps.db, { tenantId: input.tenantId, actor: { type: 'system', id: 'login-ui' } }, async (trx) => {
    const valid = await checkSession(trx, token, clock, { allowPending: true });
    if (!valid) return SIGNED_OUT;
    const user = await findUserById(trx, valid.user.id);
    if (!user) return SIGNED_OUT;
    const mfa = await mfaContextOf(trx, valid.user.id);
    const mfaDone = valid.session.amr.includes('mfa');
    const stage = valid.session.stage;
    if (stage !== 'ok') return { signedIn: true, stage, factors: mfa.enrolled, mfaDone };
    const decision = assertMfaSatisfied({ factors: [], ...mfa });
    return {
      signedIn: true,
      stage,
      sessionId: valid.session.id,
      factors: mfa.enrolled,
      mfaDone,
      phishingResistant: valid.session.acr === ACR.phishingResistant,
      highPrivilege: decision.isHighPrivilege,
      user: { email: user.email, displayName: user.display_name, roles: mfa.roles },
    };
  });
}
