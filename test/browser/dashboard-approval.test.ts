/// <reference lib="dom" />
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Rampart } from '../../src/app.js';
import { TEMPLATES } from '../../src/apps/index.js';
import type { Tenant } from '../../src/db/index.js';
import { freePort } from '../support/process.js';
import { testRampart } from '../support/rampart.js';
import { dashboardAdminTab, enrolledMember, type AdminTab } from './admin-tab.js';
import { launchChromium } from './chromium.js';

const chromiumPath = inject('chromiumPath');
const SHOTS = 'test-results/dashboard';

/**
 * DE-4 in the dashboard with approvals on (`apps.requireApproval`, what production always has): a
 * plan drafted in the spec editor waits; its author is offered neither Approve nor Apply; a second
 * admin, in a browser of her own, approves it; then it applies and the field is there. Both tabs
 * run under the server's CSP and the test fails on any violation.
 */
describe.skipIf(!chromiumPath)('dashboard plan approval by a second admin in a real browser', () => {
  let rampart: Rampart;
  let acme: Tenant;
  let origin: string;
  let browser: Browser;
  let ada: AdminTab;
  let bea: AdminTab;

  beforeAll(async () => {
    execFileSync(process.execPath, ['web/build-if-stale.mjs'], { stdio: 'inherit' });
    await mkdir(SHOTS, { recursive: true });
    const port = await freePort('127.0.0.1');
    origin = `http://localhost:${port}`;
    rampart = await testRampart({ configOverrides: { http: { publicUrl: origin }, apps: { requireApproval: true } } });
    acme = await rampart.createTenant({ slug: 'acme', name: 'Acme Inc.' });
    // With approvals on, even the template goes through a plan, an approval and an apply.
    const justification = 'install the CRM template';
    const plan = await rampart.apps.plan({ tenantId: acme.id, actor: { type: 'system', id: 'setup-author' }, spec: TEMPLATES.crm, justification });
    await expect(rampart.apps.apply({ tenantId: acme.id, actor: { type: 'system', id: 'setup-author' }, planId: plan.id, justification })).rejects.toThrow(/approval of a second admin/);
    await rampart.apps.approve({ tenantId: acme.id, actor: { type: 'system', id: 'setup-reviewer' }, planId: plan.id, justification });
    await rampart.apps.apply({ tenantId: acme.id, actor: { type: 'system', id: 'setup-author' }, planId: plan.id, justification });
    const adaTotp = await enrolledMember(rampart, acme, 'ada@acme.test', 'Ada Admin');
    const beaTotp = await enrolledMember(rampart, acme, 'bea@acme.test', 'Bea Admin');
    await rampart.server.app.listen({ host: '127.0.0.1', port });
    browser = await launchChromium(chromiumPath!);
    ada = await dashboardAdminTab({ browser, origin, tenant: acme, email: 'ada@acme.test', totp: adaTotp });
    bea = await dashboardAdminTab({ browser, origin, tenant: acme, email: 'bea@acme.test', totp: beaTotp });
  });
  afterAll(async () => {
    for (const tab of [ada, bea]) await tab?.context.close().catch(() => undefined);
    await browser?.close();
    await rampart?.close();
  });

  const openEditor = async ({ page }: AdminTab) => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'App builder' }).click();
    await page.getByRole('heading', { level: 1, name: 'App builder' }).waitFor({ timeout: 20_000 });
    await page.click('[data-testid=edit-app-crm]');
    await page.getByRole('heading', { level: 1, name: /^Edit / }).waitFor({ timeout: 20_000 });
  };
  const planRow = ({ page }: AdminTab) => page.locator('[data-testid=plans] li').first();
  const version = async () => (await rampart.apps.installedApp(acme.id, 'crm'))?.version;
  const planEvents = async () =>
    (await rampart.db.owner.selectFrom('audit_events').select(['action', 'actor_id']).where('chain', '=', acme.id).where('action', 'like', 'app.plan.%').orderBy('seq').execute()).map((e) => `${e.action} ${e.actor_id}`);

  it('DE-4 the author submits a plan; it waits, she can neither approve nor apply it; a second admin approves; then it applies', async () => {
    // Ada drafts: a new field on Companies, checked and previewed, then submitted for approval.
    const { page } = ada;
    await openEditor(ada);
    await page.selectOption('[data-testid=resource-select]', { label: 'Companies' });
    await page.fill('input[name=new-field-name]', 'employee_count');
    await page.selectOption('select[name=new-field-type]', 'integer');
    await page.selectOption('select[name=new-field-class]', 'internal');
    await page.click('[data-testid=add-field] button[type=submit]');
    await page.locator('tr[data-field-row=employee_count]').waitFor({ timeout: 20_000 });
    await page.fill('textarea[name=justification]', 'Sales asked to track company size');
    await page.click('[data-testid=preview-plan]');
    await page.locator('[data-testid=plan-steps]').waitFor({ timeout: 20_000 });
    expect(await page.textContent('[data-testid=apply-plan]')).toBe('Submit plan for approval');
    await page.click('[data-testid=apply-plan]');
    await page.locator('[data-testid=plan-result]').waitFor({ timeout: 20_000 });
    expect(await page.textContent('[data-testid=plan-result]')).toMatch(/Plan pending.*waits for a second admin/);
    await expect.poll(() => planRow(ada).textContent()).toMatch(/v1 → v2.*pending/);
    // The author is offered neither button (the server would refuse both).
    expect(await planRow(ada).getByRole('button').count()).toBe(0);
    expect(await version()).toBe(1);
    await page.screenshot({ path: `${SHOTS}/23-plan-waiting.png`, fullPage: true });

    // Bea, in her own browser, sees the plan and approves it with a reason.
    await openEditor(bea);
    await expect.poll(() => planRow(bea).textContent()).toMatch(/pending/);
    expect(await planRow(bea).getByRole('button', { name: 'Apply' }).count()).toBe(0);
    await bea.page.fill('[data-testid=plans-justification] textarea[name=justification]', 'Reviewed the new column: additive, internal data');
    await planRow(bea).getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => planRow(bea).textContent()).toMatch(/approved/);
    expect(await version()).toBe(1);
    await bea.page.screenshot({ path: `${SHOTS}/24-plan-approved.png`, fullPage: true });

    // Back in Ada's tab, the approved plan can be applied; the field is in the form.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: /^Edit / }).waitFor({ timeout: 20_000 });
    await expect.poll(() => planRow(ada).textContent()).toMatch(/approved/);
    expect(await planRow(ada).getByRole('button', { name: 'Approve' }).count()).toBe(0);
    await page.fill('[data-testid=plans-justification] textarea[name=justification]', 'Applying the approved company size column');
    await planRow(ada).getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => planRow(ada).textContent()).toMatch(/applied/);
    expect(await version()).toBe(2);
    await page.goto(`${origin}/dashboard/apps/crm/company/new`);
    await page.locator('input[name=employee_count]').waitFor({ timeout: 20_000 });

    const [adaId, beaId] = await Promise.all(['ada@acme.test', 'bea@acme.test'].map(async (email) => (await rampart.db.owner.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow()).id));
    // Audited in order, each under the person who did it (the template's own plan came first).
    expect((await planEvents()).filter((line) => !line.includes('setup-'))).toEqual([`app.plan.created ${adaId}`, `app.plan.approved ${beaId}`, `app.plan.step_applied ${adaId}`, `app.plan.applied ${adaId}`]);
    for (const tab of [ada, bea]) {
      expect(tab.cspViolations).toEqual([]);
      expect(tab.pageErrors).toEqual([]);
    }
  });
});
