import type { InjectOptions } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { createApps, MASK, tableName, TEMPLATES, tenantKey, type Apps } from '../src/apps/index.js';
import { runDrift } from '../src/authz/index.js';
import { systemClock } from '../src/core/index.js';
import { findRlsViolations, type Tenant } from '../src/db/index.js';
import type { Principal } from '../src/http/index.js';
import { bearerAuthenticator, testRampart } from './support/rampart.js';

/**
 * The app builder end to end over HTTP on the CRM template (AZ-1, AZ-2, DA-1, DA-2, DE-4): apply in
 * development, row security on every generated table, the data API with record-level decisions,
 * masking, encryption at rest, export, plans v1 -> v2 on a populated database, a failing apply that
 * leaves nothing behind, and production approvals.
 */

const principals: Record<string, Principal> = {};
let rampart: Rampart;
let demo: Tenant;
let other: Tenant;

const user = (tenant: Tenant, name: string, roles: string[], attributes: Principal['attributes'] = {}) => {
  principals[`${tenant.slug}-${name}`] = { type: 'user', id: `${tenant.slug}-${name}`, tenantId: tenant.id, roles, attributes };
  return `${tenant.slug}-${name}`;
};

const call = (token: string | null, options: InjectOptions) =>
  rampart.server.app.inject({ ...options, headers: { ...(options.headers ?? {}), ...(token ? { authorization: `Bearer ${token}` } : {}) } });

const WHY = 'install the CRM for the sales team';
const table = (tenant: Tenant, resource: string) => tableName(tenantKey(tenant.id), 'crm', resource);

beforeAll(async () => {
  rampart = await testRampart({ authenticate: (request) => bearerAuthenticator(principals)(request) });
  demo = await rampart.createTenant({ slug: 'demo', name: 'Demo' });
  other = await rampart.createTenant({ slug: 'other', name: 'Other' });
  for (const tenant of [demo, other]) {
    user(tenant, 'owner', ['owner']);
    user(tenant, 'admin', ['admin']);
    user(tenant, 'viewer', ['viewer']);
    user(tenant, 'dpo', ['dpo']);
    user(tenant, 'sales-eu', ['sales'], { region: 'eu' });
    user(tenant, 'sales-eu2', ['sales'], { region: 'eu' });
    user(tenant, 'manager', ['sales_manager']);
    const response = await call(`${tenant.slug}-owner`, { method: 'POST', url: '/api/v1/app-plans', payload: { spec: TEMPLATES.crm, justification: WHY } });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({ status: 'applied', app: 'crm', toVersion: 1 });
  }
});
afterAll(() => rampart.close());

const create = async (token: string, resource: string, body: Record<string, unknown>) => {
  const response = await call(token, { method: 'POST', url: `/api/v1/apps/crm/${resource}`, payload: body });
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as Record<string, unknown> & { id: string };
};

describe('apply in development: real tables with forced row security (invariant 1, DE-2)', () => {
  it('DE-2 findRlsViolations passes with the CRM applied to two tenants', async () => {
    expect(await findRlsViolations(rampart.db)).toEqual([]);
  });

  it('DE-2 every generated table has tenant_id, ENABLE + FORCE RLS and the tenant policy', async () => {
    const names = ['company', 'contact', 'deal'].flatMap((r) => [table(demo, r), table(other, r)]);
    const { rows } = await sql<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }>`
      select relname, relrowsecurity, relforcerowsecurity from pg_class where relname in (${sql.join(names)}) and relkind = 'r'`.execute(rampart.db.owner);
    expect(rows.map((r) => r.relname).sort()).toEqual(names.sort());
    for (const row of rows) expect(row).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true });
  });

  it('AZ-4 the grants the apply added are explained: no drift', async () => {
    const report = await runDrift({ db: rampart.db, audit: rampart.audit, tenantId: demo.id });
    expect(report.added.length).toBeGreaterThan(20);
    expect(report.drifted).toBe(false);
  });

  it('DE-4 the apply is audited step by step, with the plan and its spec hash', async () => {
    const { rows } = await sql<{ action: string }>`select action from audit_events where tenant_id = ${demo.id} and action like 'app.plan.%' order by seq`.execute(rampart.db.owner);
    const actions = rows.map((r) => r.action);
    expect(actions[0]).toBe('app.plan.created');
    expect(actions.filter((a) => a === 'app.plan.step_applied').length).toBeGreaterThanOrEqual(3);
    expect(actions.at(-1)).toBe('app.plan.applied');
  });

  it('the installed app exposes its compiled Cedar, OpenAPI and UI metadata with the spec hash', async () => {
    const response = await call('demo-admin', { method: 'GET', url: '/api/v1/apps/crm' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.cedar.policies).toContain('crm__deal');
    expect(body.openapi.info.description).toContain(body.specHash);
    expect(body.ui.resources.map((r: { name: string }) => r.name)).toEqual(['company', 'contact', 'deal']);
    const plan = await call('demo-admin', { method: 'GET', url: `/api/v1/app-plans/${body.planId}` });
    expect(plan.json().sql).toMatch(/^-- Generated by the Rampart app compiler from app spec "crm" version 1 \(sha256:[0-9a-f]{64}\)/);
  });
});

describe('data API (AZ-2, AZ-3, DA-1, DA-2)', () => {
  it('CRUD with validation errors naming each field (400 problem+json)', async () => {
    const bad = await call('demo-manager', { method: 'POST', url: '/api/v1/apps/crm/deal', payload: { title: '', amount: 12.5, stage: 'maybe', surprise: 1 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
    const pointers = bad.json().errors.map((e: { pointer: string }) => e.pointer).sort();
    expect(pointers).toEqual(['/amount', '/stage', '/surprise', '/title']);

    const deal = await create('demo-manager', 'deal', { title: 'Big one', amount: 125_000, stage: 'lead', region: 'eu' });
    expect(deal).toMatchObject({ title: 'Big one', amount: 125_000, stage: 'lead', owner_id: 'demo-manager' });
    const patched = await call('demo-manager', { method: 'PATCH', url: `/api/v1/apps/crm/deal/${deal.id}`, payload: { stage: 'won', close_date: '2026-03-01' } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toMatchObject({ stage: 'won', close_date: '2026-03-01' });
    expect((await call('demo-manager', { method: 'DELETE', url: `/api/v1/apps/crm/deal/${deal.id}` })).statusCode).toBe(204);
    expect((await call('demo-manager', { method: 'GET', url: `/api/v1/apps/crm/deal/${deal.id}` })).statusCode).toBe(404);
  });

  it('AZ-2 another tenant’s record id answers 404, also for a reference', async () => {
    const company = await create('other-manager', 'company', { name: 'Other Co' });
    expect((await call('demo-manager', { method: 'GET', url: `/api/v1/apps/crm/company/${company.id}` })).statusCode).toBe(404);
    expect((await call('demo-manager', { method: 'PATCH', url: `/api/v1/apps/crm/company/${company.id}`, payload: { name: 'Mine now' } })).statusCode).toBe(404);
    const contact = await call('demo-manager', { method: 'POST', url: '/api/v1/apps/crm/contact', payload: { first_name: 'A', last_name: 'B', company: company.id } });
    expect(contact.statusCode).toBe(400);
    expect(contact.json().errors).toEqual([{ in: 'body', pointer: '/company', message: 'no such company' }]);
  });

  it('DA-1 a viewer sees PII masked; sales see it; nobody without read_secret sees the bank account', async () => {
    const company = await create('demo-owner', 'company', { name: 'Acme', bank_account: 'DE89370400440532013000', region: 'eu' });
    expect(company.bank_account).toBe('DE89370400440532013000'); // the owner holds read_secret
    const contact = await create('demo-sales-eu', 'contact', { first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com', company: company.id });
    const asViewer = (await call('demo-viewer', { method: 'GET', url: `/api/v1/apps/crm/contact/${contact.id}` })).json();
    // The empty phone is masked too: a null beside "[masked]" would say which contacts have one.
    expect(asViewer).toMatchObject({ first_name: MASK, last_name: MASK, email: MASK, phone: MASK, company: company.id });
    expect(asViewer._masked).toEqual(['first_name', 'last_name', 'email', 'phone']);
    const asSales = (await call('demo-sales-eu', { method: 'GET', url: `/api/v1/apps/crm/contact/${contact.id}` })).json();
    expect(asSales).toMatchObject({ first_name: 'Ada', email: 'ada@example.com' });
    const asAdmin = (await call('demo-admin', { method: 'GET', url: `/api/v1/apps/crm/company/${company.id}` })).json();
    expect(asAdmin.bank_account).toBe(MASK);
    // A single-record read by the owner decrypts the sealed value (DA-2: with the tenant's data key).
    const asOwner = (await call('demo-owner', { method: 'GET', url: `/api/v1/apps/crm/company/${company.id}` })).json();
    expect(asOwner.bank_account).toBe('DE89370400440532013000');
    // A viewer cannot learn a masked value by filtering on it.
    const probe = await call('demo-viewer', { method: 'GET', url: '/api/v1/apps/crm/contact?first_name=Ada' });
    expect(probe.statusCode).toBe(400);
    expect(probe.json()).toMatchObject({ reason: 'field_masked', errors: [{ in: 'query', pointer: '/first_name' }] });
    expect((await call('demo-viewer', { method: 'GET', url: '/api/v1/apps/crm/contact?sort=last_name' })).json()).toMatchObject({ status: 400, reason: 'field_masked' });
  });

  it('DA-2 secret fields are encrypted at rest with the tenant data key', async () => {
    const { rows } = await sql<{ bank_account: string }>`select bank_account from ${sql.table(table(demo, 'company'))} where tenant_id = ${demo.id} and bank_account is not null`.execute(rampart.db.owner);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.bank_account).toMatch(/^rk1\.dk_[0-9a-f]+\./);
  });

  it('AZ-3 sales update only their own deals and cannot hand them away or move them to another region', async () => {
    const mine = await create('demo-sales-eu', 'deal', { title: 'Mine', amount: 100, stage: 'lead', region: 'eu' });
    const theirs = await create('demo-sales-eu2', 'deal', { title: 'Theirs', amount: 100, stage: 'lead', region: 'eu' });
    expect((await call('demo-sales-eu', { method: 'PATCH', url: `/api/v1/apps/crm/deal/${mine.id}`, payload: { stage: 'qualified' } })).statusCode).toBe(200);
    expect((await call('demo-sales-eu', { method: 'PATCH', url: `/api/v1/apps/crm/deal/${theirs.id}`, payload: { stage: 'won' } })).statusCode).toBe(403);
    const moved = await call('demo-sales-eu', { method: 'PATCH', url: `/api/v1/apps/crm/deal/${mine.id}`, payload: { region: 'us' } });
    expect(moved.statusCode).toBe(403);
    expect((await call('demo-sales-eu', { method: 'GET', url: `/api/v1/apps/crm/deal/${mine.id}` })).json()).toMatchObject({ region: 'eu', stage: 'qualified' });
  });

  it('AZ-3 lists are filtered in SQL by the compiled constraint: sales never see another region', async () => {
    await create('demo-manager', 'deal', { title: 'US deal', amount: 5, stage: 'lead', region: 'us' });
    const asSales = (await call('demo-sales-eu', { method: 'GET', url: '/api/v1/apps/crm/deal?limit=200' })).json();
    expect(asSales.items.length).toBeGreaterThan(0);
    expect(asSales.items.every((d: { region: string }) => d.region === 'eu')).toBe(true);
    const asManager = (await call('demo-manager', { method: 'GET', url: '/api/v1/apps/crm/deal?region=us' })).json();
    expect(asManager.items.map((d: { title: string }) => d.title)).toContain('US deal');
  });

  it('typed filters, sort and cursor pagination visit every row once; limit is capped at 200', async () => {
    for (let i = 0; i < 7; i++) await create('demo-manager', 'deal', { title: `Page ${i}`, amount: i * 10, stage: 'proposal', region: 'apac' });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/api/v1/apps/crm/deal?stage=proposal&amount[gte]=20&sort=title&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const response = await call('demo-manager', { method: 'GET', url: query });
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json() as { items: Array<{ title: string }>; next_cursor: string | null };
      seen.push(...body.items.map((d) => d.title));
      cursor = body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(['Page 2', 'Page 3', 'Page 4', 'Page 5', 'Page 6']);
    expect((await call('demo-manager', { method: 'GET', url: '/api/v1/apps/crm/deal?limit=201' })).statusCode).toBe(400);
    expect((await call('demo-manager', { method: 'GET', url: '/api/v1/apps/crm/deal?amount[gte]=ten' })).json().errors[0].pointer).toBe('/amount[gte]');
    expect((await call('demo-manager', { method: 'GET', url: '/api/v1/apps/crm/deal?sort=notes' })).statusCode).toBe(400);
  });

  it('DA-1 an export by someone without export is refused and audited; the DPO’s export is audited', async () => {
    const denied = await call('demo-viewer', { method: 'GET', url: '/api/v1/apps/crm/contact/export' });
    expect(denied.statusCode).toBe(403);
    const ok = await call('demo-dpo', { method: 'GET', url: '/api/v1/apps/crm/contact/export' });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.headers['content-type']).toContain('text/csv');
    expect(ok.body.split('\r\n')[0]).toBe('id,owner_id,created_at,updated_at,first_name,last_name,email,phone,company,job_title,notes');
    expect(ok.body).toContain('Ada');
    const { rows } = await sql<{ action: string; actor_id: string }>`select action, actor_id from audit_events where tenant_id = ${demo.id} and (action = 'app.records.exported' or (action = 'authz.denied' and diff->'action'->>'after' = 'export')) order by seq`.execute(rampart.db.owner);
    expect(rows).toEqual([{ action: 'authz.denied', actor_id: 'demo-viewer' }, { action: 'app.records.exported', actor_id: 'demo-dpo' }]);
  });

  it('AZ-2 an unknown app or resource is refused by the pipeline', async () => {
    expect((await call('demo-owner', { method: 'GET', url: '/api/v1/apps/crm/invoice' })).statusCode).toBe(403);
    expect((await call('demo-owner', { method: 'GET', url: '/api/v1/apps/nope/deal' })).statusCode).toBe(403);
    expect((await call(null, { method: 'GET', url: '/api/v1/apps/crm/deal' })).statusCode).toBe(401);
  });
});

describe('plans v1 -> v2 (DE-4)', () => {
  const v2 = () => {
    const spec = structuredClone(TEMPLATES.crm) as { version: number; resources: Array<{ name: string; fields: Array<Record<string, unknown>> }>; views: Record<string, unknown> };
    spec.version = 2;
    spec.views.company = { list: { columns: ['name', 'website', 'employees'], filters: ['region'] } };
    const company = spec.resources.find((r) => r.name === 'company')!;
    company.fields = company.fields.filter((f) => f.name !== 'industry');
    company.fields.push({ name: 'employees', type: 'integer', class: 'internal', min: 0 });
    const domain = company.fields.find((f) => f.name === 'domain')!;
    domain.name = 'website';
    domain.renamedFrom = 'domain';
    return spec;
  };

  it('DE-4 add, rename and drop on a populated database keep every row; the drop needs confirmation', async () => {
    const before = await sql<{ n: bigint }>`select count(*) as n from ${sql.table(table(demo, 'company'))} where tenant_id = ${demo.id}`.execute(rampart.db.owner);
    await create('demo-manager', 'company', { name: 'Renamed Co', domain: 'https://renamed.example' });
    const planned = await call('demo-owner', { method: 'POST', url: '/api/v1/app-plans', payload: { spec: v2(), justification: 'add employee counts to companies' } });
    expect(planned.statusCode, planned.body).toBe(201);
    const plan = planned.json();
    expect(plan).toMatchObject({ status: 'pending', destructive: true, fromVersion: 1, toVersion: 2 });
    expect(plan.steps.map((s: { kind: string }) => s.kind).sort()).toEqual(['add_column', 'drop_column', 'rename_column']);
    const unconfirmed = await call('demo-owner', { method: 'POST', url: `/api/v1/app-plans/${plan.id}/apply`, payload: { justification: 'apply the v2 company fields' } });
    expect(unconfirmed.statusCode).toBe(400);
    expect(unconfirmed.json().errors[0].pointer).toBe('/confirmDestructive');
    const applied = await call('demo-owner', { method: 'POST', url: `/api/v1/app-plans/${plan.id}/apply`, payload: { justification: 'apply the v2 company fields', confirmDestructive: true } });
    expect(applied.statusCode, applied.body).toBe(200);
    const after = await sql<{ n: bigint }>`select count(*) as n from ${sql.table(table(demo, 'company'))} where tenant_id = ${demo.id}`.execute(rampart.db.owner);
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n + 1n);
    const list = (await call('demo-manager', { method: 'GET', url: '/api/v1/apps/crm/company?name=Renamed Co' })).json();
    expect(list.items[0]).toMatchObject({ website: 'https://renamed.example', employees: null });
    expect(list.items[0]).not.toHaveProperty('industry');
  });

  it('DE-4 a failing step leaves nothing behind and is recorded as failed', async () => {
    const v3 = v2() as ReturnType<typeof v2> & { version: number };
    v3.version = 3;
    const company = v3.resources.find((r) => r.name === 'company')!;
    company.fields.push({ name: 'vat_id', type: 'text', class: 'confidential' }); // would succeed...
    company.fields.push({ name: 'ceo', type: 'text', class: 'pii', required: true }); // ...but this fails on existing rows
    const planned = await call('demo-owner', { method: 'POST', url: '/api/v1/app-plans', payload: { spec: v3, justification: 'record company CEOs' } });
    expect(planned.statusCode).toBe(409);
    expect(planned.json().detail).toContain('nothing was changed');
    const { rows } = await sql<{ column_name: string }>`select column_name from information_schema.columns where table_name = ${table(demo, 'company')} and column_name in ('vat_id', 'ceo')`.execute(rampart.db.owner);
    expect(rows).toEqual([]);
    const plans = (await call('demo-owner', { method: 'GET', url: '/api/v1/app-plans?app=crm&limit=1' })).json();
    expect(plans.items[0]).toMatchObject({ toVersion: 3, status: 'failed' });
    const installed = (await call('demo-owner', { method: 'GET', url: '/api/v1/apps/crm' })).json();
    expect(installed.version).toBe(2);
    const { rows: events } = await sql<{ n: bigint }>`select count(*) as n from audit_events where tenant_id = ${demo.id} and action = 'app.plan.failed'`.execute(rampart.db.owner);
    expect(events[0]!.n).toBe(1n);
  });

  it('DE-4 production refuses an unapproved plan; the author cannot approve; a second admin can', async () => {
    const production: Apps = createApps({ db: rampart.db, audit: rampart.audit, authz: rampart.authz, clock: systemClock, requireApproval: true });
    const author = { type: 'user', id: 'other-owner' } as const;
    const plan = await production.plan({ tenantId: other.id, actor: author, spec: TEMPLATES.helpdesk, justification: 'helpdesk for support' });
    await expect(production.apply({ tenantId: other.id, actor: author, planId: plan.id, justification: 'ship the helpdesk now' })).rejects.toMatchObject({ code: 'conflict' });
    await expect(production.approve({ tenantId: other.id, actor: author, planId: plan.id, justification: 'looks good to me' })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(production.approve({ tenantId: other.id, actor: { type: 'agent', id: 'model', onBehalfOf: 'other-admin' }, planId: plan.id, justification: 'looks good to me' })).rejects.toMatchObject({ code: 'forbidden' });
    const approved = await production.approve({ tenantId: other.id, actor: { type: 'user', id: 'other-admin' }, planId: plan.id, justification: 'reviewed the generated SQL' });
    expect(approved).toMatchObject({ status: 'approved', approvedBy: 'user:other-admin', createdBy: 'user:other-owner' });
    const applied = await production.apply({ tenantId: other.id, actor: author, planId: plan.id, justification: 'ship the helpdesk now' });
    expect(applied.status).toBe('applied');
    await expect(production.apply({ tenantId: other.id, actor: author, planId: plan.id, justification: 'ship the helpdesk again' })).rejects.toMatchObject({ code: 'conflict' });
    expect(await findRlsViolations(rampart.db)).toEqual([]);
  });

  it('DE-4 a plan edited after review does not apply (hash mismatch)', async () => {
    const production = createApps({ db: rampart.db, audit: rampart.audit, authz: rampart.authz, clock: systemClock, requireApproval: true });
    const spec = structuredClone(TEMPLATES.helpdesk) as { version: number; title: string };
    spec.version = 2;
    spec.title = 'Helpdesk 2';
    const plan = await production.plan({ tenantId: other.id, actor: { type: 'user', id: 'other-owner' }, spec, justification: 'rename the helpdesk' });
    await production.approve({ tenantId: other.id, actor: { type: 'user', id: 'other-admin' }, planId: plan.id, justification: 'reviewed the generated SQL' });
    await sql`update app_plans set sql = sql || ${` DROP TABLE "${table(other, 'deal')}";`} where id = ${plan.id}`.execute(rampart.db.owner);
    await expect(production.apply({ tenantId: other.id, actor: { type: 'user', id: 'other-owner' }, planId: plan.id, justification: 'ship the rename' })).rejects.toMatchObject({ code: 'conflict' });
    const { rows } = await sql<{ present: boolean }>`select to_regclass(${table(other, 'deal')}) is not null as present`.execute(rampart.db.owner);
    expect(rows[0]!.present).toBe(true);
  });

  it('lint findings come back as 400 naming the spec pointer', async () => {
    const spec = structuredClone(TEMPLATES.crm) as { version: number; resources: Array<{ fields: Array<Record<string, unknown>> }> };
    spec.version = 9;
    delete spec.resources[0]!.fields[0]!.class;
    const response = await call('demo-owner', { method: 'POST', url: '/api/v1/app-plans', payload: { spec, justification: 'an unclassified field' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().findings[0]).toMatchObject({ code: 'field/no-class', pointer: '/resources/0/fields/0/class' });
    expect(response.json().errors[0].pointer).toBe('/spec/resources/0/fields/0/class');
  });
});
