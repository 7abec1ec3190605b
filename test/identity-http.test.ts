import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { solveChallenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/pbkdf2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { createInvitation, totpCodeAt, totpStep } from '../src/identity/index.js';
import type { Tenant } from '../src/db/index.js';
import { testRampart } from './support/rampart.js';

/**
 * The identity JSON API end to end over HTTP, with the real session authenticator: invitation ->
 * password -> forced TOTP enrollment -> full session -> data -> sign out everywhere; recovery code;
 * throttling. Controls ID-4, ID-6, ID-9.
 */

const PASSWORD = 'violet-harbour-lantern-88';
let rampart: Rampart;
let acme: Tenant;

const call = (options: InjectOptions) => rampart.server.app.inject(options);
const cookieOf = (response: LightMyRequestResponse) => {
  const header = response.headers['set-cookie'];
  const value = Array.isArray(header) ? header[0] : header;
  return { raw: value ?? '', pair: (value ?? '').split(';')[0]! };
};

async function invite(email: string, role = 'member') {
  const { token } = await createInvitation(rampart.identity.accounts, { tenantId: acme.id, actor: { type: 'system', id: 'test' }, email, role, justification: 'onboarding a new colleague' });
  return token;
}

beforeAll(async () => {
  rampart = await testRampart({ authenticate: undefined });
  acme = await rampart.createTenant({ slug: 'acme', name: 'Acme' });
});
afterAll(() => rampart.close());

describe('identity over HTTP', () => {
  let secret = '';
  let recoveryCodes: string[] = [];

  it('a weak or common password is refused when accepting an invitation, naming the field', async () => {
    const token = await invite('weak@acme.test');
    const response = await call({ method: 'POST', url: '/api/v1/identity/acme/invitations/accept', payload: { token, password: 'password1234', displayName: 'Weak' } });
    expect(response.statusCode).toBe(400);
    expect(JSON.stringify(response.json())).toMatch(/password/);
    expect(response.body).not.toContain('password1234');
  });

  it('ID-4 ID-6 invitation -> password -> forced TOTP enrollment -> a full session reaches data', async () => {
    const token = await invite('mia@acme.test');
    const accepted = await call({ method: 'POST', url: '/api/v1/identity/acme/invitations/accept', payload: { token, password: PASSWORD, displayName: 'Mia' } });
    expect(accepted.statusCode).toBe(201);
    const again = await call({ method: 'POST', url: '/api/v1/identity/acme/invitations/accept', payload: { token, password: PASSWORD, displayName: 'Mia' } });
    expect(again.statusCode).toBeGreaterThanOrEqual(400);

    const signIn = await call({ method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email: 'MIA@acme.test', password: PASSWORD } });
    expect(signIn.statusCode).toBe(200);
    // ID-4: a password alone learns the next step, nothing about the account.
    expect(signIn.json()).toEqual({ stage: 'mfa_enrollment_required' });
    const pending = cookieOf(signIn);
    expect(pending.raw).toMatch(/^__Host-rampart_session=[^;]+; Max-Age=\d+; /);
    for (const attribute of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/']) expect(pending.raw).toContain(attribute);
    expect(pending.raw).not.toMatch(/Domain=/i);

    // A password alone reaches no data (ID-4).
    expect((await call({ method: 'GET', url: '/api/v1/tenant', headers: { cookie: pending.pair } })).statusCode).toBe(401);

    const enroll = await call({ method: 'POST', url: '/api/v1/identity/totp/enroll', headers: { cookie: pending.pair } });
    expect(enroll.statusCode).toBe(200);
    secret = enroll.json().secret;
    expect(enroll.json().otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    const confirm = await call({ method: 'POST', url: '/api/v1/identity/totp/confirm', headers: { cookie: pending.pair }, payload: { code: totpCodeAt({ secret, step: totpStep(new Date()) }) } });
    expect(confirm.statusCode).toBe(200);
    expect(confirm.json().stage).toBe('ok');
    recoveryCodes = confirm.json().recoveryCodes;
    expect(recoveryCodes).toHaveLength(10);
    const full = cookieOf(confirm);
    expect(full.pair).not.toBe(pending.pair); // new token after MFA: no session fixation

    const tenant = await call({ method: 'GET', url: '/api/v1/tenant', headers: { cookie: full.pair } });
    expect(tenant.statusCode).toBe(200);
    expect(tenant.json().slug).toBe('acme');
    expect((await call({ method: 'GET', url: '/api/v1/tenant', headers: { cookie: pending.pair } })).statusCode).toBe(401);

    const sessions = await call({ method: 'GET', url: '/api/v1/me/sessions', headers: { cookie: full.pair } });
    expect(sessions.statusCode).toBe(200);
    expect(JSON.stringify(sessions.json())).not.toMatch(/token_hash/);

    const everywhere = await call({ method: 'POST', url: '/api/v1/me/sessions/revoke-all', headers: { cookie: full.pair } });
    expect(everywhere.statusCode).toBe(200);
    expect(cookieOf(everywhere).raw).toMatch(/Max-Age=0/);
    expect((await call({ method: 'GET', url: '/api/v1/tenant', headers: { cookie: full.pair } })).statusCode).toBe(401);
  });

  it('ID-4 before the second factor the sign-in and the login state say only the next step; after it, who signed in', async () => {
    const signIn = await call({ method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email: 'mia@acme.test', password: PASSWORD } });
    expect(signIn.statusCode).toBe(200);
    expect(signIn.json()).toEqual({ stage: 'mfa_required' });
    const pending = cookieOf(signIn).pair;
    const user = await rampart.db.owner.selectFrom('users').select(['id', 'tenant_id']).where('email', '=', 'mia@acme.test').executeTakeFirstOrThrow();
    const state = await call({ method: 'GET', url: '/login/acme/state', headers: { cookie: pending } });
    expect(state.json()).toEqual({ signedIn: true, stage: 'mfa_required', factors: ['totp'], mfaDone: false });
    for (const body of [signIn.body, state.body]) {
      for (const secret of [user.id, user.tenant_id, 'mia@acme.test', 'Mia', 'member', 'roles']) expect(body).not.toContain(secret);
    }
    const full = cookieOf(await call({ method: 'POST', url: '/api/v1/identity/totp/verify', headers: { cookie: pending }, payload: { code: totpCodeAt({ secret, step: totpStep(new Date()) + 1 }) } })).pair;
    expect((await call({ method: 'GET', url: '/login/acme/state', headers: { cookie: full } })).json()).toMatchObject({ stage: 'ok', user: { email: 'mia@acme.test', displayName: 'Mia' } });
  });

  it('ID-4 a one-time recovery code completes a sign-in once', async () => {
    const signIn = await call({ method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email: 'mia@acme.test', password: PASSWORD } });
    expect(signIn.json().stage).toBe('mfa_required');
    const recovered = await call({ method: 'POST', url: '/api/v1/identity/recovery', headers: { cookie: cookieOf(signIn).pair }, payload: { code: recoveryCodes[0] } });
    expect(recovered.statusCode).toBe(200);
    expect((await call({ method: 'GET', url: '/api/v1/tenant', headers: { cookie: cookieOf(recovered).pair } })).statusCode).toBe(200);
    const second = await call({ method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email: 'mia@acme.test', password: PASSWORD } });
    const reused = await call({ method: 'POST', url: '/api/v1/identity/recovery', headers: { cookie: cookieOf(second).pair }, payload: { code: recoveryCodes[0] } });
    expect(reused.statusCode).toBeGreaterThanOrEqual(400);
  });

  it('ID-5 an admin who enrolls only TOTP stays passkey_required and reaches no data; adding a passkey needs that TOTP first', async () => {
    const token = await invite('root@acme.test', 'admin');
    expect((await call({ method: 'POST', url: '/api/v1/identity/acme/invitations/accept', payload: { token, password: PASSWORD, displayName: 'Root' } })).statusCode).toBe(201);
    const signIn = await call({ method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email: 'root@acme.test', password: PASSWORD } });
    expect(signIn.json().stage).toBe('passkey_required');
    const pending = cookieOf(signIn).pair;
    const enroll = await call({ method: 'POST', url: '/api/v1/identity/totp/enroll', headers: { cookie: pending } });
    const rootSecret: string = enroll.json().secret;
    const step = totpStep(new Date());
    const confirm = await call({ method: 'POST', url: '/api/v1/identity/totp/confirm', headers: { cookie: pending }, payload: { code: totpCodeAt({ secret: rootSecret, step }) } });
    expect(confirm.statusCode).toBe(200);
    expect(confirm.json().stage).toBe('passkey_required');
    const afterTotp = cookieOf(confirm).pair;
    expect((await call({ method: 'GET', url: '/api/v1/tenant', headers: { cookie: afterTotp } })).statusCode).toBe(401);
    const noPasskey = await call({ method: 'POST', url: '/api/v1/identity/passkeys/authenticate/options', headers: { cookie: afterTotp } });
    expect(noPasskey.statusCode).toBe(403);

    // A new sign-in with the password alone cannot add a passkey: the TOTP factor comes first (supabase/auth#1615).
    const second = await call({ method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email: 'root@acme.test', password: PASSWORD } });
    expect(second.json().stage).toBe('passkey_required');
    const passwordOnly = cookieOf(second).pair;
    const refused = await call({ method: 'POST', url: '/api/v1/identity/passkeys/register/options', headers: { cookie: passwordOnly } });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().reason).toBe('mfa_required');
    expect((await call({ method: 'POST', url: '/api/v1/identity/totp/enroll', headers: { cookie: passwordOnly } })).statusCode).toBe(403);
    const verified = await call({ method: 'POST', url: '/api/v1/identity/totp/verify', headers: { cookie: passwordOnly }, payload: { code: totpCodeAt({ secret: rootSecret, step: step + 1 }) } });
    expect(verified.statusCode).toBe(200);
    expect(verified.json().stage).toBe('passkey_required');
    const mfaDone = cookieOf(verified).pair;
    expect((await call({ method: 'GET', url: '/api/v1/tenant', headers: { cookie: mfaDone } })).statusCode).toBe(401);

    const options = await call({ method: 'POST', url: '/api/v1/identity/passkeys/register/options', headers: { cookie: mfaDone } });
    expect(options.statusCode).toBe(200);
    expect(options.json()).toMatchObject({ rp: { id: 'localhost' }, authenticatorSelection: { residentKey: 'required', userVerification: 'required' } });
    // Malformed responses are 400 at the schema; a well-formed forgery is 400 from the verifier and burns the challenge.
    const garbage = await call({ method: 'POST', url: '/api/v1/identity/passkeys/register/verify', headers: { cookie: mfaDone }, payload: { response: { id: 'not base64url!', type: 'x' } } });
    expect(garbage.statusCode).toBe(400);
    const forged = { id: 'AAAAAAAAAAAAAAAAAAAAAA', rawId: 'AAAAAAAAAAAAAAAAAAAAAA', type: 'public-key', clientExtensionResults: {}, response: { clientDataJSON: 'e30', attestationObject: 'oA' } };
    const bad = await call({ method: 'POST', url: '/api/v1/identity/passkeys/register/verify', headers: { cookie: mfaDone }, payload: { response: forged } });
    expect(bad.statusCode).toBe(400);
    const again = await call({ method: 'POST', url: '/api/v1/identity/passkeys/register/verify', headers: { cookie: mfaDone }, payload: { response: forged } });
    expect(again.statusCode).toBe(400);
    const reasons = await rampart.db.owner.selectFrom('audit_events').select('diff').where('chain', '=', acme.id).where('action', '=', 'identity.mfa.passkey.registration_failed').execute();
    expect(reasons.map((e) => (e.diff as { reason: { after: string } }).reason.after)).toEqual(['invalid', 'no_challenge']);
  });

  it('an unknown account and a wrong password get the same answer', async () => {
    const unknown = await call({ method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email: 'nobody@acme.test', password: PASSWORD } });
    const wrong = await call({ method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email: 'mia@acme.test', password: 'not-the-password-at-all' } });
    expect(unknown.statusCode).toBe(401);
    expect(wrong.statusCode).toBe(401);
    expect(unknown.json().detail).toBe(wrong.json().detail);
    const noTenant = await call({ method: 'POST', url: '/api/v1/identity/no-such-tenant/sign-in', payload: { email: 'mia@acme.test', password: PASSWORD } });
    expect(noTenant.statusCode).toBe(404);
  });

  it('ID-9 ID-10 repeated failures need the proof-of-work challenge, then hit 429 with Retry-After; the limit is checked before the password', async () => {
    const token = await invite('target@acme.test');
    await call({ method: 'POST', url: '/api/v1/identity/acme/invitations/accept', payload: { token, password: PASSWORD, displayName: 'Target' } });
    const attempt = (password: string, altcha?: string) =>
      call({ method: 'POST', url: '/api/v1/identity/acme/sign-in', remoteAddress: '198.51.100.23', payload: { email: 'target@acme.test', password, ...(altcha ? { altcha } : {}) } });
    const solved = async () => {
      const challenge = (await call({ method: 'GET', url: '/api/v1/identity/challenge' })).json();
      const solution = await solveChallenge({ challenge, deriveKey, timeout: 60_000 });
      return Buffer.from(JSON.stringify({ challenge, solution })).toString('base64');
    };
    const early: number[] = [];
    for (let i = 0; i < 3; i += 1) early.push((await attempt(`wrong-guess-number-${i}`)).statusCode);
    expect(early).toEqual([401, 401, 401]);
    // Traffic now looks automated: without a solved challenge the attempt is refused cheaply.
    const challenged = await attempt('wrong-guess-number-3');
    expect(challenged.statusCode).toBe(403);
    expect(challenged.json()).toMatchObject({ challenge_required: true, challenge: 'altcha' });
    // With solved challenges the attempts count again, until the IP+account limit trips.
    const statuses: number[] = [];
    let limited: LightMyRequestResponse | undefined;
    for (let i = 4; i < 8 && !limited; i += 1) {
      const response = await attempt(`wrong-guess-number-${i}`, await solved());
      statuses.push(response.statusCode);
      if (response.statusCode === 429) limited = response;
    }
    expect(statuses.slice(0, -1).every((s) => s === 401)).toBe(true);
    expect(limited?.statusCode).toBe(429);
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThan(0);
    // Even the right password is refused while throttled: the limit is checked first.
    const right = await attempt(PASSWORD, await solved());
    expect(right.statusCode).toBe(429);
  }, 120_000);

  it('ID-9 wrong TOTP codes are throttled per user: signing in again buys no fresh budget', async () => {
    const signInFresh = async () => cookieOf(await call({ method: 'POST', url: '/api/v1/identity/acme/sign-in', remoteAddress: '203.0.113.50', payload: { email: 'mia@acme.test', password: PASSWORD } })).pair;
    const statuses: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      const cookie = await signInFresh(); // a new pending session every time
      const response = await call({ method: 'POST', url: '/api/v1/identity/totp/verify', remoteAddress: '203.0.113.50', headers: { cookie }, payload: { code: '000000' } });
      statuses.push(response.statusCode);
      if (response.statusCode === 429) break;
    }
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.slice(0, -1).every((s) => s === 401)).toBe(true);
  });

  it('only an owner may invite into a high-privilege role', async () => {
    const base = { tenantId: acme.id, actor: { type: 'user' as const, id: 'someone' }, email: 'second@acme.test', justification: 'adding a second administrator' };
    await expect(createInvitation(rampart.identity.accounts, { ...base, role: 'owner', inviterRoles: ['admin'] })).rejects.toMatchObject({ status: 403 });
    await expect(createInvitation(rampart.identity.accounts, { ...base, role: 'member', inviterRoles: ['admin'] })).resolves.toBeDefined();
    await expect(createInvitation(rampart.identity.accounts, { ...base, role: 'admin', inviterRoles: ['owner'] })).resolves.toBeDefined();
  });

  it('ID-10 a junk challenge value never counts as solved', async () => {
    // 198.51.100.23 needs the challenge since the throttling test above.
    const response = await call({ method: 'POST', url: '/api/v1/identity/acme/sign-in', remoteAddress: '198.51.100.23', payload: { email: 'target@acme.test', password: PASSWORD, altcha: 'bm90LWEtc29sdXRpb24=' } });
    expect([403, 429]).toContain(response.statusCode);
    expect(response.statusCode).not.toBe(200);
  });

  it('DA-4 no password, code or token reaches the audit log', async () => {
    const events = await rampart.db.owner.selectFrom('audit_events').selectAll().where('chain', '=', acme.id).execute();
    const text = JSON.stringify(events, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['identity.signin.succeeded', 'identity.signin.failed', 'identity.mfa.totp.enrolled']));
    for (const leaked of [PASSWORD, secret, ...recoveryCodes.slice(0, 2)]) expect(text).not.toContain(leaked);
  });
});
