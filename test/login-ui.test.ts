import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import type { Tenant } from '../src/db/index.js';
import { createInvitation } from '../src/identity/index.js';
import { testRampart } from './support/rampart.js';

/**
 * The hosted login pages over HTTP (ID-4, ID-5, ID-6, ID-10): every page is HTML under the strict
 * CSP with no inline script or style, every interpolation is escaped, unknown tenants get a 404
 * page, the asset route serves only its allowlist, and the session-state endpoint the pages use
 * tells only the cookie holder about their own sign-in.
 */

const PASSWORD = 'violet-harbour-lantern-88';
const EVIL_NAME = `<script>alert("owned")</script> & "Co" <img src=x onerror=alert(1)>`;
let rampart: Rampart;
let acme: Tenant;

const call = (options: InjectOptions) => rampart.server.app.inject(options);
const cookiePair = (response: LightMyRequestResponse) => {
  const header = response.headers['set-cookie'];
  return ((Array.isArray(header) ? header[0] : header) ?? '').split(';')[0]!;
};

type Tag = { name: string; attributes: Map<string, string>; source: string };

/** A small HTML tag scanner (our own, well-formed output): tag names and their attributes, entity-decoded. */
function scanTags(markup: string): Tag[] {
  const decode = (value: string) => value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const tags: Tag[] = [];
  const tagPattern = /<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)\s*\/?>/g;
  for (const match of markup.matchAll(tagPattern)) {
    const attributes = new Map<string, string>();
    for (const attr of match[2]!.matchAll(/([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
      attributes.set(attr[1]!.toLowerCase(), decode(attr[2] ?? attr[3] ?? attr[4] ?? ''));
    }
    tags.push({ name: match[1]!.toLowerCase(), attributes, source: match[0] });
  }
  return tags;
}

/** The invariants every login page must hold under the CSP. */
function expectCspSafePage(response: LightMyRequestResponse): Tag[] {
  expect(response.headers['content-type']).toMatch(/^text\/html; charset=utf-8/);
  const csp = String(response.headers['content-security-policy']);
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("style-src 'self'");
  expect(csp).not.toContain('unsafe-inline');
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  const body = response.body;
  const tags = scanTags(body);
  // Every <script> has a src under the asset prefix and an empty body; no <style> elements.
  const scripts = [...body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
  expect(scripts.length).toBe(tags.filter((t) => t.name === 'script').length);
  for (const [, , content] of scripts) expect(content).toBe('');
  for (const tag of tags.filter((t) => t.name === 'script')) expect(tag.attributes.get('src')).toMatch(/^\/assets\/login\/[a-z-]+\.js\?v=[\w-]+$/);
  expect(tags.some((t) => t.name === 'style')).toBe(false);
  for (const tag of tags) {
    for (const name of tag.attributes.keys()) {
      expect(name, `${tag.source} has an inline style`).not.toBe('style');
      expect(name, `${tag.source} has an inline event handler`).not.toMatch(/^on/);
    }
    for (const value of tag.attributes.values()) expect(value.toLowerCase()).not.toMatch(/^\s*javascript:/);
  }
  // Accessibility basics: language, one h1, a noscript note, an alert region that can take focus.
  expect(tags.find((t) => t.name === 'html')?.attributes.get('lang')).toBe('en');
  expect(tags.filter((t) => t.name === 'h1')).toHaveLength(1);
  expect(body).toMatch(/<noscript>[^<]*<p[^>]*>JavaScript is required for sign-in/);
  const error = tags.find((t) => t.attributes.get('id') === 'error');
  expect(error?.attributes.get('role')).toBe('alert');
  expect(error?.attributes.get('aria-live')).toBe('assertive');
  expect(error?.attributes.get('tabindex')).toBe('-1');
  expect(tags.find((t) => t.name === 'meta' && t.attributes.get('name') === 'viewport')).toBeDefined();
  // Every input is labelled.
  const labelled = new Set(tags.filter((t) => t.name === 'label').map((t) => t.attributes.get('for')));
  for (const input of tags.filter((t) => t.name === 'input')) expect(labelled, `input ${input.source}`).toContain(input.attributes.get('id'));
  return tags;
}

const bodyData = (tags: Tag[], name: string) => tags.find((t) => t.name === 'body')?.attributes.get(`data-${name}`);

beforeAll(async () => {
  rampart = await testRampart({ authenticate: undefined });
  acme = await rampart.createTenant({ slug: 'acme', name: 'Acme' });
  await rampart.createTenant({ slug: 'evil', name: EVIL_NAME });
  await rampart.createTenant({ slug: 'demo', name: 'Demo' });
});
afterAll(() => rampart?.close());

describe('hosted login pages', () => {
  it.each(['/login/acme', '/login/acme?return_to=/oidc/interaction/abc', '/invite/acme?token=abc', '/account/acme', '/login/acme/magic-link', '/setup/some-one-time-token'])('ID-4 %s is an accessible HTML page that holds under the CSP', async (url) => {
    const response = await call({ method: 'GET', url });
    expect(response.statusCode).toBe(200);
    const tags = expectCspSafePage(response);
    expect(bodyData(tags, 'tenant')).toBe(url.startsWith('/setup/') ? 'demo' : 'acme');
    // Every referenced asset is served from the allowlist with the right type.
    for (const tag of tags.filter((t) => (t.name === 'script' && t.attributes.has('src')) || (t.name === 'link' && t.attributes.get('rel') === 'stylesheet'))) {
      const asset = await call({ method: 'GET', url: tag.attributes.get('src') ?? tag.attributes.get('href')! });
      expect(asset.statusCode).toBe(200);
      expect(asset.headers['content-type']).toMatch(tag.name === 'script' ? /^text\/javascript/ : /^text\/css/);
      expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(asset.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('the login page goes to a safe return_to, or to the account page', async () => {
    const safe = scanTags((await call({ method: 'GET', url: '/login/acme?return_to=%2Foidc%2Finteraction%2Fuid-1' })).body);
    expect(bodyData(safe, 'return-to')).toBe('/oidc/interaction/uid-1');
    expect(bodyData(safe, 'login-url')).toBe('/login/acme?return_to=%2Foidc%2Finteraction%2Fuid-1');
    for (const evil of ['//evil.com', '/\\evil.com', 'https://evil', '%2F%2Fevil', '/%2F%2Fevil', '/\t/evil.com', '/\n/evil.com']) {
      const response = await call({ method: 'GET', url: `/login/acme?return_to=${encodeURIComponent(evil)}` });
      expect(response.statusCode).toBe(200);
      expect(bodyData(scanTags(response.body), 'return-to'), evil).toBe('/account/acme');
      expect(response.body).not.toContain('evil');
    }
    // Two return_to parameters: neither is trusted.
    const doubled = await call({ method: 'GET', url: '/login/acme?return_to=/a&return_to=/b' });
    expect(bodyData(scanTags(doubled.body), 'return-to')).toBe('/account/acme');
  });

  it('a tenant name or return_to carrying markup stays inert text', async () => {
    const response = await call({ method: 'GET', url: `/login/evil?return_to=${encodeURIComponent('/x"><script>alert(1)</script>')}` });
    expect(response.statusCode).toBe(200);
    const tags = expectCspSafePage(response);
    expect(response.body).not.toContain('<script>alert');
    expect(response.body).not.toContain('<img src=x');
    expect(response.body).toContain('&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt; &amp; &quot;Co&quot;');
    expect(tags.filter((t) => t.name === 'img')).toHaveLength(1); // the QR image placeholder only
    expect(bodyData(tags, 'return-to')).toBe('/x"><script>alert(1)</script>');
    expect(tags.find((t) => t.name === 'h1')).toBeDefined();
  });

  it.each(['/login/nope', '/login/Not_A_Slug', '/invite/nope?token=x', '/account/nope', '/login/nope/magic-link', `/login/${'a'.repeat(70)}`])('an unknown tenant gets a 404 page: %s', async (url) => {
    const response = await call({ method: 'GET', url });
    expect(response.statusCode).toBe(404);
    expectCspSafePage(response);
    expect(response.body).toContain('Page not found');
  });

  it('a suspended tenant looks unknown', async () => {
    const dormant = await rampart.createTenant({ slug: 'dormant', name: 'Dormant' });
    await rampart.db.owner.updateTable('tenants').set({ status: 'suspended' }).where('id', '=', dormant.id).execute();
    expect((await call({ method: 'GET', url: '/login/dormant' })).statusCode).toBe(404);
    expect((await call({ method: 'GET', url: '/login/dormant/state' })).statusCode).toBe(404);
  });
});

describe('login assets', () => {
  it('serve an allowlist only: names outside it, traversal and prototype keys are 404', async () => {
    for (const name of ['nope.js', '..%2F..%2Fpackage.json', '%2e%2e%2fassets.ts', 'assets.ts', 'login.css%00.js', '__proto__', 'constructor', 'LOGIN.CSS', 'login.css.map']) {
      const response = await call({ method: 'GET', url: `/assets/login/${name}` });
      expect(response.statusCode, name).toBe(404);
      expect(response.body).not.toMatch(/"name"\s*:\s*"rampart"|import /);
    }
    expect((await call({ method: 'GET', url: '/assets/login/../../package.json' })).statusCode).toBe(404);
  });

  it('an unversioned or stale URL is cached briefly; the SimpleWebAuthn bundle is the installed one', async () => {
    const plain = await call({ method: 'GET', url: '/assets/login/login.js' });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['cache-control']).toBe('public, max-age=300');
    expect((await call({ method: 'GET', url: '/assets/login/login.js?v=stale' })).headers['cache-control']).toBe('public, max-age=300');
    const bundle = await call({ method: 'GET', url: '/assets/login/simplewebauthn-browser.js' });
    expect(bundle.statusCode).toBe(200);
    expect(bundle.headers['content-type']).toMatch(/^text\/javascript/);
    expect(bundle.body).toContain('SimpleWebAuthnBrowser');
  });
});

describe('session state for the login page', () => {
  const invite = async (email: string, role = 'member') =>
    (await createInvitation(rampart.identity.accounts, { tenantId: acme.id, actor: { type: 'system', id: 'test' }, email, role, justification: 'onboarding a new colleague' })).token;

  it('ID-4 ID-5 reports the stage and factor kinds of the caller\'s own pending session only', async () => {
    expect((await call({ method: 'GET', url: '/login/acme/state' })).json()).toEqual({ signedIn: false });
    expect((await call({ method: 'GET', url: '/login/nope/state' })).statusCode).toBe(404);

    for (const [email, role] of [['lin@acme.test', 'member'], ['root@acme.test', 'admin']] as const) {
      const token = await invite(email, role);
      expect((await call({ method: 'POST', url: '/api/v1/identity/acme/invitations/accept', payload: { token, password: PASSWORD, displayName: email } })).statusCode).toBe(201);
    }
    const member = cookiePair(await call({ method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email: 'lin@acme.test', password: PASSWORD } }));
    const state = (await call({ method: 'GET', url: '/login/acme/state', headers: { cookie: member } })).json();
    // ID-4: before the second factor, the next step and nothing about who the user is.
    expect(state).toEqual({ signedIn: true, stage: 'mfa_enrollment_required', factors: [], mfaDone: false });
    expect(JSON.stringify(state)).not.toMatch(/token|hash|secret|lin@|member|session/i);

    const admin = cookiePair(await call({ method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email: 'root@acme.test', password: PASSWORD } }));
    expect((await call({ method: 'GET', url: '/login/acme/state', headers: { cookie: admin } })).json()).toEqual({ signedIn: true, stage: 'passkey_required', factors: [], mfaDone: false });

    // The same cookie presented to another tenant's page reads as signed out.
    expect((await call({ method: 'GET', url: '/login/evil/state', headers: { cookie: member } })).json()).toEqual({ signedIn: false });
    // After sign-out the cookie is worth nothing.
    await call({ method: 'POST', url: '/api/v1/identity/sign-out', headers: { cookie: member } });
    expect((await call({ method: 'GET', url: '/login/acme/state', headers: { cookie: member } })).json()).toEqual({ signedIn: false });
  });
});
