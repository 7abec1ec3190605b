/// <reference lib="dom" />
import { readFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Rampart } from '../../src/app.js';
import type { Tenant } from '../../src/db/index.js';
import { defineRoute } from '../../src/http/index.js';
import { createInvitation, finishPasskeyRegistration, PASSKEY_CHALLENGE_TTL_MS } from '../../src/identity/index.js';
import { freePort } from '../support/process.js';
import { testRampart } from '../support/rampart.js';
import { addPasskeyAuthenticator, launchChromium } from './chromium.js';

const chromiumPath = inject('chromiumPath');
const PASSWORD = 'violet-harbour-lantern-88';
const BUNDLE = fileURLToPath(new URL('../../node_modules/@simplewebauthn/browser/dist/bundle/index.umd.min.js', import.meta.url));

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rampart passkeys</title>
<script src="/passkey-test/simplewebauthn.js"></script>
<script src="/passkey-test/app.js"></script>
</head><body><h1>Rampart passkeys</h1><ol id="log"></ol></body></html>`;

/** The page logic, served from 'self' (the CSP forbids inline scripts). */
const APP = `
const { startRegistration, startAuthentication } = SimpleWebAuthnBrowser;
const log = (line) => { const li = document.createElement('li'); li.textContent = line; document.getElementById('log').append(li); };
async function post(url, body) {
  const init = { method: 'POST', credentials: 'same-origin' };
  if (body !== undefined) { init.headers = { 'content-type': 'application/json' }; init.body = JSON.stringify(body); }
  const response = await fetch(url, init);
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  log(url + ' -> ' + response.status + (json && json.stage ? ' ' + json.stage : ''));
  return { status: response.status, body: json };
}
window.passkeys = {
  signIn: (email, password) => post('/api/v1/identity/acme/sign-in', { email, password }),
  signOut: () => post('/api/v1/identity/sign-out'),
  async tenant() { const r = await fetch('/api/v1/tenant', { credentials: 'same-origin' }); log('/api/v1/tenant -> ' + r.status); return r.status; },
  async createCredential() { const options = await post('/api/v1/identity/passkeys/register/options'); return startRegistration({ optionsJSON: options.body }); },
  verifyRegistration: (response) => post('/api/v1/identity/passkeys/register/verify', { response, name: 'Virtual key' }),
  async getAssertion() {
    const options = await post('/api/v1/identity/passkeys/authenticate/options');
    if (options.status !== 200) throw new Error('options ' + options.status);
    return startAuthentication({ optionsJSON: options.body });
  },
  verifyAssertion: (response) => post('/api/v1/identity/passkeys/authenticate/verify', { response }),
};
`;

type Demo = {
  signIn(email: string, password: string): Promise<{ status: number; body: { stage?: string; detail?: string } }>;
  signOut(): Promise<{ status: number }>;
  tenant(): Promise<number>;
  createCredential(): Promise<RegistrationResponseJSON>;
  verifyRegistration(response: RegistrationResponseJSON): Promise<{ status: number; body: { stage?: string; detail?: string } }>;
  getAssertion(): Promise<AuthenticationResponseJSON>;
  verifyAssertion(response: AuthenticationResponseJSON): Promise<{ status: number; body: { stage?: string; detail?: string } }>;
};
declare global {
  interface Window {
    passkeys: Demo;
  }
}

/**
 * ID-4, ID-5 end to end in Debian's Chromium with a CDP virtual authenticator (CTAP2, internal,
 * resident keys, user verification): an invited admin signs in with a password, registers a
 * passkey, reaches data, signs out and signs in again with the passkey. WebAuthn needs a secure
 * context: `http://localhost` is one, and the relying party is `localhost` on that origin.
 */
describe.skipIf(!chromiumPath)('passkeys in a real browser (virtual authenticator)', () => {
  let rampart: Rampart;
  let acme: Tenant;
  let origin: string;
  let browser: Browser;
  let page: Page;
  let cdp: CDPSession;
  let authenticatorId: string;
  const email = 'ada@acme.test';

  const sessionToken = async () => (await page.context().cookies(origin)).find((c) => c.name === '__Host-rampart_session')?.value ?? '';

  beforeAll(async () => {
    const port = await freePort('127.0.0.1');
    origin = `http://localhost:${port}`;
    const bundle = await readFile(BUNDLE, 'utf8');
    rampart = await testRampart({
      configOverrides: { http: { publicUrl: origin } },
      routes: [
        defineRoute({ method: 'GET', url: '/passkey-test/page', auth: { public: true }, handler: async ({ reply }) => reply.type('text/html; charset=utf-8').send(PAGE) }),
        defineRoute({ method: 'GET', url: '/passkey-test/simplewebauthn.js', auth: { public: true }, handler: async ({ reply }) => reply.type('text/javascript').send(bundle) }),
        defineRoute({ method: 'GET', url: '/passkey-test/app.js', auth: { public: true }, handler: async ({ reply }) => reply.type('text/javascript').send(APP) }),
      ],
    });
    expect(rampart.identity.accounts.webauthn).toMatchObject({ rpId: 'localhost', origins: [origin] });
    acme = await rampart.createTenant({ slug: 'acme', name: 'Acme' });
    await rampart.server.app.listen({ host: '127.0.0.1', port });
    browser = await launchChromium(chromiumPath!);
    page = await browser.newPage();
    ({ cdp, authenticatorId } = await addPasskeyAuthenticator(page));
    const response = await page.goto(`${origin}/passkey-test/page`);
    expect(response?.status()).toBe(200);
    expect(await page.evaluate(() => window.isSecureContext)).toBe(true);

    const { token } = await createInvitation(rampart.identity.accounts, { tenantId: acme.id, actor: { type: 'system', id: 'test' }, email, role: 'admin', justification: 'onboarding the new administrator' });
    const accepted = await rampart.server.app.inject({ method: 'POST', url: '/api/v1/identity/acme/invitations/accept', payload: { token, password: PASSWORD, displayName: 'Ada' } });
    expect(accepted.statusCode).toBe(201);
  });
  afterAll(async () => {
    await browser?.close();
    await rampart?.close();
  });

  it('ID-5 an admin with only a password is sent to passkey registration and reaches no data', async () => {
    const signIn = await page.evaluate(([e, p]) => window.passkeys.signIn(e!, p!), [email, PASSWORD]);
    expect(signIn.status).toBe(200);
    expect(signIn.body.stage).toBe('passkey_required');
    expect(await page.evaluate(() => window.passkeys.tenant())).toBe(401);
  });

  it('a registration response is refused from a foreign origin, once its challenge is used, and after 5 minutes', async () => {
    const accounts = rampart.identity.accounts;
    // Wrong origin: the relying party expects another origin than the one the browser signed.
    const foreign = await page.evaluate(() => window.passkeys.createCredential());
    const elsewhere = { ...accounts, webauthn: { ...accounts.webauthn!, origins: ['https://rampart.example'] } };
    await expect(finishPasskeyRegistration(elsewhere, { token: await sessionToken(), response: foreign })).rejects.toMatchObject({ code: 'validation_failed' });
    // The refusal consumed the challenge: the same response, now at the right origin, is refused.
    const replay = await page.evaluate((r) => window.passkeys.verifyRegistration(r), foreign);
    expect(replay.status).toBe(400);

    // Expired: the same ceremony five minutes and a second later.
    const late = await page.evaluate(() => window.passkeys.createCredential());
    const later = { ...accounts, clock: { now: () => new Date(Date.now() + PASSKEY_CHALLENGE_TTL_MS + 1000) } };
    await expect(finishPasskeyRegistration(later, { token: await sessionToken(), response: late })).rejects.toMatchObject({ code: 'validation_failed' });

    const events = await rampart.db.owner.selectFrom('audit_events').select(['action', 'diff']).where('chain', '=', acme.id).where('action', '=', 'identity.mfa.passkey.registration_failed').execute();
    expect(events.map((e) => (e.diff as { reason: { after: string } }).reason.after)).toEqual(['origin', 'no_challenge', 'no_challenge']);
  });

  it('ID-4 ID-5 register a passkey -> ok (phishing-resistant) -> data; sign out; passkey sign-in -> ok', async () => {
    const registration = await page.evaluate(() => window.passkeys.createCredential());
    const registered = await page.evaluate((r) => window.passkeys.verifyRegistration(r), registration);
    expect(registered.status).toBe(200);
    expect(registered.body.stage).toBe('ok');
    expect(await page.evaluate(() => window.passkeys.tenant())).toBe(200);
    const session = await rampart.db.owner.selectFrom('sessions').select(['acr', 'amr', 'stage']).where('revoked_at', 'is', null).where('stage', '=', 'ok').executeTakeFirstOrThrow();
    expect(session.acr).toBe('urn:rampart:acr:phr');
    expect(session.amr).toEqual(expect.arrayContaining(['pwd', 'swk', 'mfa']));

    expect((await page.evaluate(() => window.passkeys.signOut())).status).toBeLessThan(300);
    expect(await page.evaluate(() => window.passkeys.tenant())).toBe(401);

    const again = await page.evaluate(([e, p]) => window.passkeys.signIn(e!, p!), [email, PASSWORD]);
    expect(again.body.stage).toBe('mfa_required');
    const assertion = await page.evaluate(() => window.passkeys.getAssertion());
    const verified = await page.evaluate((r) => window.passkeys.verifyAssertion(r), assertion);
    expect(verified.status).toBe(200);
    expect(verified.body.stage).toBe('ok');
    expect(await page.evaluate(() => window.passkeys.tenant())).toBe(200);
    await mkdir('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/passkeys.png' });

    // The assertion cannot be replayed on a new sign-in: its challenge was bound to the old session and is used.
    await page.evaluate(() => window.passkeys.signOut());
    await page.evaluate(([e, p]) => window.passkeys.signIn(e!, p!), [email, PASSWORD]);
    const replayed = await page.evaluate((r) => window.passkeys.verifyAssertion(r), assertion);
    expect(replayed.status).toBe(401);
  });

  it('a signature counter that goes backwards (a cloned authenticator) is refused', async () => {
    const stored = await rampart.db.owner.selectFrom('webauthn_credentials').select(['counter', 'public_key']).executeTakeFirstOrThrow();
    expect(Number(stored.counter)).toBeGreaterThan(0);
    // Put the virtual authenticator's counter back to 0, as a clone of an older copy would be.
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    const credential = credentials[0]!;
    await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId: credential.credentialId });
    await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: { ...credential, signCount: 0 } });

    const assertion = await page.evaluate(() => window.passkeys.getAssertion());
    const refused = await page.evaluate((r) => window.passkeys.verifyAssertion(r), assertion);
    expect(refused.status).toBe(401);
    expect(refused.body.detail).toMatch(/cloned/);
    const failed = await rampart.db.owner.selectFrom('audit_events').select('diff').where('chain', '=', acme.id).where('action', '=', 'identity.mfa.failed').execute();
    expect(failed.map((e) => (e.diff as { reason: { after: string } }).reason.after)).toEqual(['no_challenge', 'counter_regression']);

    // Nothing secret reached the audit log: no public key, no challenge.
    const events = await rampart.db.owner.selectFrom('audit_events').selectAll().where('chain', '=', acme.id).execute();
    const text = JSON.stringify(events, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    expect(text).not.toContain(Buffer.from(stored.public_key).toString('base64url'));
    const challenges = await rampart.db.owner.selectFrom('webauthn_challenges').select('challenge').execute();
    for (const { challenge } of challenges) expect(text).not.toContain(challenge);
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['identity.mfa.passkey.registered', 'identity.mfa.passkey.used']));
  });
});
