/// <reference lib="dom" />
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Rampart } from '../../src/app.js';
import type { Tenant } from '../../src/db/index.js';
import { freePort } from '../support/process.js';
import { testRampart } from '../support/rampart.js';
import { dashboardAdminTab, enrolledMember, type AdminTab } from './admin-tab.js';
import { launchChromium } from './chromium.js';

const chromiumPath = inject('chromiumPath');
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
  let tab: AdminTab;
  let page: Page;

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
    // Ada (admin): password + TOTP through the API; her passkey is registered on the hosted login.
    const totp = await enrolledMember(rampart, acme, 'ada@acme.test', 'Ada Admin');
    await rampart.server.app.listen({ host: '127.0.0.1', port });
    browser = await launchChromium(chromiumPath!);
    tab = await dashboardAdminTab({ browser, origin, tenant: acme, email: 'ada@acme.test', totp });
    page = tab.page;
  });
  afterAll(async () => {
    await tab?.context.close().catch(() => undefined);
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
    expect(tab.cspViolations).toEqual([]);
    expect(tab.pageErrors).toEqual([]);
  });
});
