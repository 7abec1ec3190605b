/// <reference lib="dom" />
import { execFileSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Rampart } from '../../src/app.js';
import { runDrift } from '../../src/authz/index.js';
import type { Tenant } from '../../src/db/index.js';
import { totpCodeAt, totpStep } from '../../src/identity/index.js';
import { freePort } from '../support/process.js';
import { testRampart } from '../support/rampart.js';
import { followRedirects } from '../support/redirects.js';
import { enrolledMember, PASSWORD } from './admin-tab.js';
import { addPasskeyAuthenticator, launchChromium } from './chromium.js';

const chromiumPath = inject('chromiumPath');
const SHOTS = 'test-results/dashboard';

type Tab = { context: BrowserContext; page: Page; cspViolations: string[]; errors: string[]; authenticator: Awaited<ReturnType<typeof addPasskeyAuthenticator>> };

/**
 * The admin dashboard (issue 7) end to end in Debian's Chromium, against a whole Rampart on a
 * loopback port, signing in through Rampart's own OIDC provider as `rampart-dashboard` (code +
 * PKCE + DPoP; ID-1, ID-2, ID-7, ID-8). Every page runs under the server's CSP and the test fails
 * on any violation. Screenshots of the main screens go to test-results/dashboard/.
 */
describe.skipIf(!chromiumPath)('admin dashboard in a real browser', () => {
  let rampart: Rampart;
  let acme: Tenant;
  let globex: Tenant;
  let origin: string;
  let browser: Browser;
  const tabs: Tab[] = [];
  let admin: Tab;
  const totp: Record<string, { secret: string; step: number }> = {};
  const identityShift = { ms: 0 };

  /** An account with a password and TOTP, enrolled through the API (a high-privilege role still needs a passkey). */
  async function account(tenant: Tenant, email: string, role: string, name: string) {
    totp[email] = await enrolledMember(rampart, tenant, email, name, role);
  }
  /** A TOTP code never used before for this account (a code is single use per step). */
  const nextCode = (email: string) => {
    const entry = totp[email]!;
    entry.step = Math.max(entry.step + 1, totpStep(new Date()));
    return totpCodeAt({ secret: entry.secret, step: entry.step });
  };

  async function openTab(): Promise<Tab> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    const tab: Tab = { context, page, cspViolations: [], errors: [], authenticator: await addPasskeyAuthenticator(page) };
    await page.exposeBinding('__reportCsp', (_source, line: string) => void tab.cspViolations.push(line));
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        (window as unknown as { __reportCsp(line: string): void }).__reportCsp(`${event.violatedDirective} ${event.blockedURI}`);
      });
    });
    page.on('pageerror', (error) => void tab.errors.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy/.test(message.text())) tab.errors.push(message.text());
      if (message.type() === 'error') consoleErrors.set(page, [...(consoleErrors.get(page) ?? []), message.text()].slice(-20));
    });
    page.on('requestfailed', (request) => consoleErrors.set(page, [...(consoleErrors.get(page) ?? []), `request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText ?? ''}`].slice(-20)));
    tabs.push(tab);
    return tab;
  }

  /** Console errors and failed requests per page, printed when a wait times out (diagnosis of a rare CI timeout). */
  const consoleErrors = new WeakMap<Page, string[]>();
  const visible = (page: Page, selector: string) =>
    page
      .locator(selector)
      .first()
      .waitFor({ state: 'visible', timeout: 20_000 })
      .catch(async (error: Error) => {
        const body = await page.locator('body').innerText().catch(() => '(no body)');
        throw new Error(`${error.message}\nurl: ${page.url()}\nbody: ${body.slice(0, 500)}\nconsole errors / failed requests:\n${(consoleErrors.get(page) ?? []).join('\n')}`);
      });
  const shot = (page: Page, name: string) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
  const heading = (page: Page, text: string | RegExp) => page.getByRole('heading', { level: 1, name: text }).waitFor({ timeout: 20_000 });
  /** The hosted login's password and TOTP steps (the page decides what comes next). */
  async function passwordAndTotp(page: Page, email: string) {
    await visible(page, '#step-password');
    await page.fill('#email', email);
    await page.fill('#password', PASSWORD);
    await page.click('#form-password button[type=submit]');
    await visible(page, '#step-totp');
    await page.fill('#totp-code', nextCode(email));
    await page.click('#form-totp button[type=submit]');
  }
  const tokenForbidden = (tab: Tab) => expect(tab.cspViolations).toEqual([]);

  beforeAll(async () => {
    // The suite serves the real build: make sure it exists and is current.
    execFileSync(process.execPath, ['web/build-if-stale.mjs'], { stdio: 'inherit' });
    await mkdir(SHOTS, { recursive: true });
    const port = await freePort('127.0.0.1');
    origin = `http://localhost:${port}`;
    // Identity time runs ahead of the wall clock while identityShift.ms says so (the step-up test).
    rampart = await testRampart({ clock: { now: () => new Date(Date.now() + identityShift.ms) }, configOverrides: { http: { publicUrl: origin } } });
    acme = await rampart.createTenant({ slug: 'acme', name: 'Acme Inc.' });
    globex = await rampart.createTenant({ slug: 'globex', name: 'Globex Corporation' });
    for (const tenant of [acme, globex]) await rampart.apps.installTemplate({ tenantId: tenant.id, actor: { type: 'system', id: 'test' }, name: 'crm' });
    await account(acme, 'ada@acme.test', 'admin', 'Ada Admin');
    await account(globex, 'ada@globex.test', 'admin', 'Ada Admin');
    await account(globex, 'vic@globex.test', 'viewer', 'Vic Viewer');
    await rampart.server.app.listen({ host: '127.0.0.1', port });
    browser = await launchChromium(chromiumPath!);
  });
  afterAll(async () => {
    for (const tab of tabs) await tab.context.close().catch(() => undefined);
    await browser?.close();
    await rampart?.close();
  });

  it('the built app shell has no inline script or style and is served with the strict CSP', async () => {
    const html = await readFile('web/dist/index.html', 'utf8');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=/);
    const response = await fetch(`${origin}/dashboard/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
  });

  it('ID-2 ID-7 sign in with a passkey -> switch tenant -> create a CRM record -> see it in the list -> see its audit event', async () => {
    admin = await openTab();
    const { page, context } = admin;
    // Ada registers her passkey on the hosted login (an admin must, ID-5), then leaves.
    await page.goto(`${origin}/login/acme?return_to=%2Faccount%2Facme`);
    await passwordAndTotp(page, 'ada@acme.test');
    await visible(page, '#step-passkey-register');
    await page.click('#passkey-register');
    await page.waitForURL(`${origin}/account/acme`);
    // Leave the account page first: its script loads the session list and, answered 401 once the
    // cookies are gone, sends the tab to the login page, which would race the next navigation.
    await page.goto('about:blank');
    await context.clearCookies();

    // The dashboard: choose the organisation, sign in with the passkey alone.
    await page.goto(`${origin}/dashboard/`);
    await visible(page, '#start-form');
    await shot(page, '01-start');
    await page.fill('#start-form input[name=tenant]', 'acme');
    await page.click('#start-form button[type=submit]');
    await page.waitForURL(/\/login\/acme\?return_to=%2Foidc%2Finteraction%2F/);
    await visible(page, '#passkey-sign-in');
    await page.click('#passkey-sign-in');
    await page.waitForURL(`${origin}/dashboard/`);
    await heading(page, 'Acme Inc.');
    // ID-1: no token in web storage (memory only).
    expect(await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage))).not.toMatch(/access_token|refresh_token|eyJ|DPoP /);
    // Navigation comes from the installed apps.
    await expect.poll(() => page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).toEqual(expect.arrayContaining(['Companies', 'Contacts', 'Deals', 'Permissions', 'Audit log']));
    await shot(page, '02-home');

    // Switch to Globex: another account, a fresh sign-in there (password, TOTP, then a passkey for the admin).
    await page.click('[data-testid=tenant-switcher]');
    await page.click('[data-testid=tenant-other]');
    await page.fill('#switch-tenant input[name=tenant]', 'globex');
    await page.click('button[form=switch-tenant]');
    await page.waitForURL(/\/login\/globex\?return_to=/);
    await passwordAndTotp(page, 'ada@globex.test');
    await visible(page, '#step-passkey-register');
    await page.click('#passkey-register');
    await page.waitForURL(`${origin}/dashboard/`);
    await heading(page, 'Globex Corporation');

    // Create a contact; the server's validation messages appear at their fields first.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contacts' }).click();
    await heading(page, 'Contacts');
    await page.click('[data-testid=new-record]');
    await visible(page, '[data-testid=record-form]');
    await page.fill('input[name=email]', 'not-an-email');
    await page.click('[data-testid=record-form] button[type=submit]');
    await visible(page, '[data-field-error]');
    const fieldErrors = await page.locator('[data-field-error]').allTextContents();
    expect(fieldErrors).toEqual(expect.arrayContaining(['is required', 'must be an email address']));
    expect(await page.getAttribute('input[name=first_name]', 'aria-invalid')).toBe('true');
    await shot(page, '03-record-form-validation');
    await page.fill('input[name=first_name]', 'Grace');
    await page.fill('input[name=last_name]', 'Hopper');
    await page.fill('input[name=email]', 'grace@globex.test');
    await page.fill('input[name=job_title]', 'Rear admiral');
    await page.click('[data-testid=record-form] button[type=submit]');
    await page.waitForURL(/\/dashboard\/apps\/crm\/contact\/[0-9a-f-]{36}$/);
    await visible(page, '[data-field=email]');
    expect(await page.textContent('[data-field=email]')).toBe('grace@globex.test');
    const recordId = page.url().split('/').at(-1)!;
    await shot(page, '04-record-detail');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contacts' }).click();
    await expect.poll(() => page.locator('[data-testid=records-table] tbody tr').allTextContents()).toEqual([expect.stringContaining('Grace')]);
    await shot(page, '05-record-list');

    await page.goto(`${origin}/dashboard/apps/crm/contact/${recordId}`);
    await page.getByRole('link', { name: 'History' }).click();
    await page.waitForURL(/\/dashboard\/audit/);
    await expect.poll(() => page.locator('[data-testid=audit-table] tbody tr').allTextContents()).toEqual([expect.stringMatching(/app\.record.*created/)]);
    await expect.poll(() => page.textContent('[data-testid=chain-status]')).toMatch(/events hash-chained/);
    await shot(page, '06-audit-log');
    await page.locator('[data-testid=audit-table] tbody tr a').first().click();
    await visible(page, '[data-testid=audit-diff]');
    expect(await page.textContent('[data-testid=audit-diff]')).toContain('job_title');
    await shot(page, '07-audit-event');

    const stored = await rampart.db.owner.selectFrom('audit_events').select(['action', 'actor_id']).where('target_id', '=', recordId).execute();
    expect(stored).toHaveLength(1);
    tokenForbidden(admin);
    expect(admin.errors).toEqual([]);
  });

  it('AZ-2 a viewer sees no edit controls, and forged writes from the viewer’s session and token are refused by the server', async () => {
    const viewer = await openTab();
    const { page, context } = viewer;
    await page.goto(`${origin}/dashboard/`);
    await page.fill('#start-form input[name=tenant]', 'globex');
    await page.click('#start-form button[type=submit]');
    await page.waitForURL(/\/login\/globex/);
    await passwordAndTotp(page, 'vic@globex.test');
    await page.waitForURL(`${origin}/dashboard/`);
    await heading(page, 'Globex Corporation');
    const nav = await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents();
    expect(nav).toEqual(expect.arrayContaining(['Contacts']));
    expect(nav).not.toContain('Permissions');
    expect(nav).not.toContain('Audit log');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contacts' }).click();
    await heading(page, 'Contacts');
    await expect.poll(() => page.locator('[data-testid=records-table] tbody tr').count()).toBe(1);
    expect(await page.locator('[data-testid=new-record]').count()).toBe(0);
    // A viewer holds no read_pii: names and emails come masked from the server and are shown as masked.
    expect(await page.locator('[data-testid=records-table] [data-masked]').count()).toBeGreaterThan(0);
    await shot(page, '08-viewer-list');
    await page.locator('[data-testid=records-table] tbody a').first().click();
    await visible(page, '[data-field=job_title]');
    expect(await page.locator('[data-testid=edit-record], [data-testid=delete-record]').count()).toBe(0);
    await shot(page, '09-viewer-detail');

    // Forged from the viewer's browser session (the cookie the hosted login set): refused.
    const forged = await page.evaluate(async () => {
      const response = await fetch('/api/v1/apps/crm/contact', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ first_name: 'Mallory', last_name: 'Forged' }) });
      return { status: response.status, body: (await response.json()) as { code?: string } };
    });
    expect(forged).toMatchObject({ status: 403, body: { code: 'forbidden' } });

    // Forged with a token of the viewer's own, obtained as the dashboard does (same client, same scopes asked).
    const cookies = (await context.cookies(origin)).map((c) => `${c.name}=${c.value}`).join('; ');
    const token = await dashboardToken(origin, cookies, 'globex', 'openid rampart:crm__contact rampart:crm__contact:read rampart:tenant:read');
    expect(token.scope.split(' ')).toContain('rampart:crm__contact:read');
    expect(token.scope.split(' ')).not.toContain('rampart:crm__contact');
    const post = await fetch(`${origin}/api/v1/apps/crm/contact`, { method: 'POST', headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' }, body: JSON.stringify({ first_name: 'Mallory', last_name: 'Forged' }) });
    expect(post.status).toBe(403);
    const list = await fetch(`${origin}/api/v1/apps/crm/contact`, { headers: { authorization: `Bearer ${token.access_token}` } });
    expect(list.status).toBe(200);
    const count = await rampart.db.owner.selectFrom('audit_events').select('id').where('action', 'like', 'app.record%').where('tenant_id', '=', globex.id).execute();
    expect(count).toHaveLength(1);
    tokenForbidden(viewer);
    expect(viewer.errors).toEqual([]);
  });

  it('AZ-4 AZ-5 a matrix edit without a justification is refused; with one it applies and the drift report explains it', async () => {
    const { page } = admin;
    // The nightly snapshot, taken before the change.
    await runDrift({ db: rampart.db, audit: rampart.audit, tenantId: globex.id });
    await page.goto(`${origin}/dashboard/access`);
    await heading(page, 'Permissions');
    await page.selectOption('[data-testid=matrix-resource]', 'crm__deal');
    await visible(page, '[data-cell="viewer:export"]');
    expect(await page.isChecked('[data-cell="viewer:export"]')).toBe(false);
    await page.check('[data-cell="viewer:export"]');
    await page.click('[data-testid=matrix-review]');
    await visible(page, '#matrix-save');
    await shot(page, '10-matrix-review');
    await page.click('[data-testid=matrix-save]');
    await expect.poll(() => page.locator('dialog [data-field-error]').textContent()).toMatch(/at least 10 characters/);
    const grants = async () => (await rampart.authz.data(globex.id)).grants.filter((g) => g.role === 'viewer' && g.resource === 'crm__deal').map((g) => g.action).sort();
    expect(await grants()).toEqual(['list', 'read']);

    await page.fill('dialog textarea[name=justification]', 'Viewers prepare the quarterly pipeline export for the board');
    await page.click('[data-testid=matrix-save]');
    await visible(page, 'text=Saved 1 change on crm__deal.');
    expect(await grants()).toEqual(['export', 'list', 'read']);
    await shot(page, '11-matrix');

    await page.getByRole('link', { name: 'Drift report' }).first().click();
    await heading(page, 'Drift report');
    await page.click('[data-testid=run-drift]');
    const row = page.locator('[data-grant="viewer/crm__deal/export"]');
    await row.waitFor({ timeout: 20_000 });
    expect(await row.getAttribute('data-explained')).toBe('true');
    await expect.poll(() => row.textContent()).toContain('Viewers prepare the quarterly pipeline export for the board');
    expect(await page.locator('[data-testid=drift-diff] li').count()).toBe(1);
    await shot(page, '12-drift');
    tokenForbidden(admin);
    expect(admin.errors).toEqual([]);
  });

  it('ID-7 a stale passkey sign-in: a permission change asks for the passkey, signs in again at the provider and is sent once on return', async () => {
    const { page } = admin;
    const grants = async () => (await rampart.authz.data(globex.id)).grants.filter((g) => g.role === 'viewer' && g.resource === 'crm__company').map((g) => g.action).sort();
    const changes = () => rampart.db.owner.selectFrom('audit_events').select('id').where('tenant_id', '=', globex.id).where('action', '=', 'authz.matrix.updated').where('target_id', '=', 'viewer/crm__company').execute();
    await page.goto(`${origin}/dashboard/access`);
    await heading(page, 'Permissions');
    await page.selectOption('[data-testid=matrix-resource]', 'crm__company');
    await visible(page, '[data-cell="viewer:export"]');
    expect(await grants()).toEqual(['list', 'read']);
    // On the server's identity clock the admin's passkey sign-in is now six minutes old; a
    // permission change allows five (ROLE_GRANT_STEP_UP).
    identityShift.ms = 6 * 60_000;
    await page.check('[data-cell="viewer:export"]');
    await page.click('[data-testid=matrix-review]');
    await visible(page, '#matrix-save');
    await page.fill('dialog textarea[name=justification]', 'Viewers export the company list for the yearly audit');
    await page.click('[data-testid=matrix-save]');
    await visible(page, '[data-testid=step-up-confirm]');
    await shot(page, '12b-step-up');
    expect(await grants()).toEqual(['list', 'read']);
    expect(await changes()).toHaveLength(0);

    // A fresh passkey sign-in at the provider, then back to the page, where the change is sent once.
    // This browser holds two passkeys for the origin (Ada's at Acme and at Globex): a person picks
    // Globex's in the browser's chooser, the virtual authenticator would take the first; so it
    // holds only Globex's for the ceremony.
    identityShift.ms = 0;
    const { cdp, authenticatorId } = admin.authenticator;
    const globexCredentials = new Set((await rampart.db.owner.selectFrom('webauthn_credentials').select('credential_id').where('tenant_id', '=', globex.id).execute()).map((row) => row.credential_id));
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    const others = credentials.filter((credential) => !globexCredentials.has(Buffer.from(credential.credentialId, 'base64').toString('base64url')));
    expect(others).toHaveLength(credentials.length - 1);
    for (const credential of others) await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId: credential.credentialId });
    await page.click('[data-testid=step-up-confirm]');
    await page.waitForURL(/\/login\/globex\?return_to=%2Foidc%2Finteraction%2F/);
    await visible(page, '#passkey-sign-in');
    await page.click('#passkey-sign-in');
    await page.waitForURL(`${origin}/dashboard/access`);
    await visible(page, '[data-testid=replay-result]');
    expect(await page.textContent('[data-testid=replay-result]')).toContain('Done.');
    await shot(page, '12c-step-up-replayed');
    for (const credential of others) await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
    expect(await grants()).toEqual(['export', 'list', 'read']);
    expect(await changes()).toHaveLength(1);
    // Nothing is left waiting in the tab: a reload sends nothing again.
    expect(await page.evaluate(() => Object.keys(sessionStorage).filter((key) => /pending/i.test(key) && sessionStorage.getItem(key)))).toEqual([]);
    tokenForbidden(admin);
    expect(admin.errors).toEqual([]);
  });

  it('AZ-2 AZ-5 the organisation’s Cedar policies: listed as written, Cedar’s own message at a bad policy, added and removed with a reason', async () => {
    const { page } = admin;
    const stored = async () => (await rampart.authz.data(globex.id)).policies.map((p) => p.id);
    await page.goto(`${origin}/dashboard/access`);
    await heading(page, 'Permissions');
    await visible(page, '[data-testid=no-cedar-policies]');
    const form = page.locator('[data-testid=policy-form]');
    await form.locator('input[name=policy-id]').fill('no-apac-deals-for-viewers');
    await form.locator('input[name=policy-description]').fill('Viewers stay out of APAC deals');
    await form.locator('textarea[name=policy-cedar]').fill('forbid (principal, action, resource is Spaceship);');
    await form.locator('textarea[name=justification]').fill('APAC deals are under embargo for viewers this quarter');
    await form.locator('[data-testid=save-policy]').click();
    await visible(page, '[data-testid=policy-form] [data-field-error]');
    expect(await form.locator('[data-field-error]').first().textContent()).toMatch(/Spaceship/);
    expect(await form.locator('textarea[name=policy-cedar]').getAttribute('aria-invalid')).toBe('true');
    expect(await stored()).toEqual([]);

    await form.locator('textarea[name=policy-cedar]').fill('forbid (principal in Role::"viewer", action, resource is crm__deal) when { resource has region && resource.region == "apac" };');
    await form.locator('[data-testid=save-policy]').click();
    const listed = page.locator('[data-policy="no-apac-deals-for-viewers"]');
    await listed.waitFor({ timeout: 20_000 });
    expect(await listed.locator('pre').textContent()).toContain('resource.region == "apac"');
    expect(await listed.textContent()).toContain('Viewers stay out of APAC deals');
    expect(await stored()).toEqual(['no-apac-deals-for-viewers']);
    await shot(page, '12d-cedar-policies');

    await listed.locator('[data-testid=remove-policy]').click();
    await listed.locator('textarea[name=justification]').fill('The APAC embargo for viewers has ended');
    await listed.locator('[data-testid=confirm-remove-policy]').click();
    await visible(page, '[data-testid=no-cedar-policies]');
    expect(await stored()).toEqual([]);
    const events = await rampart.db.owner.selectFrom('audit_events').select('action').where('tenant_id', '=', globex.id).where('target_id', '=', 'no-apac-deals-for-viewers').orderBy('seq').execute();
    expect(events.map((e) => e.action)).toEqual(['authz.policy.updated', 'authz.policy.deleted']);
    tokenForbidden(admin);
    expect(admin.errors).toEqual([]);
  });

  it('sessions and security keys, dark theme, a tablet width, keyboard focus; sign out ends the session (RP-initiated logout)', async () => {
    const { page } = admin;
    await page.click('[data-testid=user-menu]');
    await page.getByRole('menuitem', { name: 'Sessions and security keys' }).click();
    await heading(page, 'Sessions and security keys');
    await expect.poll(() => page.locator('[data-testid=passkey-list] li').count()).toBe(1);
    await expect.poll(() => page.locator('[data-testid=session-list] li').count()).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.fill('[data-testid=passkey-list] input', 'Laptop key');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.textContent('[data-testid=passkey-list]')).toContain('Laptop key');
    await shot(page, '13-account');

    await page.click('[data-testid=user-menu]');
    await page.getByRole('menuitemradio', { name: 'Dark' }).click();
    expect(await page.evaluate(() => document.documentElement.classList.contains('dark'))).toBe(true);
    await page.setViewportSize({ width: 768, height: 1024 });
    await page.goto(`${origin}/dashboard/apps/crm/contact`);
    await heading(page, 'Contacts');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(768);
    await shot(page, '14-tablet-dark');
    await page.keyboard.press('Tab');
    const focus = await page.evaluate(() => window.getComputedStyle(document.activeElement!).outlineStyle);
    expect(focus).toBe('solid');

    await page.click('[data-testid=user-menu]');
    await page.click('[data-testid=sign-out]');
    await page.click('button[name=logout][value=yes]');
    await page.waitForURL(`${origin}/dashboard/`);
    await visible(page, '#start-form');
    await page.getByText('You are signed out.').waitFor();
    expect(await page.evaluate(async () => (await fetch('/api/v1/me/passkeys', { credentials: 'same-origin' })).status)).toBe(401);
    tokenForbidden(admin);
    expect(admin.errors).toEqual([]);
  });
});

/** What the dashboard does, from Node: code + PKCE for `rampart-dashboard`, carrying the browser's cookies. */
async function dashboardToken(origin: string, cookies: string, tenant: string, scope: string): Promise<{ access_token: string; scope: string }> {
  const { createHash, randomBytes } = await import('node:crypto');
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const redirectUri = `${origin}/dashboard/callback`;
  const params = new URLSearchParams({ client_id: 'rampart-dashboard', response_type: 'code', redirect_uri: redirectUri, scope, state: 'forged-state-0001', code_challenge: challenge, code_challenge_method: 'S256', tenant, prompt: 'consent' });
  const target = await followRedirects(`${origin}/oidc/auth?${params}`, { cookie: cookies, landing: redirectUri });
  const code = target.searchParams.get('code');
  if (!code) throw new Error(`no code: ${target.search}`);
  const token = await fetch(`${origin}/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: 'rampart-dashboard', code_verifier: verifier }) });
  return (await token.json()) as { access_token: string; scope: string };
}
