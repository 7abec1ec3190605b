/// <reference lib="dom" />
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';
import type { Rampart } from '../../src/app.js';
import type { Tenant } from '../../src/db/index.js';
import { createInvitation, totpCodeAt, totpStep } from '../../src/identity/index.js';
import { addPasskeyAuthenticator } from './chromium.js';

export const PASSWORD = 'violet-harbour-lantern-88';

/** An invited member (admin unless said) with a password and a confirmed TOTP, through the API; returns the TOTP secret and the step used. */
export async function enrolledMember(rampart: Rampart, tenant: Tenant, email: string, name: string, role = 'admin'): Promise<{ secret: string; step: number }> {
  const api = rampart.server.app;
  const { token } = await createInvitation(rampart.identity.accounts, { tenantId: tenant.id, actor: { type: 'system', id: 'test' }, email, role, justification: 'onboarding a new colleague' });
  expect((await api.inject({ method: 'POST', url: `/api/v1/identity/${tenant.slug}/invitations/accept`, payload: { token, password: PASSWORD, displayName: name } })).statusCode).toBe(201);
  const signIn = await api.inject({ method: 'POST', url: `/api/v1/identity/${tenant.slug}/sign-in`, payload: { email, password: PASSWORD } });
  const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
  const secret: string = (await api.inject({ method: 'POST', url: '/api/v1/identity/totp/enroll', headers: { cookie } })).json().secret;
  const step = totpStep(new Date());
  expect((await api.inject({ method: 'POST', url: '/api/v1/identity/totp/confirm', headers: { cookie }, payload: { code: totpCodeAt({ secret, step }) } })).statusCode).toBe(200);
  return { secret, step };
}

export type AdminTab = { context: BrowserContext; page: Page; cspViolations: string[]; pageErrors: string[] };

/**
 * A browser context of its own (its own cookies and virtual passkey) signed in to the dashboard:
 * the hosted login with password and TOTP, the passkey registration an admin must make (ID-5),
 * then the dashboard's own sign-in with that passkey (code + PKCE + DPoP). CSP violations and page
 * errors are collected for the test to assert on.
 */
export async function dashboardAdminTab(options: { browser: Browser; origin: string; tenant: Tenant; email: string; totp: { secret: string; step: number }; viewport?: { width: number; height: number } }): Promise<AdminTab> {
  const { browser, origin, tenant, email, totp } = options;
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 } });
  const page = await context.newPage();
  const tab: AdminTab = { context, page, cspViolations: [], pageErrors: [] };
  await page.exposeBinding('__reportCsp', (_source, line: string) => void tab.cspViolations.push(line));
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      (window as unknown as { __reportCsp(line: string): void }).__reportCsp(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  page.on('pageerror', (error) => void tab.pageErrors.push(error.message));
  await addPasskeyAuthenticator(page);
  const visible = (selector: string) => page.locator(selector).first().waitFor({ state: 'visible', timeout: 20_000 });

  await page.goto(`${origin}/login/${tenant.slug}?return_to=${encodeURIComponent(`/account/${tenant.slug}`)}`);
  await visible('#step-password');
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('#form-password button[type=submit]');
  await visible('#step-totp');
  // A TOTP code is single use per step: take the next one after enrolment.
  totp.step = Math.max(totp.step + 1, totpStep(new Date()));
  await page.fill('#totp-code', totpCodeAt({ secret: totp.secret, step: totp.step }));
  await page.click('#form-totp button[type=submit]');
  await visible('#step-passkey-register');
  await page.click('#passkey-register');
  await page.waitForURL(`${origin}/account/${tenant.slug}`);
  // Leave the account page first: its script loads the session list and, answered 401 once the
  // cookies are gone, sends the tab to the login page, which would race the next navigation.
  await page.goto('about:blank');
  await context.clearCookies();
  await page.goto(`${origin}/dashboard/`);
  await visible('#start-form');
  await page.fill('#start-form input[name=tenant]', tenant.slug);
  await page.click('#start-form button[type=submit]');
  await visible('#passkey-sign-in');
  await page.click('#passkey-sign-in');
  await page.waitForURL(`${origin}/dashboard/`);
  await page.getByRole('heading', { level: 1, name: tenant.name }).waitFor({ timeout: 20_000 });
  return tab;
}
