import { createServer } from 'node:net';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { manualClock } from '../src/core/index.js';
import { withTenant, type Tenant } from '../src/db/index.js';
import { createInvitation, issueSetupToken, totpCodeAt, totpStep } from '../src/identity/index.js';
import { createClient } from '../src/identity/oidc/clients.js';
import { softAuthenticator, type SoftAuthenticator } from './support/soft-authenticator.js';
import { testRampart } from './support/rampart.js';

const PASSWORD = 'violet-harbour-lantern-88';
const clock = manualClock(new Date('2026-04-01T09:00:00Z'));
let rampart: Rampart;
let acme: Tenant;

const call = (options: InjectOptions) => rampart.server.app.inject(options);
const cookieOf = (response: LightMyRequestResponse) => {
  const header = response.headers['set-cookie'];
  return ((Array.isArray(header) ? header[0] : header) ?? '').split(';')[0]!;
};

type Member = { email: string; cookie: string; device: SoftAuthenticator; credentialId: string };

async function memberWithPasskey(tenant: Tenant, email: string, role = 'member'): Promise<Member> {
  const { token } = await createInvitation(rampart.identity.accounts, { tenantId: tenant.id, actor: { type: 'system', id: 'test' }, email, role, justification: 'onboarding a new colleague' });
  expect((await call({ method: 'POST', url: `/api/v1/identity/${tenant.slug}/invitations/accept`, payload: { token, password: PASSWORD, displayName: email.split('@')[0] } })).statusCode).toBe(201);
  const pending = cookieOf(await call({ method: 'POST', url: `/api/v1/identity/${tenant.slug}/sign-in`, payload: { email, password: PASSWORD } }));
  const device = softAuthenticator();
  const options = await call({ method: 'POST', url: '/api/v1/identity/passkeys/register/options', headers: { cookie: pending } });
  const verify = await call({ method: 'POST', url: '/api/v1/identity/passkeys/register/verify', headers: { cookie: pending }, payload: { response: device.register(options.json()), name: 'Laptop' } });
  expect(verify.statusCode, verify.body).toBe(200);
  return { email, cookie: cookieOf(verify), device, credentialId: verify.json().credentialId };
}

beforeAll(async () => {
  rampart = await testRampart({ clock });
  acme = await rampart.createTenant({ slug: 'acme', name: 'Acme' });
});
afterAll(() => rampart?.close());

describe('bad input on the identity API', () => {
  it('a NUL byte in an email, display name or passkey name is a 400 problem, never a 500', async () => {
    const member = await memberWithPasskey(acme, 'nul@acme.test');
    const passkeyId = (await call({ method: 'GET', url: '/api/v1/me/passkeys', headers: { cookie: member.cookie } })).json().items[0].id;
    const fresh = await rampart.createTenant({ slug: 'fresh', name: 'Fresh' });
    const setup = await issueSetupToken(rampart.identity.accounts, { tenantId: fresh.id });
    const invitation = await createInvitation(rampart.identity.accounts, { tenantId: acme.id, actor: { type: 'system', id: 'test' }, email: 'newbie@acme.test', role: 'member', justification: 'onboarding a new colleague' });
    const requests: InjectOptions[] = [
      { method: 'PATCH', url: `/api/v1/me/passkeys/${passkeyId}`, headers: { cookie: member.cookie }, payload: { name: 'Lap\u0000top' } },
      { method: 'POST', url: '/api/v1/identity/fresh/setup', payload: { token: setup!.token, email: 'boss@fresh.test', displayName: 'Bo\u0000ss', password: PASSWORD } },
      { method: 'POST', url: '/api/v1/identity/fresh/setup', payload: { token: setup!.token, email: 'bo\u0000ss@fresh.test', displayName: 'Boss', password: PASSWORD } },
      { method: 'POST', url: '/api/v1/identity/acme/invitations/accept', payload: { token: invitation.token, password: PASSWORD, displayName: 'New\u0000bie' } },
      { method: 'POST', url: '/api/v1/identity/acme/magic-link', payload: { email: 'nul\u0000@acme.test' } },
      { method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email: 'nul\u0000@acme.test', password: PASSWORD } },
    ];
    for (const request of requests) {
      const response = await call(request);
      expect(response.statusCode, `${request.method} ${request.url}: ${response.body}`).toBe(400);
      expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    // The refusals changed nothing: the setup link and the invitation still work.
    expect((await call({ method: 'POST', url: '/api/v1/identity/fresh/setup', payload: { token: setup!.token, email: 'boss@fresh.test', displayName: 'Boss', password: PASSWORD } })).statusCode).toBe(201);
  });
});

describe('bad input at the OIDC endpoints', () => {
  it('ID-2 a NUL in an authorization request parameter is a 4xx, never a 500; a client with one in its name or redirect URI is a 400', async () => {
    let clientId = '';
    await withTenant(rampart.db, { tenantId: acme.id, actor: { type: 'system', id: 'test' } }, async (trx) => {
      clientId = (await createClient({ trx, tenantId: acme.id, ring: rampart.keys.ring, audit: rampart.audit, actor: { type: 'system', id: 'test' }, justification: 'test relying party', context: {} }, { name: 'SPA', type: 'public', redirectUris: ['https://app.example/cb'] })).client.clientId;
    });
    const base = { client_id: clientId, response_type: 'code', redirect_uri: 'https://app.example/cb', scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' };
    const extras: Array<Record<string, string>> = [{ state: '\u0000' }, { nonce: 'a\u0000b' }, { login_hint: '\u0000' }, { tenant: '\u0000' }];
    for (const extra of extras) {
      const response = await call({ method: 'GET', url: `/oidc/auth?${new URLSearchParams({ ...base, ...extra }).toString()}` });
      expect(response.statusCode, JSON.stringify(extra)).toBeGreaterThanOrEqual(300);
      expect(response.statusCode, JSON.stringify(extra)).toBeLessThan(500);
      if (response.statusCode === 303) expect(response.headers.location).toMatch(/error=invalid_request/);
    }
    expect((await call({ method: 'GET', url: `/oidc/auth?${new URLSearchParams(base).toString()}` })).statusCode).toBe(303);

    const admin = await memberWithPasskey(acme, 'clients@acme.test', 'admin');
    for (const body of [
      { name: 'S\u0000PA', type: 'public', redirectUris: ['https://app.example/cb'] },
      { name: 'SPA', type: 'public', redirectUris: ['https://app.example/c\u0000b'] },
    ]) {
      const response = await call({ method: 'POST', url: '/api/v1/oidc/clients', headers: { cookie: admin.cookie }, payload: { ...body, justification: 'a client for the review' } });
      expect(response.statusCode, response.body).toBe(400);
    }
  });
});

describe('cookie-authenticated writes from another origin of the site', () => {
  it('ID-6 a sibling origin (Sec-Fetch-Site same-site or cross-site) cannot sign out everywhere, sign out, or start an enrollment with the cookie', async () => {
    const member = await memberWithPasskey(acme, 'csrf@acme.test');
    const me = () => call({ method: 'GET', url: '/api/v1/me/sessions', headers: { cookie: member.cookie } });
    expect((await me()).statusCode).toBe(200);
    for (const site of ['same-site', 'cross-site']) {
      const headers = { cookie: member.cookie, 'sec-fetch-site': site };
      expect((await call({ method: 'POST', url: '/api/v1/me/sessions/revoke-all', headers })).statusCode).toBe(401);
      expect((await call({ method: 'POST', url: '/api/v1/identity/sign-out', headers })).statusCode).toBe(401);
      expect((await call({ method: 'POST', url: '/api/v1/identity/totp/enroll', headers })).statusCode).toBe(401);
      expect((await call({ method: 'POST', url: '/api/v1/identity/step-up/options', headers })).statusCode).toBe(401);
      // The session survived every attempt.
      expect((await me()).statusCode).toBe(200);
    }
    // Reads are unaffected, and the site's own pages (same-origin) still act.
    expect((await call({ method: 'GET', url: '/api/v1/me/sessions', headers: { cookie: member.cookie, 'sec-fetch-site': 'same-site' } })).statusCode).toBe(200);
    expect((await call({ method: 'POST', url: '/api/v1/me/sessions/revoke-all', headers: { cookie: member.cookie, 'sec-fetch-site': 'same-origin' } })).statusCode).toBe(200);
    expect((await me()).statusCode).toBe(401);
  });
});

// ---------------------------------------------------------------------------------------------
// OIDC over a real loopback listener (the provider needs real requests and cookies).
// ---------------------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A browser with a cookie jar that keeps the provider's cookies between authorization requests. */
function browser(issuer: string) {
  const jar = new Map<string, string>();
  return {
    jar,
    /** Follows redirects; returns the callback URL when it lands there, else where it stopped. */
    async authorize(url: URL, rampartCookie: string, landing: string): Promise<{ callback?: URL; stoppedAt: string }> {
      let next = url.toString();
      let form: string | undefined;
      for (let hop = 0; hop < 16; hop++) {
        const cookie = [...[...jar].map(([k, v]) => `${k}=${v}`), rampartCookie].filter(Boolean).join('; ');
        const response = await fetch(next, { redirect: 'manual', headers: { cookie, ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) }, ...(form ? { method: 'POST', body: form } : {}) });
        form = undefined;
        for (const line of response.headers.getSetCookie()) {
          const [pair] = line.split(';');
          const [name, ...value] = pair!.split('=');
          if (/max-age=0|expires=thu, 01 jan 1970/i.test(line)) jar.delete(name!);
          else jar.set(name!, value.join('='));
        }
        const location = response.headers.get('location');
        if (!location) {
          // The provider's auto-submitting form (a real browser posts it): submit it the same way.
          const page = await response.text();
          const action = /<form[^>]*method="post"[^>]*action="([^"]+)"/i.exec(page)?.[1];
          if (response.status !== 200 || !action) return { stoppedAt: `${response.status} ${next} ${page.replace(/\s+/g, " ").slice(0, 600)}` };
          form = new URLSearchParams([...page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!])).toString();
          next = new URL(action.replaceAll('&amp;', '&'), next).toString();
          continue;
        }
        const target = new URL(location, next);
        if (target.toString().startsWith(landing)) return { callback: target, stoppedAt: target.toString() };
        if (target.pathname.startsWith('/login/')) return { stoppedAt: target.toString() };
        next = target.toString();
      }
      throw new Error(`too many redirects from ${issuer}`);
    },
  };
}

describe('OIDC provider session and the Rampart session', () => {
  let app: Rampart;
  let issuer = '';
  let spaClientId = '';
  const post = (path: string, body: unknown, cookie = '') => fetch(`${issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) }, body: JSON.stringify(body) });
  const setCookieOf = (r: Response) => r.headers.getSetCookie()[0]!.split(';')[0]!;

  async function signedIn(tenant: Tenant, email: string): Promise<string> {
    const { token } = await createInvitation(app.identity.accounts, { tenantId: tenant.id, actor: { type: 'system', id: 'test' }, email, role: 'member', justification: 'onboarding a new colleague' });
    expect((await post(`/api/v1/identity/${tenant.slug}/invitations/accept`, { token, password: PASSWORD, displayName: email.split('@')[0] })).status).toBe(201);
    const pending = setCookieOf(await post(`/api/v1/identity/${tenant.slug}/sign-in`, { email, password: PASSWORD }));
    const { secret } = (await (await post('/api/v1/identity/totp/enroll', {}, pending)).json()) as { secret: string };
    const confirm = await post('/api/v1/identity/totp/confirm', { code: totpCodeAt({ secret, step: totpStep(new Date()) }) }, pending);
    expect(confirm.status).toBe(200);
    return setCookieOf(confirm);
  }

  async function authorizationUrl() {
    const config = await client.discovery(new URL(issuer), spaClientId, undefined, client.None(), { execute: [client.allowInsecureRequests] });
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: `${issuer}/cb`, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    return { config, verifier, url };
  }

  let tenant: Tenant;
  beforeAll(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    app = await testRampart({ authenticate: undefined, configOverrides: { http: { port, host: '127.0.0.1', publicUrl: issuer } } });
    await app.server.app.listen({ port, host: '127.0.0.1' });
    tenant = await app.createTenant({ slug: 'initech', name: 'Initech' });
    await withTenant(app.db, { tenantId: tenant.id, actor: { type: 'system', id: 'test' } }, async (trx) => {
      spaClientId = (await createClient({ trx, tenantId: tenant.id, ring: app.keys.ring, audit: app.audit, actor: { type: 'system', id: 'test' }, justification: 'test relying party', context: {} }, { name: 'SPA', type: 'public', redirectUris: [`${issuer}/cb`] })).client.clientId;
    });
  }, 60_000);
  afterAll(() => app?.close());

  it('ID-6 once its Rampart session ends (sign-out, sign out everywhere), the provider session issues no code; the next user of the browser gets their own', async () => {
    const ola = await signedIn(tenant, 'ola@initech.test');
    const bob = await signedIn(tenant, 'bob@initech.test');
    const device = browser(issuer);
    const exchange = async (flow: Awaited<ReturnType<typeof authorizationUrl>>, callback: URL) =>
      (await client.authorizationCodeGrant(flow.config, callback, { pkceCodeVerifier: flow.verifier, expectedState: client.skipStateCheck })).claims()!.sub;

    const first = await authorizationUrl();
    const asOla = await device.authorize(first.url, ola, `${issuer}/cb`);
    expect(asOla.callback, asOla.stoppedAt).toBeDefined();
    const olaSub = await exchange(first, asOla.callback!);

    // A relying party's cross-site redirect carries no SameSite=Strict cookie: while Ola's Rampart
    // session lives, the provider session alone still signs her in.
    const silent = await authorizationUrl();
    const again = await device.authorize(silent.url, '', `${issuer}/cb`);
    expect(again.callback, again.stoppedAt).toBeDefined();
    expect(await exchange(silent, again.callback!)).toBe(olaSub);

    // Ola signs out of Rampart: no code any more, the browser goes to the login page.
    expect((await post('/api/v1/identity/sign-out', {}, ola)).status).toBe(204);
    const afterSignOut = await device.authorize((await authorizationUrl()).url, '', `${issuer}/cb`);
    expect(afterSignOut.callback, afterSignOut.stoppedAt).toBeUndefined();
    expect(afterSignOut.stoppedAt).toMatch(/\/login\/initech\?return_to=/);

    // Bob signs in on the same browser: the code is for Bob, not for the Ola the provider remembered.
    const second = await authorizationUrl();
    const asBob = await device.authorize(second.url, bob, `${issuer}/cb`);
    expect(asBob.callback, asBob.stoppedAt).toBeDefined();
    expect(await exchange(second, asBob.callback!)).not.toBe(olaSub);

    // Bob signs out everywhere from another device: this browser's provider session is done too.
    expect((await post('/api/v1/me/sessions/revoke-all', {}, bob)).status).toBe(200);
    const afterRevokeAll = await device.authorize((await authorizationUrl()).url, '', `${issuer}/cb`);
    expect(afterRevokeAll.callback, afterRevokeAll.stoppedAt).toBeUndefined();
    expect(afterRevokeAll.stoppedAt).toMatch(/\/login\/initech\?return_to=/);
  });
});
