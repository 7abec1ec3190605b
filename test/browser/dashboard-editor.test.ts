/// <reference lib="dom" />
import { execFileSync } from 'node:child_process';
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
const SHOTS = 'test-results/dashboard';

/**
 * The no-code spec editor and the People screen (issue 7) in Debian's Chromium against a whole
 * Rampart (development: a plan applies as soon as it is created). DE-4: the server lints the
 * draft and previews the migration before anything runs; an invalid draft cannot be applied.
 * Every page runs under the server's CSP and the test fails on any violation.
 */
describe.skipIf(!chromiumPath)('dashboard spec editor in a real browser', () => {
  let rampart: Rampart;
  let acme: Tenant;
  let origin: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];

  const visible = (selector: string) => page.locator(selector).first().waitFor({ state: 'visible', timeout: 20_000 });
  const heading = (text: string | RegExp) => page.getByRole('heading', { level: 1, name: text }).waitFor({ timeout: 20_000 });

  beforeAll(async () => {
    execFileSync(process.execPath, ['web/build-if-stale.mjs'], { stdio: 'inherit' });
    await mkdir(SHOTS, { recursive: true });
    const port = await freePort('127.0.0.1');
    origin = `http://localhost:${port}`;
    rampart = await testRampart({ configOverrides: { http: { publicUrl: origin } } });
    acme = await rampart.createTenant({ slug: 'acme', name: 'Acme Inc.' });
    await rampart.apps.installTemplate({ tenantId: acme.id, actor: { type: 'system', id: 'test' }, name: 'crm' });
    // Ada (admin): password + TOTP through the API; her passkey is registered on the hosted login below.
    const api = rampart.server.app;
    const { token } = await createInvitation(rampart.identity.accounts, { tenantId: acme.id, actor: { type: 'system', id: 'test' }, email: 'ada@acme.test', role: 'admin', justification: 'onboarding a new colleague' });
    expect((await api.inject({ method: 'POST', url: '/api/v1/identity/acme/invitations/accept', payload: { token, password: PASSWORD, displayName: 'Ada Admin' } })).statusCode).toBe(201);
    const signIn = await api.inject({ method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email: 'ada@acme.test', password: PASSWORD } });
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    const secret: string = (await api.inject({ method: 'POST', url: '/api/v1/identity/totp/enroll', headers: { cookie } })).json().secret;
    const step = totpStep(new Date());
    expect((await api.inject({ method: 'POST', url: '/api/v1/identity/totp/confirm', headers: { cookie }, payload: { code: totpCodeAt({ secret, step }) } })).statusCode).toBe(200);
    await rampart.server.app.listen({ host: '127.0.0.1', port });
    browser = await launchChromium(chromiumPath!);

    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    await page.exposeBinding('__reportCsp', (_source, line: string) => void cspViolations.push(line));
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        (window as unknown as { __reportCsp(line: string): void }).__reportCsp(`${event.violatedDirective} ${event.blockedURI}`);
      });
    });
    page.on('pageerror', (error) => void pageErrors.push(error.message));
    await addPasskeyAuthenticator(page);

    // Hosted login: password, TOTP, passkey registration (an admin must hold one, ID-5); then the dashboard.
    await page.goto(`${origin}/login/acme?return_to=%2Faccount%2Facme`);
    await visible('#step-password');
    await page.fill('#email', 'ada@acme.test');
    await page.fill('#password', PASSWORD);
    await page.click('#form-password button[type=submit]');
    await visible('#step-totp');
    await page.fill('#totp-code', totpCodeAt({ secret, step: Math.max(step + 1, totpStep(new Date())) }));
    await page.click('#form-totp button[type=submit]');
    await visible('#step-passkey-register');
    await page.click('#passkey-register');
    await page.waitForURL(`${origin}/account/acme`);
    // Leave the account page first: its script loads the session list and, answered 401 once the
    // cookies are gone, sends the tab to the login page, which would race the next navigation.
    await page.goto('about:blank');
    await context.clearCookies();
    await page.goto(`${origin}/dashboard/`);
    await visible('#start-form');
    await page.fill('#start-form input[name=tenant]', 'acme');
    await page.click('#start-form button[type=submit]');
    await visible('#passkey-sign-in');
    await page.click('#passkey-sign-in');
    await page.waitForURL(`${origin}/dashboard/`);
    await heading('Acme Inc.');
  });
  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close();
    await rampart?.close();
  });

  it('ID-5 the People screen lists the members with their roles and factors (booleans only)', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'People and roles' }).click();
    await heading('People and roles');
    const row = page.locator('tr[data-member="ada@acme.test"]');
    await row.waitFor({ timeout: 20_000 });
    const text = await row.textContent();
    expect(text).toContain('Ada Admin');
    expect(text).toContain('admin');
    expect(text).toContain('passkey');
    expect(text).toContain('TOTP');
    expect(text).not.toContain('no passkey');
    await page.screenshot({ path: `${SHOTS}/20-people.png`, fullPage: true });
  });

  it('DE-4 add a field with a data class -> the plan preview shows the add step -> apply -> the field is in the form', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'App builder' }).click();
    await heading('App builder');
    await page.click('[data-testid=edit-app-crm]');
    await heading(/^Edit /);
    await page.selectOption('[data-testid=resource-select]', { label: 'Companies' });
    await page.fill('input[name=new-field-name]', 'employee_count');
    await page.selectOption('select[name=new-field-type]', 'integer');
    await page.selectOption('select[name=new-field-class]', 'internal');
    await page.click('[data-testid=add-field] button[type=submit]');
    await visible('tr[data-field-row=employee_count]');
    // The raw JSON view holds the same draft.
    await page.click('[data-testid=view-json]');
    expect(await page.inputValue('[data-testid=spec-json]')).toContain('"employee_count"');
    await page.click('[data-testid=view-form]');

    // Like every change to an admin resource, even the dry run carries a reason (AZ-5).
    await page.click('[data-testid=preview-plan]');
    await visible('[data-field-error]');
    await page.fill('textarea[name=justification]', 'Sales asked to track company size');
    await page.click('[data-testid=preview-plan]');
    await visible('[data-testid=plan-steps]');
    const steps = await page.locator('[data-testid=plan-steps] li').allTextContents();
    expect(steps).toEqual([expect.stringMatching(/add column.*employee_count/)]);
    expect(await page.locator('[data-testid=plan-steps] li[data-step=add_column]').count()).toBe(1);
    expect(steps.join(' ')).not.toContain('destructive');
    await page.screenshot({ path: `${SHOTS}/21-spec-editor-preview.png`, fullPage: true });

    await page.click('[data-testid=apply-plan]');
    await visible('[data-testid=plan-result]');
    expect(await page.textContent('[data-testid=plan-result]')).toMatch(/Plan applied.*Version 2 is installed/);
    expect((await rampart.apps.installedApp(acme.id, 'crm'))?.version).toBe(2);

    await page.getByRole('link', { name: /Open the Companies form/ }).click();
    await visible('[data-testid=record-form]');
    await visible('input[name=employee_count]');
  });

  it('DE-4 a field without a data class shows the linter’s finding at the field and cannot be applied', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'App builder' }).click();
    await page.click('[data-testid=edit-app-crm]');
    await heading(/^Edit /);
    await page.selectOption('[data-testid=resource-select]', { label: 'Contacts' });
    await page.fill('input[name=new-field-name]', 'birthday');
    await page.selectOption('select[name=new-field-type]', 'date');
    await page.click('[data-testid=add-field] button[type=submit]');
    await visible('tr[data-field-row=birthday]');
    await page.fill('textarea[name=justification]', 'Marketing wants birthday greetings');
    await page.click('[data-testid=preview-plan]');
    await visible('[data-testid=findings]');
    expect(await page.textContent('[data-testid=findings]')).toContain('field/no-class');
    await visible('tr[data-field-row=birthday] [data-finding=field\\/no-class]');
    expect(await page.locator('[data-testid=apply-plan]').count()).toBe(0);
    expect(await page.locator('[data-testid=plan-steps]').count()).toBe(0);
    await page.screenshot({ path: `${SHOTS}/22-spec-editor-finding.png`, fullPage: true });

    // Choosing a class fixes it: the next check is clean and offers the apply button.
    await page.selectOption('tr[data-field-row=birthday] select[aria-label="Data class of birthday"]', 'pii');
    await page.click('[data-testid=preview-plan]');
    await visible('[data-testid=plan-steps]');
    await visible('[data-testid=apply-plan]');
    expect((await rampart.apps.installedApp(acme.id, 'crm'))?.version).toBe(2);
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
