import { createHash } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { withTenant } from '../src/db/index.js';
import { createClient, createInvitation, totpCodeAt, totpStep } from '../src/identity/index.js';
import { testRampart } from './support/rampart.js';

/**
 * Rampart behind TLS with a public URL (https://id.example.com, reached here over plain HTTP as a
 * TLS-terminating proxy would): one trusted issuer URL, whatever the request's Host says, and the
 * provider's cookies under the cookie rule (ID-6).
 */

const PUBLIC = 'https://id.example.com';
const HOST = 'id.example.com';
const PASSWORD = 'violet-harbour-lantern-88';
let rampart: Rampart;
let session = '';
let clientId = '';

const call = (options: InjectOptions) => rampart.server.app.inject({ ...options, headers: { host: HOST, ...options.headers } });
const setCookies = (response: LightMyRequestResponse) => {
  const header = response.headers['set-cookie'];
  return header === undefined ? [] : Array.isArray(header) ? header : [header];
};
const jarOf = (cookies: string[]) => cookies.map((c) => c.split(';')[0]).join('; ');
const expectMisdirected = (response: LightMyRequestResponse) => {
  expect(response.statusCode).toBe(421);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.json()).toMatchObject({ code: 'misdirected_request' });
  expect(response.body).not.toContain('evil.example');
};

beforeAll(async () => {
  rampart = await testRampart({ configOverrides: { http: { publicUrl: PUBLIC } } });
  const acme = await rampart.createTenant({ slug: 'acme', name: 'Acme' });
  const { token } = await createInvitation(rampart.identity.accounts, { tenantId: acme.id, actor: { type: 'system', id: 'test' }, email: 'ola@acme.test', role: 'member', justification: 'onboarding a new colleague' });
  await call({ method: 'POST', url: '/api/v1/identity/acme/invitations/accept', payload: { token, password: PASSWORD, displayName: 'Ola' } });
  const pending = jarOf(setCookies(await call({ method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email: 'ola@acme.test', password: PASSWORD } })).slice(0, 1));
  const { secret } = (await call({ method: 'POST', url: '/api/v1/identity/totp/enroll', headers: { cookie: pending } })).json() as { secret: string };
  session = jarOf(setCookies(await call({ method: 'POST', url: '/api/v1/identity/totp/confirm', headers: { cookie: pending }, payload: { code: totpCodeAt({ secret, step: totpStep(new Date()) }) } })).slice(0, 1));
  expect(session).toMatch(/^__Host-rampart_session=/);
  await withTenant(rampart.db, { tenantId: acme.id, actor: { type: 'system', id: 'test' } }, async (trx) => {
    clientId = (await createClient({ trx, tenantId: acme.id, ring: rampart.keys.ring, audit: rampart.audit, actor: { type: 'system', id: 'test' }, justification: 'test relying party', context: {} }, { name: 'RP', type: 'public', redirectUris: ['https://rp.example/cb'], scopes: ['openid'] })).client.clientId;
  });
}, 60_000);
afterAll(() => rampart?.close());

/** A browser's sign-in through the provider; returns the code and every Set-Cookie on the way. */
async function signIn(verifier: string) {
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const query = new URLSearchParams({ client_id: clientId, redirect_uri: 'https://rp.example/cb', response_type: 'code', scope: 'openid', state: 's1', code_challenge: challenge, code_challenge_method: 'S256' });
  const jar = new Map<string, string>();
  const cookies: string[] = [];
  let next = new URL(`/oidc/auth?${query}`, PUBLIC);
  for (let hop = 0; next.origin === PUBLIC; hop++) {
    expect(hop).toBeLessThan(10);
    const response = await call({ method: 'GET', url: `${next.pathname}${next.search}`, headers: { cookie: [...[...jar].map(([k, v]) => `${k}=${v}`), session].join('; ') } });
    expect(response.statusCode, response.body).toBe(303);
    for (const cookie of setCookies(response)) {
      cookies.push(cookie);
      const [name, value] = cookie.split(';')[0]!.split('=') as [string, string];
      if (value) jar.set(name, value);
      else jar.delete(name);
    }
    // Every absolute URL the provider redirects to is on the public origin (or the client's).
    next = new URL(response.headers.location as string, PUBLIC);
  }
  expect(next.origin).toBe('https://rp.example');
  expect(next.searchParams.get('iss')).toBe(PUBLIC);
  return { code: next.searchParams.get('code')!, cookies };
}

const tokenRequest = (code: string, verifier: string, headers: Record<string, string> = {}) =>
  call({ method: 'POST', url: '/oidc/token', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: 'https://rp.example/cb', client_id: clientId }).toString() });

describe('one trusted issuer URL', () => {
  it('discovery names the public URL in every URL, whatever scheme the request came over', async () => {
    for (const host of [HOST, 'ID.Example.com:443']) {
      const response = await call({ method: 'GET', url: '/.well-known/openid-configuration', headers: { host } });
      expect(response.statusCode).toBe(200);
      const meta = response.json() as Record<string, unknown>;
      expect(meta.issuer).toBe(PUBLIC);
      const urls = Object.entries(meta).filter(([, value]) => typeof value === 'string' && /^[a-z]+:\/\//.test(value));
      expect(urls.length).toBeGreaterThan(5);
      for (const [key, value] of urls) expect(String(value), key).toMatch(/^https:\/\/id\.example\.com(\/|$)/);
    }
  });

  it('a request for another host is refused before any handler: discovery, token endpoint, mail links, API', async () => {
    const variants: Array<Record<string, string>> = [{ host: 'evil.example' }, { host: `${HOST}:8443` }, { host: HOST, 'x-forwarded-host': 'evil.example' }, { host: HOST, 'x-forwarded-host': `${HOST}, evil.example` }];
    for (const headers of variants) {
      expectMisdirected(await call({ method: 'GET', url: '/.well-known/openid-configuration', headers }));
      expectMisdirected(await call({ method: 'GET', url: '/oidc/jwks', headers }));
      expectMisdirected(await tokenRequest('some-code', 'v'.repeat(43), headers));
      expectMisdirected(await call({ method: 'GET', url: '/api/v1/tenant', headers }));
    }
    const before = (await rampart.identity.mailer.idle(), rampart.identity.mailer.outbox().length);
    expectMisdirected(await call({ method: 'POST', url: '/api/v1/identity/acme/magic-link', headers: { host: 'evil.example' }, payload: { email: 'ola@acme.test' } }));
    await rampart.identity.mailer.idle();
    expect(rampart.identity.mailer.outbox().length).toBe(before);
    // Health probes address a node by its own address; they carry no URL.
    expect((await call({ method: 'GET', url: '/healthz', headers: { host: '10.1.2.3:3000' } })).statusCode).toBe(200);
  });

  it('mail links come from the public URL', async () => {
    expect((await call({ method: 'POST', url: '/api/v1/identity/acme/magic-link', payload: { email: 'ola@acme.test' } })).statusCode).toBe(202);
    await rampart.identity.mailer.idle();
    const mail = rampart.identity.mailer.outbox().at(-1)!;
    expect(mail.text).toMatch(/https:\/\/id\.example\.com\/login\/acme\/magic-link#token=/);
  });
});

describe('ID-6 the provider’s cookies', () => {
  it('behind TLS every provider Set-Cookie is prefixed (__Host- at path /, __Secure- when path-scoped), Secure, HttpOnly and SameSite=Lax; the code exchange works', async () => {
    const verifier = 'a'.repeat(20) + 'b'.repeat(23);
    const { code, cookies } = await signIn(verifier);
    const names = new Set<string>();
    for (const cookie of cookies) {
      const [pair, ...attributes] = cookie.split(';').map((part) => part.trim());
      const name = pair!.split('=')[0]!;
      const attrs = attributes.map((a) => a.toLowerCase());
      names.add(name);
      expect(attrs, cookie).toContain('secure');
      expect(attrs, cookie).toContain('httponly');
      expect(attrs, cookie).toContain('samesite=lax');
      expect(attrs.some((a) => a.startsWith('domain=')), cookie).toBe(false);
      if (name.startsWith('__Host-')) expect(attrs, cookie).toContain('path=/');
      else expect(name, cookie).toMatch(/^__Secure-/);
    }
    expect([...names].sort()).toEqual(['__Host-rampart_oidc_session', '__Host-rampart_oidc_session.sig', '__Secure-rampart_oidc_interaction', '__Secure-rampart_oidc_interaction.sig', '__Secure-rampart_oidc_resume', '__Secure-rampart_oidc_resume.sig']);

    const tokens = await tokenRequest(code, verifier);
    expect(tokens.statusCode, tokens.body).toBe(200);
  });
});
