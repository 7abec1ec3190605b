import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { manualClock } from '../src/core/index.js';
import type { Tenant } from '../src/db/index.js';
import { assertFreshAuth, isFreshAuth, requireFreshAuth } from '../src/http/index.js';
import { createInvitation, totpCodeAt, totpStep } from '../src/identity/index.js';
import { softAuthenticator, type SoftAuthenticator } from './support/soft-authenticator.js';
import { testRampart } from './support/rampart.js';

/**
 * Step-up (ID-7), passkey and TOTP management (ID-4, ID-5) and username-less passkey sign-in,
 * end to end over HTTP with the real session authenticator, a manual clock and a software
 * authenticator.
 */

const PASSWORD = 'violet-harbour-lantern-88';
const clock = manualClock(new Date('2026-04-01T09:00:00Z'));
let rampart: Rampart;
let acme: Tenant;
let globex: Tenant;

const call = (options: InjectOptions) => rampart.server.app.inject(options);
const cookieOf = (response: LightMyRequestResponse) => {
  const header = response.headers['set-cookie'];
  return ((Array.isArray(header) ? header[0] : header) ?? '').split(';')[0]!;
};
const minutes = (n: number) => n * 60_000;

type Member = { email: string; cookie: string; device: SoftAuthenticator; credentialId: string };

/** invite -> accept -> password -> first factor: a passkey (a fresh UV proof starts the step-up clock). */
async function memberWithPasskey(tenant: Tenant, email: string, role = 'member'): Promise<Member> {
  const { token } = await createInvitation(rampart.identity.accounts, { tenantId: tenant.id, actor: { type: 'system', id: 'test' }, email, role, justification: 'onboarding a new colleague' });
  expect((await call({ method: 'POST', url: `/api/v1/identity/${tenant.slug}/invitations/accept`, payload: { token, password: PASSWORD, displayName: email.split('@')[0] } })).statusCode).toBe(201);
  const signIn = await call({ method: 'POST', url: `/api/v1/identity/${tenant.slug}/sign-in`, payload: { email, password: PASSWORD } });
  const pending = cookieOf(signIn);
  const device = softAuthenticator();
  const options = await call({ method: 'POST', url: '/api/v1/identity/passkeys/register/options', headers: { cookie: pending } });
  expect(options.statusCode).toBe(200);
  const verify = await call({ method: 'POST', url: '/api/v1/identity/passkeys/register/verify', headers: { cookie: pending }, payload: { response: device.register(options.json()), name: 'Laptop' } });
  expect(verify.statusCode).toBe(200);
  expect(verify.json().stage).toBe('ok');
  return { email, cookie: cookieOf(verify), device, credentialId: verify.json().credentialId };
}

async function stepUp(member: Member, flags: { userVerified?: boolean; counter?: number } = {}) {
  const options = await call({ method: 'POST', url: '/api/v1/identity/step-up/options', headers: { cookie: member.cookie } });
  expect(options.statusCode, options.body).toBe(200);
  const response = await call({ method: 'POST', url: '/api/v1/identity/step-up/verify', headers: { cookie: member.cookie }, payload: { response: member.device.assert(options.json(), flags) } });
  if (response.statusCode === 200) member.cookie = cookieOf(response);
  return response;
}

const grant = (cookie: string, actions = ['list']) =>
  call({ method: 'PUT', url: '/api/v1/authz/matrix/viewer/alert', headers: { cookie }, payload: { actions, justification: 'viewers follow the alert list' } });

async function passkeySignIn(tenant: Tenant, device: SoftAuthenticator, flags: { userVerified?: boolean; counter?: number; credentialId?: string } = {}, remoteAddress = '192.0.2.10') {
  const options = await call({ method: 'POST', url: `/api/v1/identity/${tenant.slug}/passkeys/sign-in/options`, remoteAddress });
  expect(options.statusCode).toBe(200);
  const assertion = device.assert(options.json(), flags);
  return { options: options.json(), assertion, response: await call({ method: 'POST', url: `/api/v1/identity/${tenant.slug}/passkeys/sign-in/verify`, remoteAddress, payload: { response: assertion } }) };
}

const eventsOf = (tenant: Tenant, action: string) => rampart.db.owner.selectFrom('audit_events').selectAll().where('chain', '=', tenant.id).where('action', '=', action).execute();

beforeAll(async () => {
  rampart = await testRampart({ clock });
  acme = await rampart.createTenant({ slug: 'acme', name: 'Acme' });
  globex = await rampart.createTenant({ slug: 'globex', name: 'Globex' });
});
afterAll(() => rampart?.close());

describe('ID-7 the step-up guard is a function of Principal fields', () => {
  const fresh = requireFreshAuth({ maxAgeSeconds: 300, factor: 'webauthn' });
  const now = new Date('2026-04-01T10:00:00Z');
  it('ID-7 a session principal is fresh only within maxAge of its last passkey proof', () => {
    expect(isFreshAuth({ factorTimes: { webauthn: new Date(now.getTime() - 299_000) } }, fresh, now)).toBe(true);
    expect(isFreshAuth({ factorTimes: { webauthn: new Date(now.getTime() - 301_000) } }, fresh, now)).toBe(false);
    expect(isFreshAuth({ factorTimes: {}, authTime: now, amr: ['pwd', 'otp', 'mfa'] }, fresh, now)).toBe(false);
    expect(isFreshAuth({}, fresh, now)).toBe(false);
    // A proof from the future (a tampered or badly skewed clock) is not fresh.
    expect(isFreshAuth({ factorTimes: { webauthn: new Date(now.getTime() + 3_600_000) } }, fresh, now)).toBe(false);
  });
  it('ID-7 a token principal (no per-factor times) satisfies it from auth_time and a passkey amr', () => {
    expect(isFreshAuth({ authTime: new Date(now.getTime() - 60_000), amr: ['swk', 'mfa'] }, fresh, now)).toBe(true);
    expect(isFreshAuth({ authTime: new Date(now.getTime() - 60_000), amr: ['pwd', 'otp', 'mfa'] }, fresh, now)).toBe(false);
    expect(isFreshAuth({ authTime: new Date(now.getTime() - 60_000), amr: ['pwd'] }, requireFreshAuth({ maxAgeSeconds: 120, factor: 'any' }), now)).toBe(true);
  });
  it('ID-7 the refusal is a step-up-required problem carrying maxAgeSeconds and factor', () => {
    expect(() => assertFreshAuth({}, fresh, now)).toThrow(expect.objectContaining({ code: 'step_up_required', status: 401, extensions: { maxAgeSeconds: 300, factor: 'webauthn' } }));
    expect(() => requireFreshAuth({ maxAgeSeconds: 0 })).toThrow();
    expect(() => requireFreshAuth({ maxAgeSeconds: 1.5 })).toThrow();
  });
});

describe('step-up over HTTP', () => {
  let admin: Member;
  beforeAll(async () => {
    admin = await memberWithPasskey(acme, 'root@acme.test', 'admin');
  });

  it('ID-7 a role grant passes right after a passkey proof, is refused once it is older than 5 minutes, and passes again after a step-up', async () => {
    expect((await grant(admin.cookie)).statusCode).toBe(200);
    clock.advance(minutes(5) + 1000);
    const refused = await grant(admin.cookie, ['list', 'read']);
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(refused.json()).toMatchObject({ type: 'urn:rampart:problem:step-up-required', maxAgeSeconds: 300, factor: 'webauthn' });
    // The session itself is still valid: only the elevation lapsed.
    expect((await call({ method: 'GET', url: '/api/v1/tenant', headers: { cookie: admin.cookie } })).statusCode).toBe(200);

    const before = admin.cookie;
    const stepped = await stepUp(admin);
    expect(stepped.statusCode).toBe(200);
    expect(admin.cookie).not.toBe(before); // the elevated session has a new token
    expect((await call({ method: 'GET', url: '/api/v1/tenant', headers: { cookie: before } })).statusCode).toBe(401);
    expect((await grant(admin.cookie, ['list', 'read'])).statusCode).toBe(200);
  });

  it('ID-7 the elevation expires with its max age instead of sticking to the session (Keycloak #39084)', async () => {
    await stepUp(admin);
    clock.advance(minutes(4));
    expect((await grant(admin.cookie)).statusCode).toBe(200);
    clock.advance(minutes(1) + 1000);
    expect((await grant(admin.cookie)).statusCode).toBe(401);
  });

  it('ID-7 inviting into a role is guarded too; a caller without the right gets 403, not a step-up prompt', async () => {
    clock.advance(minutes(10));
    const invite = await call({ method: 'POST', url: '/api/v1/members/invitations', headers: { cookie: admin.cookie }, payload: { email: 'new@acme.test', role: 'member', justification: 'a new colleague joins' } });
    expect(invite.json().type).toBe('urn:rampart:problem:step-up-required');
    await stepUp(admin);
    const after = await call({ method: 'POST', url: '/api/v1/members/invitations', headers: { cookie: admin.cookie }, payload: { email: 'new@acme.test', role: 'member', justification: 'a new colleague joins' } });
    expect(after.statusCode).toBe(201);
    const member = await memberWithPasskey(acme, 'plain@acme.test');
    const denied = await grant(member.cookie);
    expect(denied.statusCode).toBe(403);
  });

  it('ID-7 step-up needs a full session, a registered passkey and user verification', async () => {
    const pending = cookieOf(await call({ method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email: 'root@acme.test', password: PASSWORD } }));
    expect((await call({ method: 'POST', url: '/api/v1/identity/step-up/options', headers: { cookie: pending } })).statusCode).toBe(401);
    expect((await call({ method: 'POST', url: '/api/v1/identity/step-up/options' })).statusCode).toBe(401);
    const noUv = await stepUp(admin, { userVerified: false });
    expect(noUv.statusCode).toBe(401);
    const failures = await eventsOf(acme, 'identity.stepup.failed');
    expect(failures.length).toBeGreaterThan(0);
  });

  it('ID-7 bad input on the step-up endpoints is a 4xx problem', async () => {
    for (const payload of [{}, { response: 42 }, { response: { id: 'x'.repeat(5000), rawId: 'x', type: 'public-key', response: {} } }, { response: { id: 'Ünïcødé', rawId: 'a', type: 'public-key', response: { clientDataJSON: 'a', authenticatorData: 'a', signature: 'a' } } }]) {
      const response = await call({ method: 'POST', url: '/api/v1/identity/step-up/verify', headers: { cookie: admin.cookie }, payload });
      expect(response.statusCode).toBeGreaterThanOrEqual(400);
      expect(response.statusCode).toBeLessThan(500);
      expect(response.headers['content-type']).toMatch(/problem\+json/);
    }
  });

  it('ID-5 MO-2 a counter that goes backwards is refused, audited and raises an alert', async () => {
    const regressed = await stepUp(admin, { counter: 1 });
    expect(regressed.statusCode).toBe(401);
    expect(await eventsOf(acme, 'identity.passkey.counter_regression')).not.toHaveLength(0);
    const alerts = await rampart.db.owner.selectFrom('alerts').selectAll().where('chain', '=', acme.id).where('rule', '=', 'passkey-counter-regression').execute();
    expect(alerts.length).toBeGreaterThan(0);
  });
});

describe('passkey and TOTP management', () => {
  let member: Member;
  let admin: Member;
  beforeAll(async () => {
    member = await memberWithPasskey(acme, 'ann@acme.test');
    admin = await memberWithPasskey(acme, 'boss@acme.test', 'admin');
  });

  it('lists my passkeys (id, name, created, last used, backed up) and never the key material', async () => {
    const list = await call({ method: 'GET', url: '/api/v1/me/passkeys', headers: { cookie: member.cookie } });
    expect(list.statusCode).toBe(200);
    expect(list.json().items).toEqual([expect.objectContaining({ id: member.credentialId, name: 'Laptop', backedUp: false, lastUsedAt: null, createdAt: expect.any(String) })]);
    expect(list.body).not.toMatch(/public_key|publicKey|counter/);
    expect((await call({ method: 'GET', url: '/api/v1/me/passkeys' })).statusCode).toBe(401);
  });

  it('renames a passkey; another user’s passkey is 404; bad names are 400', async () => {
    const renamed = await call({ method: 'PATCH', url: `/api/v1/me/passkeys/${member.credentialId}`, headers: { cookie: member.cookie }, payload: { name: '  Ｗork key 🔑 ' } });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json().name).toBe('Work key 🔑');
    expect((await call({ method: 'PATCH', url: `/api/v1/me/passkeys/${admin.credentialId}`, headers: { cookie: member.cookie }, payload: { name: 'mine now' } })).statusCode).toBe(404);
    for (const payload of [{ name: '' }, { name: 'x'.repeat(101) }, { name: 7 }, { name: 'ok', extra: true }]) {
      const bad = await call({ method: 'PATCH', url: `/api/v1/me/passkeys/${member.credentialId}`, headers: { cookie: member.cookie }, payload });
      expect(bad.statusCode).toBe(400);
    }
    expect((await call({ method: 'PATCH', url: '/api/v1/me/passkeys/not-a-uuid', headers: { cookie: member.cookie }, payload: { name: 'x' } })).statusCode).toBe(400);
  });

  it('ID-4 the last factor can never be removed', async () => {
    const last = await call({ method: 'DELETE', url: `/api/v1/me/passkeys/${member.credentialId}`, headers: { cookie: member.cookie } });
    expect(last.statusCode).toBe(403);
    expect(last.json().reason).toBe('last_factor');
  });

  it('ID-4 ID-7 adding a factor needs a fresh re-verification; removing one too, then it is audited with IP and device', async () => {
    clock.advance(minutes(6));
    const stale = await call({ method: 'POST', url: '/api/v1/identity/totp/enroll', headers: { cookie: member.cookie } });
    expect(stale.statusCode).toBe(401);
    expect(stale.json().type).toBe('urn:rampart:problem:step-up-required');
    expect((await stepUp(member)).statusCode).toBe(200);
    const enroll = await call({ method: 'POST', url: '/api/v1/identity/totp/enroll', headers: { cookie: member.cookie } });
    expect(enroll.statusCode).toBe(200);
    const confirm = await call({ method: 'POST', url: '/api/v1/identity/totp/confirm', headers: { cookie: member.cookie }, payload: { code: totpCodeAt({ secret: enroll.json().secret, step: totpStep(clock.now()) }) } });
    expect(confirm.statusCode).toBe(200);
    member.cookie = cookieOf(confirm);

    // Now a passkey and TOTP: removing the passkey is allowed, but only with a fresh passkey proof.
    clock.advance(minutes(6));
    const refused = await call({ method: 'DELETE', url: `/api/v1/me/passkeys/${member.credentialId}`, headers: { cookie: member.cookie } });
    expect(refused.json()).toMatchObject({ type: 'urn:rampart:problem:step-up-required', factor: 'webauthn', maxAgeSeconds: 300 });
    await stepUp(member);
    const removed = await call({ method: 'DELETE', url: `/api/v1/me/passkeys/${member.credentialId}`, headers: { cookie: member.cookie, 'user-agent': 'vitest-device', 'x-device-id': 'device-42' }, remoteAddress: '198.51.100.77' });
    expect(removed.statusCode).toBe(204);
    const [event] = (await eventsOf(acme, 'identity.factor.removed')).filter((e) => e.target_id === member.credentialId);
    expect(event).toMatchObject({ ip: '198.51.100.77', user_agent: 'vitest-device', device_id: 'device-42' });
    expect((await call({ method: 'GET', url: '/api/v1/me/passkeys', headers: { cookie: member.cookie } })).json().items).toEqual([]);

    // TOTP is the last factor now.
    const lastTotp = await call({ method: 'DELETE', url: '/api/v1/me/totp', headers: { cookie: member.cookie } });
    expect(lastTotp.statusCode).toBe(403);
    expect(lastTotp.json().reason).toBe('last_factor');
  });

  it('ID-5 a high-privilege user can never remove their last passkey, even holding TOTP', async () => {
    await stepUp(admin);
    const enroll = await call({ method: 'POST', url: '/api/v1/identity/totp/enroll', headers: { cookie: admin.cookie } });
    expect(enroll.statusCode).toBe(200);
    const confirm = await call({ method: 'POST', url: '/api/v1/identity/totp/confirm', headers: { cookie: admin.cookie }, payload: { code: totpCodeAt({ secret: enroll.json().secret, step: totpStep(clock.now()) }) } });
    expect(confirm.json().stage).toBe('ok'); // adding a factor never demotes a full session
    admin.cookie = cookieOf(confirm);
    await stepUp(admin);
    const refused = await call({ method: 'DELETE', url: `/api/v1/me/passkeys/${admin.credentialId}`, headers: { cookie: admin.cookie } });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().reason).toBe('passkey_required');
    // Removing TOTP is fine for them: the passkey stays.
    const totp = await call({ method: 'DELETE', url: '/api/v1/me/totp', headers: { cookie: admin.cookie } });
    expect(totp.statusCode).toBe(204);
    expect((await eventsOf(acme, 'identity.factor.removed')).some((e) => (e.diff as { factor: { after: string } }).factor.after === 'totp')).toBe(true);
  });
});

describe('username-less passkey sign-in', () => {
  let carla: Member;
  beforeAll(async () => {
    carla = await memberWithPasskey(acme, 'carla@acme.test', 'finance');
  });

  it('ID-4 ID-5 options name no credential and require user verification; a verified assertion is a full, phishing-resistant session', async () => {
    clock.advance(1000); // this session is the newest
    const { options, response } = await passkeySignIn(acme, carla.device);
    expect(options.userVerification).toBe('required');
    expect(options.allowCredentials ?? []).toEqual([]);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ stage: 'ok', user: { email: 'carla@acme.test' } });
    expect(response.json().user.password_hash).toBeUndefined();
    const cookie = cookieOf(response);
    expect((await call({ method: 'GET', url: '/api/v1/tenant', headers: { cookie } })).statusCode).toBe(200);
    const session = await rampart.db.owner.selectFrom('sessions').selectAll().where('user_id', '=', response.json().user.id).orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    expect(session.amr).toEqual(expect.arrayContaining(['swk', 'mfa']));
    expect(session.amr).not.toContain('pwd');
    expect(session.acr).toBe('urn:rampart:acr:phr');
    expect(session.webauthn_verified_at).not.toBeNull();
    const [event] = (await eventsOf(acme, 'identity.signin.succeeded')).filter((e) => (e.diff as { method: { after: string } }).method.after === 'passkey');
    expect(event).toBeDefined();
  });

  it('ID-4 without user verification a passkey is one factor: refused', async () => {
    const { response } = await passkeySignIn(acme, carla.device, { userVerified: false });
    expect(response.statusCode).toBe(401);
    expect(response.headers['set-cookie']).toBeUndefined();
  });

  it('a challenge works once: replaying an assertion is refused', async () => {
    const { assertion, response } = await passkeySignIn(acme, carla.device);
    expect(response.statusCode).toBe(200);
    const replay = await call({ method: 'POST', url: '/api/v1/identity/acme/passkeys/sign-in/verify', payload: { response: assertion } });
    expect(replay.statusCode).toBe(401);
  });

  it('ID-5 MO-2 a counter regression is refused and raises the cloned-authenticator alert', async () => {
    const { response } = await passkeySignIn(acme, carla.device, { counter: 1 });
    expect(response.statusCode).toBe(401);
    const events = await eventsOf(acme, 'identity.passkey.counter_regression');
    expect(events.some((e) => e.actor_id && e.target_type === 'webauthn_credential')).toBe(true);
  });

  it('a passkey of one tenant does not sign in to another', async () => {
    const { response } = await passkeySignIn(globex, carla.device, {}, '192.0.2.11');
    expect(response.statusCode).toBe(401);
    expect((await call({ method: 'POST', url: '/api/v1/identity/nope/passkeys/sign-in/options' })).statusCode).toBe(404);
  });

  it('bad input is a 4xx problem, never a 5xx', async () => {
    const bodies = [undefined, {}, { response: 'x' }, { response: { id: '', rawId: '', type: 'public-key', response: {} } }, { response: { id: 'a'.repeat(2000), rawId: 'a', type: 'public-key', response: { clientDataJSON: 'a', authenticatorData: 'a', signature: 'a' } } }];
    for (const payload of bodies) {
      const response = await call({ method: 'POST', url: '/api/v1/identity/acme/passkeys/sign-in/verify', remoteAddress: '192.0.2.99', ...(payload === undefined ? {} : { payload }) });
      expect(response.statusCode, JSON.stringify(payload)).toBeGreaterThanOrEqual(400);
      expect(response.statusCode).toBeLessThan(500);
    }
  });

  it('ID-9 failed passkey sign-ins are throttled per IP with Retry-After', async () => {
    const statuses: number[] = [];
    let limited: LightMyRequestResponse | undefined;
    for (let i = 0; i < 8 && !limited; i += 1) {
      const { response } = await passkeySignIn(acme, carla.device, { userVerified: false }, '203.0.113.200');
      statuses.push(response.statusCode);
      if (response.statusCode === 429) limited = response;
    }
    expect(statuses.slice(0, -1).every((s) => s === 401)).toBe(true);
    expect(limited?.statusCode).toBe(429);
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThan(0);
  });
});
