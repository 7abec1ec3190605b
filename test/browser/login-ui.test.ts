/// <reference lib="dom" />
import { mkdir } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Rampart } from '../../src/app.js';
import type { Tenant } from '../../src/db/index.js';
import { createInvitation, totpCodeAt, totpStep } from '../../src/identity/index.js';
import { freePort } from '../support/process.js';
import { testRampart } from '../support/rampart.js';
import { addPasskeyAuthenticator, launchChromium } from './chromium.js';

const chromiumPath = inject('chromiumPath');
const PASSWORD = 'violet-harbour-lantern-88';

type Tab = { context: BrowserContext; page: Page; cspViolations: string[]; consoleErrors: string[] };

/**
 * The hosted login UI end to end in Debian's Chromium with a CDP virtual authenticator (ID-4,
 * ID-5, ID-6, ID-10): invite -> password -> forced TOTP enrollment (the code computed here from
 * the key the page shows) -> recovery codes -> account page -> add a passkey -> sign out -> sign in
 * with the passkey -> account; and an admin holding only TOTP cannot finish a sign-in with it.
 * Every page runs under the production CSP; the test fails on any CSP violation.
 */
describe.skipIf(!chromiumPath)('hosted login UI in a real browser', () => {
  let rampart: Rampart;
  let acme: Tenant;
  let origin: string;
  let browser: Browser;
  const tabs: Tab[] = [];

  const invite = async (email: string, role: string) =>
    (await createInvitation(rampart.identity.accounts, { tenantId: acme.id, actor: { type: 'system', id: 'test' }, email, role, justification: 'onboarding a new colleague' })).token;

  async function openTab(): Promise<Tab> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const tab: Tab = { context, page, cspViolations: [], consoleErrors: [] };
    // Reported from the page itself (the init script is injected by the driver, outside the page's CSP).
    await page.exposeBinding('__reportCsp', (_source, line: string) => void tab.cspViolations.push(line));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        (window as unknown as { __reportCsp(line: string): void }).__reportCsp(`${event.violatedDirective} ${event.blockedURI}`);
      });
    });
    page.on('console', (message) => {
      if (message.type() === 'error') tab.consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => void tab.consoleErrors.push(`pageerror: ${error.message}`));
    await addPasskeyAuthenticator(page);
    tabs.push(tab);
    return tab;
  }

  /** A member who enrolled TOTP through the API; returns the secret and the step its code was used at. */
  async function memberWithTotp(email: string) {
    const api = rampart.server.app;
    const token = await invite(email, 'member');
    expect((await api.inject({ method: 'POST', url: '/api/v1/identity/acme/invitations/accept', payload: { token, password: PASSWORD, displayName: email } })).statusCode).toBe(201);
    const signIn = await api.inject({ method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email, password: PASSWORD } });
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    const secret: string = (await api.inject({ method: 'POST', url: '/api/v1/identity/totp/enroll', headers: { cookie } })).json().secret;
    const step = totpStep(new Date());
    const confirmed = await api.inject({ method: 'POST', url: '/api/v1/identity/totp/confirm', headers: { cookie }, payload: { code: totpCodeAt({ secret, step }) } });
    return { secret, step, stage: confirmed.json().stage as string };
  }

  const visible = (page: Page, selector: string) => page.locator(selector).waitFor({ state: 'visible', timeout: 20_000 });
  const tenantStatus = (page: Page) => page.evaluate(async () => (await fetch('/api/v1/tenant', { credentials: 'same-origin' })).status);

  beforeAll(async () => {
    const port = await freePort('127.0.0.1');
    origin = `http://localhost:${port}`;
    rampart = await testRampart({ configOverrides: { http: { publicUrl: origin } } });
    acme = await rampart.createTenant({ slug: 'acme', name: 'Acme Inc.' });
    await rampart.server.app.listen({ host: '127.0.0.1', port });
    browser = await launchChromium(chromiumPath!);
  });
  afterAll(async () => {
    for (const tab of tabs) await tab.context.close().catch(() => undefined);
    await browser?.close();
    await rampart?.close();
  });

  it('ID-4 ID-6 invite -> password -> forced TOTP -> recovery codes -> account -> passkey -> sign out -> passkey sign-in', async () => {
    const { page, cspViolations, consoleErrors } = await openTab();
    const token = await invite('lin@acme.test', 'member');

    await page.goto(`${origin}/invite/acme?token=${encodeURIComponent(token)}`);
    expect(await page.evaluate(() => window.isSecureContext)).toBe(true);
    // A policy violation is reported in the alert region, which takes focus.
    await page.fill('#display-name', 'Lin Example');
    await page.fill('#new-password', 'password1234');
    await page.click('#form-invite button[type=submit]');
    await page.waitForFunction(() => document.getElementById('error')?.textContent?.includes('common'));
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('error');
    expect(await page.getAttribute('#new-password', 'aria-invalid')).toBe('true');

    await page.fill('#new-password', PASSWORD);
    await page.click('#form-invite button[type=submit]');
    // The login page takes over and forces enrollment before anything else (ID-4).
    await page.waitForURL(/\/login\/acme\?return_to=%2Faccount%2Facme$/);
    await visible(page, '#step-enroll');
    await page.waitForFunction(() => (document.getElementById('enroll-secret')?.textContent ?? '').length >= 16);
    expect(await page.getAttribute('#enroll-qr', 'src')).toMatch(/^data:image\/(png|svg\+xml);base64,/);
    expect(await tenantStatus(page)).toBe(401);
    const secret = (await page.textContent('#enroll-secret'))!.trim();

    await page.fill('#enroll-code', '000000');
    await page.click('#form-enroll button[type=submit]');
    await page.waitForFunction(() => (document.getElementById('error')?.textContent ?? '') !== '');
    await page.fill('#enroll-code', totpCodeAt({ secret, step: totpStep(new Date()) }));
    await page.click('#form-enroll button[type=submit]');
    await visible(page, '#step-recovery-codes');
    const codes = await page.locator('#recovery-codes li').allTextContents();
    expect(codes).toHaveLength(10);
    await page.check('#saved');
    await page.click('#form-saved button[type=submit]');

    await page.waitForURL(`${origin}/account/acme`);
    await visible(page, '#account');
    expect(await page.textContent('#who-email')).toBe('lin@acme.test');
    expect(await page.textContent('#who-name')).toBe('Lin Example');
    await page.locator('#session-list li').first().waitFor();
    expect(await page.locator('#session-list li .current').allTextContents()).toEqual(['This browser']);
    expect(await tenantStatus(page)).toBe(200);

    // Add a passkey from the account page (the session completed MFA with TOTP).
    await page.fill('#passkey-name', 'Virtual key');
    await page.click('#form-add-passkey button[type=submit]');
    await page.waitForFunction(() => document.getElementById('status')?.textContent?.includes('added'));
    await mkdir('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/login-ui-account.png', fullPage: true });

    await page.click('#sign-out');
    await page.waitForURL(/\/login\/acme\?return_to=%2Faccount%2Facme$/);
    await visible(page, '#step-password');
    expect(await tenantStatus(page)).toBe(401);

    if (await page.locator('#passkey-sign-in').count()) {
      // Username-less: the discoverable passkey alone, with user verification (ID-4 counts it as MFA).
      await page.click('#passkey-sign-in');
    } else {
      await page.fill('#email', 'lin@acme.test');
      await page.fill('#password', PASSWORD);
      await page.click('#form-password button[type=submit]');
      await visible(page, '#step-passkey');
      await page.click('#passkey-authenticate');
    }
    await page.waitForURL(`${origin}/account/acme`);
    await visible(page, '#account');
    expect(await tenantStatus(page)).toBe(200);
    const session = await rampart.db.owner.selectFrom('sessions').select(['acr', 'amr']).where('revoked_at', 'is', null).where('stage', '=', 'ok').orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    expect(session.acr).toBe('urn:rampart:acr:phr');

    // OIDC prompt=login: the existing session does not count; the user signs in afresh.
    await page.goto(`${origin}/login/acme?return_to=%2Faccount%2Facme&prompt=login`);
    await visible(page, '#step-password');
    expect(await page.textContent('#status')).toMatch(/sign in again/);
    expect(await tenantStatus(page)).toBe(401);
    await page.click('#passkey-sign-in');
    await page.waitForURL(`${origin}/account/acme`);
    await visible(page, '#account');

    // Sign out everywhere ends this browser's session too.
    await page.click('#sign-out-everywhere');
    await page.waitForURL(/\/login\/acme/);
    expect(await tenantStatus(page)).toBe(401);

    expect(cspViolations).toEqual([]);
    expect(consoleErrors.filter((line) => /Content Security Policy|pageerror/.test(line))).toEqual([]);
  });

  it('ID-5 an admin holding only TOTP is sent to passkey registration and cannot finish with TOTP', async () => {
    const token = await invite('root@acme.test', 'admin');
    const api = rampart.server.app;
    expect((await api.inject({ method: 'POST', url: '/api/v1/identity/acme/invitations/accept', payload: { token, password: PASSWORD, displayName: 'Root' } })).statusCode).toBe(201);
    // The admin enrolls TOTP through the API (as an older client might have).
    const signIn = await api.inject({ method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email: 'root@acme.test', password: PASSWORD } });
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    const secret: string = (await api.inject({ method: 'POST', url: '/api/v1/identity/totp/enroll', headers: { cookie } })).json().secret;
    const step = totpStep(new Date());
    const confirmed = await api.inject({ method: 'POST', url: '/api/v1/identity/totp/confirm', headers: { cookie }, payload: { code: totpCodeAt({ secret, step }) } });
    expect(confirmed.json().stage).toBe('passkey_required');

    const { page, cspViolations, consoleErrors } = await openTab();
    await page.goto(`${origin}/login/acme?return_to=${encodeURIComponent('/account/acme?from=test')}`);
    await visible(page, '#step-password');
    await page.fill('#email', 'root@acme.test');
    await page.fill('#password', PASSWORD);
    await page.click('#form-password button[type=submit]');
    await visible(page, '#step-totp');
    expect(await page.textContent('#totp-reason')).toMatch(/requires a passkey/);
    await page.fill('#totp-code', totpCodeAt({ secret, step: step + 1 }));
    await page.click('#form-totp button[type=submit]');

    // TOTP accepted, but the sign-in is not finished: the page asks for a passkey and nothing is reachable.
    await visible(page, '#step-passkey-register');
    expect(await page.textContent('#passkey-register-reason')).toMatch(/Your role can only sign in with a passkey/);
    expect(await tenantStatus(page)).toBe(401);
    expect(new URL(page.url()).pathname).toBe('/login/acme');
    await page.goto(`${origin}/account/acme`);
    await page.waitForURL(/\/login\/acme\?return_to=%2Faccount%2Facme$/);
    await visible(page, '#step-passkey-register');

    // With a passkey the sign-in completes (phishing-resistant) and goes to the return path.
    await page.goto(`${origin}/login/acme?return_to=${encodeURIComponent('/account/acme?from=test')}`);
    await visible(page, '#step-passkey-register');
    await page.click('#passkey-register');
    await page.waitForURL(`${origin}/account/acme?from=test`);
    await visible(page, '#account');
    expect(await page.textContent('#who-roles')).toBe('admin');
    expect(await tenantStatus(page)).toBe(200);
    await page.screenshot({ path: 'test-results/login-ui-admin.png', fullPage: true });

    expect(cspViolations).toEqual([]);
    expect(consoleErrors.filter((line) => /Content Security Policy|pageerror/.test(line))).toEqual([]);
  });

  it('ID-4 a sign-in link from the email opens the login page at the second factor, with its token gone from the URL', async () => {
    const { secret, step } = await memberWithTotp('mail@acme.test');
    const { page, cspViolations } = await openTab();
    await page.goto(`${origin}/login/acme`);
    await visible(page, '#step-password');
    await page.click('#magic-link');
    await page.waitForURL(/\/login\/acme\/magic-link\?return_to=/);
    await visible(page, '#step-request');
    await page.fill('#email', 'mail@acme.test');
    await page.click('#form-magic-link button[type=submit]');
    await visible(page, '#step-sent');
    await rampart.identity.mailer.idle();
    const mail = rampart.identity.mailer.outbox().find((entry) => entry.to === 'mail@acme.test');
    const link = /https?:\/\/\S+\/login\/acme\/magic-link#token=[\w.~-]+/.exec(mail?.text ?? '')?.[0];
    expect(link).toBeDefined();

    const requests: string[] = [];
    page.on('request', (request) => void requests.push(request.url()));
    await page.goto(link!.replace(/^https?:\/\/[^/]+/, origin));
    // A magic link is one factor: the second factor is still required (ID-4).
    await page.waitForURL(/\/login\/acme\?return_to=%2Faccount%2Facme$/);
    await visible(page, '#step-totp');
    const token = link!.split('#token=')[1]!;
    expect(requests.filter((url) => url.includes(token))).toEqual([]);
    expect(await tenantStatus(page)).toBe(401);
    await page.fill('#totp-code', totpCodeAt({ secret, step: step + 1 }));
    await page.click('#form-totp button[type=submit]');
    await page.waitForURL(`${origin}/account/acme`);
    await visible(page, '#account');
    expect(cspViolations).toEqual([]);
  });

  it('pages fit a 320 px wide screen in light and dark schemes, and keyboard focus is visible', async () => {
    const { page, cspViolations } = await openTab();
    await page.setViewportSize({ width: 320, height: 640 });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const path of ['/login/acme', '/invite/acme?token=x', '/login/acme/magic-link']) {
        await page.goto(`${origin}${path}`);
        await page.waitForLoadState('networkidle');
        expect(await page.evaluate(() => document.documentElement.scrollWidth), `${path} ${scheme}`).toBeLessThanOrEqual(320);
      }
    }
    await page.goto(`${origin}/login/acme`);
    await visible(page, '#step-password');
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => {
      const style = window.getComputedStyle(document.activeElement!);
      return { id: document.activeElement?.id, width: style.outlineWidth, style: style.outlineStyle };
    });
    expect(outline.style).toBe('solid');
    expect(outline.width).toBe('3px');
    await page.screenshot({ path: 'test-results/login-ui-320-dark.png', fullPage: true });
    expect(cspViolations).toEqual([]);
  });

  it('ID-10 the password form solves the proof-of-work challenge when the API asks for one', async () => {
    const token = await invite('bot-checked@acme.test', 'member');
    expect((await rampart.server.app.inject({ method: 'POST', url: '/api/v1/identity/acme/invitations/accept', payload: { token, password: PASSWORD, displayName: 'Checked' } })).statusCode).toBe(201);
    const { page, cspViolations } = await openTab();
    await page.goto(`${origin}/login/acme`);
    await visible(page, '#step-password');
    // The first sign-in attempt is refused until a challenge is solved, as the API does once traffic looks automated.
    let challenged = 0;
    await page.route('**/api/v1/identity/acme/sign-in', async (route) => {
      const body = route.request().postDataJSON() as { altcha?: string };
      if (!body.altcha) {
        challenged += 1;
        return route.fulfill({ status: 403, contentType: 'application/problem+json', body: JSON.stringify({ status: 403, code: 'forbidden', detail: 'solve the challenge and retry', challenge_required: true, challenge: 'altcha' }) });
      }
      expect(await rampart.identity.challenger.verify(body.altcha)).toBe(true);
      return route.continue();
    });
    await page.fill('#email', 'bot-checked@acme.test');
    await page.fill('#password', PASSWORD);
    await page.click('#form-password button[type=submit]');
    await visible(page, '#step-enroll');
    expect(challenged).toBe(1);
    expect(cspViolations).toEqual([]);
  });
});
