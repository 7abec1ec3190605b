import type { LightMyRequestResponse } from 'fastify';
import type { Rampart } from '../../src/app.js';
import type { Tenant } from '../../src/db/index.js';
import { createInvitation } from '../../src/identity/index.js';
import { softAuthenticator, type SoftAuthenticator } from './soft-authenticator.js';

export const MEMBER_PASSWORD = 'violet-harbour-lantern-88';

export const cookieOf = (response: LightMyRequestResponse): string => {
  const header = response.headers['set-cookie'];
  return ((Array.isArray(header) ? header[0] : header) ?? '').split(';')[0]!;
};

export type PasskeyMember = { id: string; email: string; cookie: string; device: SoftAuthenticator };

/** invite -> accept -> password -> a passkey as first factor: a full session with a fresh passkey proof. */
export async function memberWithPasskey(rampart: Rampart, tenant: Tenant, email: string, role = 'member'): Promise<PasskeyMember> {
  const call = rampart.server.app.inject.bind(rampart.server.app);
  const { token } = await createInvitation(rampart.identity.accounts, { tenantId: tenant.id, actor: { type: 'system', id: 'test' }, email, role, justification: 'onboarding a new colleague' });
  const accepted = await call({ method: 'POST', url: `/api/v1/identity/${tenant.slug}/invitations/accept`, payload: { token, password: MEMBER_PASSWORD, displayName: email.split('@')[0] } });
  if (accepted.statusCode !== 201) throw new Error(`accept: ${accepted.statusCode} ${accepted.body}`);
  const signIn = await call({ method: 'POST', url: `/api/v1/identity/${tenant.slug}/sign-in`, payload: { email, password: MEMBER_PASSWORD } });
  const pending = cookieOf(signIn);
  const device = softAuthenticator();
  const options = await call({ method: 'POST', url: '/api/v1/identity/passkeys/register/options', headers: { cookie: pending } });
  const verify = await call({ method: 'POST', url: '/api/v1/identity/passkeys/register/verify', headers: { cookie: pending }, payload: { response: device.register(options.json()), name: 'Laptop' } });
  if (verify.statusCode !== 200) throw new Error(`passkey: ${verify.statusCode} ${verify.body}`);
  const user = await rampart.db.owner.selectFrom('users').select('id').where('tenant_id', '=', tenant.id).where('email', '=', email).executeTakeFirstOrThrow();
  return { id: user.id, email, cookie: cookieOf(verify), device };
}
