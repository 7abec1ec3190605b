import * as client from 'openid-client';
import { decodeJwt, decodeProtectedHeader, createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { withTenant, type Tenant } from '../src/db/index.js';
import { createInvitation, totpCodeAt, totpStep } from '../src/identity/index.js';
import { createClient } from '../src/identity/oidc/clients.js';
import { createCapturingLogger } from '../src/core/index.js';
import { freePort } from './support/process.js';
import { testRampart } from './support/rampart.js';
import { followRedirects } from './support/redirects.js';

/**
 * Rampart as an OpenID Connect provider, driven by `openid-client` as an independent relying party
 * over a real loopback listener (controls ID-1, ID-2, ID-3, ID-7, ID-8).
 */

const PASSWORD = 'violet-harbour-lantern-88';
let rampart: Rampart;
let acme: Tenant;
let issuer: string;
let sessionCookie = '';
let spaClientId = '';
let dpopClientId = '';
let confidential = { clientId: '', secret: '' };
const redirectUri = () => `${issuer}/cb`;

/** A browser in miniature: follows the provider's redirects carrying its cookies and the Rampart session. */
const authorize = (url: URL, extraCookie = sessionCookie, landing = redirectUri()): Promise<URL> => followRedirects(url, { cookie: extraCookie, landing });

async function rp(clientId: string, auth: client.ClientAuth = client.None()) {
  return client.discovery(new URL(issuer), clientId, undefined, auth, { execute: [client.allowInsecureRequests] });
}

async function signInCode(config: client.Configuration, scope: string, extra: Record<string, string> = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  // OIDC Core: offline_access (a refresh token) is honoured only with prompt=consent.
  const prompt: Record<string, string> = scope.split(' ').includes('offline_access') ? { prompt: 'consent' } : {};
  const url = client.buildAuthorizationUrl(config, { redirect_uri: redirectUri(), scope, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, ...prompt, ...extra });
  const callback = await authorize(url);
  return { callback, verifier, state };
}

async function tokensFor(config: client.Configuration, scope: string, options: { DPoP?: client.DPoPHandle } = {}) {
  const { callback, verifier, state } = await signInCode(config, scope);
  return client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }, undefined, options);
}

const api = (path: string, token: string, scheme = 'Bearer', extra: Record<string, string> = {}) => fetch(`${issuer}${path}`, { headers: { authorization: `${scheme} ${token}`, ...extra } });

beforeAll(async () => {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  rampart = await testRampart({ authenticate: undefined, configOverrides: { http: { port, host: '127.0.0.1', publicUrl: issuer } } });
  await rampart.server.app.listen({ port, host: '127.0.0.1' });
  acme = await rampart.createTenant({ slug: 'acme', name: 'Acme' });

  const { token } = await createInvitation(rampart.identity.accounts, { tenantId: acme.id, actor: { type: 'system', id: 'test' }, email: 'ola@acme.test', role: 'member', justification: 'onboarding a new colleague' });
  const post = (path: string, body: unknown, cookie = '') => fetch(`${issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) }, body: JSON.stringify(body) });
  const cookieOf = (r: Response) => r.headers.getSetCookie()[0]!.split(';')[0]!;
  expect((await post('/api/v1/identity/acme/invitations/accept', { token, password: PASSWORD, displayName: 'Ola' })).status).toBe(201);
  const signIn = await post('/api/v1/identity/acme/sign-in', { email: 'ola@acme.test', password: PASSWORD });
  const pending = cookieOf(signIn);
  const enroll = await post('/api/v1/identity/totp/enroll', {}, pending);
  const { secret } = (await enroll.json()) as { secret: string };
  const confirm = await post('/api/v1/identity/totp/confirm', { code: totpCodeAt({ secret, step: totpStep(new Date()) }) }, pending);
  expect(confirm.status).toBe(200);
  sessionCookie = cookieOf(confirm);

  const ctx = { tenantId: acme.id, ring: rampart.keys.ring, audit: rampart.audit, actor: { type: 'system', id: 'test' } as const, justification: 'test relying parties', context: {} };
  await withTenant(rampart.db, { tenantId: acme.id, actor: ctx.actor }, async (trx) => {
    const scopes = ['openid', 'profile', 'email', 'offline_access', 'rampart:tenant', 'rampart:tenant:read', 'rampart:session:read', 'rampart:member', 'rampart:member:read'];
    spaClientId = (await createClient({ ...ctx, trx }, { name: 'SPA', type: 'public', redirectUris: [`${issuer}/cb`], scopes })).client.clientId;
    dpopClientId = (await createClient({ ...ctx, trx }, { name: 'DPoP SPA', type: 'public', redirectUris: [`${issuer}/cb`], scopes, dpopBoundAccessTokens: true })).client.clientId;
    const made = await createClient({ ...ctx, trx }, { name: 'API', type: 'confidential', redirectUris: [`${issuer}/cb`], scopes });
    confidential = { clientId: made.client.clientId, secret: made.clientSecret! };
  });
}, 60_000);
afterAll(() => rampart?.close());

describe('OIDC provider', () => {
  it('ID-2 discovery offers the code flow with S256 PKCE only, DPoP, and a JWKS with staged keys', async () => {
    const meta = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(meta.issuer).toBe(issuer);
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.grant_types_supported).not.toContain('implicit');
    expect(meta.dpop_signing_alg_values_supported).toContain('ES256');
    expect(meta.registration_endpoint).toBeUndefined();
    const jwks = (await (await fetch(meta.jwks_uri as string)).json()) as JSONWebKeySet;
    // current + next for ES256 and RS256; no private material.
    expect(jwks.keys).toHaveLength(4);
    for (const key of jwks.keys) expect(key).not.toHaveProperty('d');
  });

  it('ID-1 ID-2 code + PKCE: an independent RP gets tokens; the access token lives 10 minutes and reaches the API', async () => {
    const config = await rp(spaClientId);
    const tokens = await tokensFor(config, 'openid email offline_access rampart:tenant:read');
    expect(tokens.expires_in).toBe(600);
    expect(tokens.refresh_token).toBeTruthy();
    const claims = tokens.claims()!;
    expect(claims.email).toBe('ola@acme.test');
    expect(claims.acr).toBe('urn:rampart:acr:mfa');
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp']));
    const tenant = await api('/api/v1/tenant', tokens.access_token);
    expect(tenant.status).toBe(200);
    expect(((await tenant.json()) as { slug: string }).slug).toBe('acme');
    // A token is for one audience: the API token is refused at userinfo; an OIDC-only token works there and not at the API.
    await expect(client.fetchUserInfo(config, tokens.access_token, claims.sub)).rejects.toBeTruthy();
    const profile = await tokensFor(config, 'openid email');
    expect((await client.fetchUserInfo(config, profile.access_token, claims.sub)).email).toBe('ola@acme.test');
    expect((await api('/api/v1/tenant', profile.access_token)).status).toBe(401);
  });

  it('ID-8 a token carries only the scopes requested, and never one the user does not hold', async () => {
    const config = await rp(spaClientId);
    const tokens = await tokensFor(config, 'openid rampart:tenant:read rampart:member');
    const scopes = tokens.scope!.split(' ');
    expect(scopes).toContain('rampart:tenant:read');
    // A member holds no rights on members: the request is narrowed away, not granted.
    expect(scopes.some((s) => s.startsWith('rampart:member'))).toBe(false);
    // The user may list their sessions, but this token was not given that scope.
    expect((await api('/api/v1/me/sessions', tokens.access_token)).status).toBe(403);
  });

  it('ID-2 an authorization request without PKCE, with plain PKCE, or for the implicit flow is refused', async () => {
    const base = { client_id: spaClientId, redirect_uri: redirectUri(), scope: 'openid', state: 'xyz' };
    const missing = await authorize(new URL(`${issuer}/oidc/auth?${new URLSearchParams({ ...base, response_type: 'code' })}`));
    expect(missing.searchParams.get('error')).toBe('invalid_request');
    expect(missing.searchParams.get('code')).toBeNull();
    const plain = await authorize(new URL(`${issuer}/oidc/auth?${new URLSearchParams({ ...base, response_type: 'code', code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' })}`));
    expect(plain.searchParams.get('error')).toBe('invalid_request');
    const implicit = await fetch(`${issuer}/oidc/auth?${new URLSearchParams({ ...base, response_type: 'token', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' })}`, { redirect: 'manual' });
    const location = implicit.headers.get('location') ?? '';
    expect(location).not.toContain('access_token');
    expect(location).toMatch(/error=unsupported_response_type/);
  });

  it('ID-2 a failed PKCE verification burns the code: the right verifier afterwards gets nothing (RFC 9700)', async () => {
    const config = await rp(spaClientId);
    const { callback, verifier, state } = await signInCode(config, 'openid rampart:tenant:read');
    await expect(client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: state })).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state })).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('ID-6 over plain http (development) the provider cookies are unprefixed but HttpOnly and SameSite=Lax', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(await rp(spaClientId), { redirect_uri: redirectUri(), scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const cookies = (await fetch(url, { redirect: 'manual' })).headers.getSetCookie();
    expect(cookies.map((c) => c.split('=')[0]).sort()).toEqual(['rampart_oidc_interaction', 'rampart_oidc_interaction.sig', 'rampart_oidc_resume', 'rampart_oidc_resume.sig']);
    for (const cookie of cookies) expect(cookie.toLowerCase()).toMatch(/; samesite=lax; httponly$/);
  });

  it('ID-1 refresh tokens rotate on every use; replaying a used one revokes the whole grant', async () => {
    const config = await rp(spaClientId);
    const first = await tokensFor(config, 'openid offline_access rampart:tenant:read');
    const second = await client.refreshTokenGrant(config, first.refresh_token!);
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await api('/api/v1/tenant', second.access_token)).status).toBe(200);
    await expect(client.refreshTokenGrant(config, first.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // The replay revoked the grant: the live refresh token and access token are dead too.
    await expect(client.refreshTokenGrant(config, second.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await api('/api/v1/tenant', second.access_token)).status).toBe(401);
  });

  it('ID-1 two concurrent uses of one refresh token: at most one succeeds and the grant is revoked', async () => {
    const config = await rp(spaClientId);
    const first = await tokensFor(config, 'openid offline_access rampart:tenant:read');
    const results = await Promise.allSettled([client.refreshTokenGrant(config, first.refresh_token!), client.refreshTokenGrant(config, first.refresh_token!)]);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeLessThanOrEqual(1);
    for (const r of results) if (r.status === 'fulfilled') await expect(client.refreshTokenGrant(config, r.value.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('ID-7 a DPoP-bound token is refused without its proof, accepted with one, and a proof is single-use', async () => {
    const config = await rp(dpopClientId);
    const key = await client.randomDPoPKeyPair('ES256');
    const DPoP = client.getDPoPHandle(config, key);
    const tokens = await tokensFor(config, 'openid offline_access rampart:tenant:read', { DPoP });
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    expect((await api('/api/v1/tenant', tokens.access_token)).status).toBe(401);
    expect((await api('/api/v1/tenant', tokens.access_token, 'DPoP')).status).toBe(401);
    const ok = await client.fetchProtectedResource(config, tokens.access_token, new URL(`${issuer}/api/v1/tenant`), 'GET', undefined, undefined, { DPoP });
    expect(ok.status).toBe(200);
    // Replaying the exact proof fails; a proof made for another URL fails.
    const captured: { proof?: string } = {};
    const spy = await client.fetchProtectedResource(config, tokens.access_token, new URL(`${issuer}/api/v1/tenant`), 'GET', undefined, undefined, {
      DPoP,
      [client.customFetch]: (url: string, init: RequestInit) => {
        captured.proof = new Headers(init.headers).get('dpop') ?? undefined;
        return fetch(url, init);
      },
    } as never);
    expect(spy.status).toBe(200);
    expect((await api('/api/v1/tenant', tokens.access_token, 'DPoP', { dpop: captured.proof! })).status).toBe(401);
    // The refresh token is bound too: refreshing without the key fails.
    const unbound = await rp(dpopClientId);
    await expect(client.refreshTokenGrant(unbound, tokens.refresh_token!)).rejects.toBeTruthy();
  });

  it('revocation and introspection: a revoked token stops at once; only a confidential client introspects', async () => {
    const config = await rp(spaClientId);
    const tokens = await tokensFor(config, 'openid rampart:tenant:read');
    const introspector = await rp(confidential.clientId, client.ClientSecretBasic(confidential.secret));
    const live = await client.tokenIntrospection(introspector, tokens.access_token);
    expect(live.active).toBe(true);
    expect(live.aud).toBe(`${issuer}/api`);
    // A public client learns nothing from introspection.
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    await client.tokenRevocation(config, tokens.access_token);
    expect((await api('/api/v1/tenant', tokens.access_token)).status).toBe(401);
    expect((await client.tokenIntrospection(introspector, tokens.access_token)).active).toBe(false);
  });

  it('ID-3 after a rotation new tokens use the new key while tokens of the old key still verify; logout accepts an old id_token_hint', async () => {
    const config = await rp(spaClientId);
    const before = await tokensFor(config, 'openid');
    const oldKid = decodeProtectedHeader(before.id_token!).kid;
    const keysBefore = (await (await fetch(`${issuer}/oidc/jwks`)).json()) as JSONWebKeySet;
    const staged = (await rampart.oidc.keys.list()).filter((k) => k.status === 'next').map((k) => k.kid);
    expect(keysBefore.keys.map((k) => k.kid)).toEqual(expect.arrayContaining(staged)); // published before use

    const result = await rampart.oidc.keys.rotate({ actor: { type: 'system', id: 'test' }, reason: 'test rotation of signing keys' });
    expect(result.activated.sort()).toEqual(staged.sort());
    await rampart.oidc.refreshKeys();

    const after = await tokensFor(await rp(spaClientId), 'openid');
    const newKid = decodeProtectedHeader(after.id_token!).kid;
    expect(newKid).not.toBe(oldKid);
    expect(staged).toContain(newKid);
    const jwks = (await (await fetch(`${issuer}/oidc/jwks`)).json()) as JSONWebKeySet;
    expect(jwks.keys.map((k) => k.kid)).toContain(oldKid);
    const verified = await jwtVerify(before.id_token!, createLocalJWKSet(jwks), { issuer, audience: spaClientId });
    expect(verified.payload.sub).toBe(decodeJwt(after.id_token!).sub);

    const logout = await fetch(`${issuer}/oidc/session/end?${new URLSearchParams({ id_token_hint: before.id_token!, client_id: spaClientId })}`, { redirect: 'manual' });
    expect(logout.status).toBe(200);
    const page = await logout.text();
    expect(page).toContain('/oidc/session/end/confirm');
    expect(page).not.toContain('could not continue');
    // The page's one inline script is allowed by its hash only; the CSP still has no 'unsafe-inline'.
    expect(logout.headers.get('content-security-policy')).toMatch(/script-src 'self' 'sha256-/);
    expect(logout.headers.get('content-security-policy')).not.toContain('unsafe-inline');

    const events = await rampart.db.owner.selectFrom('audit_events').select(['action', 'justification']).where('action', '=', 'identity.signing_key.rotated').execute();
    expect(events).toHaveLength(1);
  });

  it('a platform client must name the tenant; a tenant client never signs in another tenant’s user', async () => {
    const other = await rampart.createTenant({ slug: 'globex', name: 'Globex' });
    let otherClientId = '';
    await withTenant(rampart.db, { tenantId: other.id, actor: { type: 'system', id: 'test' } }, async (trx) => {
      otherClientId = (await createClient({ trx, tenantId: other.id, ring: rampart.keys.ring, audit: rampart.audit, actor: { type: 'system', id: 'test' }, justification: 'test relying parties', context: {} }, { name: 'Globex SPA', type: 'public', redirectUris: [`${issuer}/cb`] })).client.clientId;
    });
    // Acme's session is not a Globex session: the browser is sent to Globex's login page.
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(await rp(otherClientId), { redirect_uri: redirectUri(), scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    await expect(authorize(url)).rejects.toThrow(/no redirect|\/login\/globex/);
    const first = await fetch(url, { redirect: 'manual' });
    const interaction = new URL(first.headers.get('location')!, issuer);
    const cookies = first.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const toLogin = await fetch(interaction, { redirect: 'manual', headers: { cookie: `${cookies}; ${sessionCookie}` } });
    expect(toLogin.status).toBe(303);
    expect(toLogin.headers.get('location')).toMatch(/^\/login\/globex\?return_to=%2Foidc%2Finteraction%2F/);

    const dashboard = await rp('rampart-dashboard');
    const noTenant = client.buildAuthorizationUrl(dashboard, { redirect_uri: `${issuer}/dashboard/callback`, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const start = await fetch(noTenant, { redirect: 'manual' });
    const step = await fetch(new URL(start.headers.get('location')!, issuer), { redirect: 'manual', headers: { cookie: start.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ') } });
    const resumed = await fetch(new URL(step.headers.get('location')!, issuer), { redirect: 'manual', headers: { cookie: start.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ') } });
    expect(resumed.headers.get('location')).toMatch(/error=invalid_request/);
  });

  it('ID-8 the platform dashboard client signs in a user of the named tenant with a wildcard narrowed to what the user holds', async () => {
    const dashboard = await rp('rampart-dashboard');
    const verifier = client.randomPKCECodeVerifier();
    const landing = `${issuer}/dashboard/callback`;
    const url = client.buildAuthorizationUrl(dashboard, { redirect_uri: landing, scope: 'openid rampart:tenant rampart:tenant:read rampart:member:read rampart:crm__contacts:read', tenant: 'acme', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const callback = await authorize(url, sessionCookie, landing);
    const tokens = await client.authorizationCodeGrant(dashboard, callback, { pkceCodeVerifier: verifier });
    // A member reads the tenant but cannot update it, holds nothing on members, and acme has no CRM installed.
    expect(tokens.scope!.split(' ').filter((x) => x.startsWith('rampart:'))).toEqual(['rampart:tenant:read']);
    expect((await api('/api/v1/tenant', tokens.access_token)).status).toBe(200);
    expect(tokens.claims()!.tenant).toBeUndefined(); // only with the profile scope
  });

  it('bad input at the protocol endpoints is a 4xx, never a 5xx, and no code, token or secret reaches a log line', async () => {
    const capture = createCapturingLogger('debug');
    const port = await freePort();
    const local = `http://127.0.0.1:${port}`;
    const other = await testRampart({ log: capture.log, authenticate: undefined, configOverrides: { http: { port, host: '127.0.0.1', publicUrl: local } } });
    try {
      await other.server.app.listen({ port, host: '127.0.0.1' });
      const form = (body: string, headers: Record<string, string> = {}) => fetch(`${local}/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
      const statuses = [
        (await form('grant_type=authorization_code&code=secret-code-123&client_id=nope&code_verifier=verifier-456')).status,
        (await form('grant_type=refresh_token&refresh_token=refresh-secret-789&client_id=nope')).status,
        (await form('grant_type=password&username=a&password=hunter2hunter2')).status,
        (await form(`grant_type=refresh_token&refresh_token=${'x'.repeat(100_000)}`)).status,
        (await form('grant_type=%E2%80%AEevil%00&client_id=%F0%9F%98%80')).status,
        (await form('{"grant_type":"refresh_token"}', { 'content-type': 'application/json' })).status,
        (await fetch(`${local}/oidc/token/introspection`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=abc' })).status,
        (await fetch(`${local}/oidc/auth?client_id=${'%00'.repeat(10)}&response_type=code`)).status,
        (await fetch(`${local}/oidc/interaction/${'a'.repeat(20)}`)).status,
        (await fetch(`${local}/oidc/interaction/..%2F..%2Fetc`)).status,
        (await fetch(`${local}/oidc/me`, { headers: { authorization: 'Bearer not-a-real-token-000000000000' } })).status,
        (await fetch(`${local}/api/v1/tenant`, { headers: { authorization: 'DPoP not-a-real-token-000000000000', dpop: 'garbage' } })).status,
      ];
      for (const status of statuses) {
        expect(status).toBeGreaterThanOrEqual(400);
        expect(status).toBeLessThan(500);
      }
      const text = capture.lines().join('\n');
      for (const secret of ['secret-code-123', 'verifier-456', 'refresh-secret-789', 'hunter2hunter2', 'not-a-real-token']) expect(text, secret).not.toContain(secret);
    } finally {
      await other.close();
    }
  });

  // Last: it ends the shared session.
  it('ID-6 sign out everywhere also revokes what apps hold: refresh and access tokens stop at once', async () => {
    const config = await rp(spaClientId);
    const tokens = await tokensFor(config, 'openid offline_access rampart:tenant:read');
    expect((await api('/api/v1/tenant', tokens.access_token)).status).toBe(200);
    const everywhere = await fetch(`${issuer}/api/v1/me/sessions/revoke-all`, { method: 'POST', headers: { cookie: sessionCookie } });
    expect(everywhere.status).toBe(200);
    expect(((await everywhere.json()) as { revokedGrants: number }).revokedGrants).toBeGreaterThan(0);
    expect((await api('/api/v1/tenant', tokens.access_token)).status).toBe(401);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
