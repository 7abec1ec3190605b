import type { InjectOptions } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { TEMPLATES } from '../src/apps/index.js';
import { createDenialRecorder } from '../src/audit/index.js';
import { createCapturingLogger, manualClock } from '../src/core/index.js';
import type { Tenant } from '../src/db/index.js';
import type { Principal } from '../src/http/index.js';
import { bearerAuthenticator, testRampart } from './support/rampart.js';

/**
 * Denied attempts are evidence (AZ-2, MO-2): every 403, and every 404 a hidden record gets, that
 * the pipeline sends to an authenticated principal is an `authz.denied` audit event, written in a
 * transaction of its own, rate-limited per principal, and a burst raises an alert.
 */

type Event = { action: string; actor_id: string | null; target_type: string | null; target_id: string | null; diff: Record<string, { after?: unknown }> | null; ip: string | null; device_id: string | null; user_agent: string | null };

const eventsOf = (rampart: Rampart, tenant: Tenant, actorId: string) =>
  sql<Event>`select action, actor_id, target_type, target_id, diff, ip, device_id, user_agent from audit_events where tenant_id = ${tenant.id} and actor_id = ${actorId} and action like 'authz.denied%' order by seq`
    .execute(rampart.db.owner)
    .then((r) => r.rows);

const alertsOf = (rampart: Rampart, tenant: Tenant, actorId: string) =>
  sql<{ rule: string; summary: string }>`select a.rule, a.summary from alerts a join audit_events e on e.id = a.event_id where a.tenant_id = ${tenant.id} and e.actor_id = ${actorId} order by a.seq`
    .execute(rampart.db.owner)
    .then((r) => r.rows);

const RECORD_ID = '01900000-0000-7000-8000-00000000beef';

describe('AZ-2 MO-2 every route audits its denials (generated from the route table)', () => {
  const principals: Record<string, Principal> = {};
  let rampart: Rampart;
  let tenant: Tenant;

  beforeAll(async () => {
    rampart = await testRampart({ authenticate: (request) => bearerAuthenticator(principals)(request), authorize: async ({ principal }) => !principal.roles.includes('nobody') });
    tenant = await rampart.createTenant({ slug: 'walk', name: 'Walk' });
  });
  afterAll(() => rampart.close());

  const refuse = (actorId: string, options: InjectOptions) => {
    principals[actorId] = { type: 'user', id: actorId, tenantId: tenant.id, roles: ['nobody'] };
    return rampart.server.app.inject({ ...options, headers: { authorization: `Bearer ${actorId}`, 'user-agent': 'scanner/1.0', 'x-device-id': 'device-7', ...(options.headers ?? {}) } });
  };

  it('AZ-2 a refused call to each guarded route writes one authz.denied event with principal, action, resource, record id, IP and device', async () => {
    const routes = rampart.server.routeTable.filter((r) => 'action' in r.auth) as Array<{ method: string; url: string; auth: { action: string; resource: string } }>;
    expect(routes.length).toBeGreaterThan(40);
    for (const [index, route] of routes.entries()) {
      const label = `${route.method} ${route.url}`;
      // One principal per route, so the per-principal limit never hides a route's event.
      const actorId = `walker-${index}`;
      const response = await refuse(actorId, { method: route.method as 'GET', url: route.url.replace(/:(\w+)/g, RECORD_ID) });
      expect(response.statusCode, label).toBe(403);
      const events = await eventsOf(rampart, tenant, actorId);
      expect(events, label).toHaveLength(1);
      expect(events[0], label).toMatchObject({
        action: 'authz.denied',
        target_type: route.auth.resource,
        target_id: /:(id|clientId)\b/.test(route.url) ? RECORD_ID : null,
        ip: '127.0.0.1',
        device_id: 'device-7',
        user_agent: 'scanner/1.0',
        diff: { action: { after: route.auth.action }, route: { after: label }, status: { after: 403 } },
      });
    }
  });

  it('MO-2 a burst of denials by one principal raises one alert; another principal is counted apart', async () => {
    for (let i = 0; i < 14; i++) expect((await refuse('scanner', { method: 'GET', url: '/api/v1/tenant' })).statusCode).toBe(403);
    expect(await eventsOf(rampart, tenant, 'scanner')).toHaveLength(14);
    expect(await alertsOf(rampart, tenant, 'scanner')).toEqual([{ rule: 'authz-denial-burst', summary: '10 authorization denials for user scanner within 60 s' }]);
    for (let i = 0; i < 3; i++) await refuse('bystander', { method: 'GET', url: '/api/v1/tenant' });
    expect(await alertsOf(rampart, tenant, 'bystander')).toEqual([]);
  });

  it('AZ-2 an anonymous call is 401 and is not a denial event (no principal to hold to account)', async () => {
    const before = await sql<{ n: bigint }>`select count(*) as n from audit_events where action = 'authz.denied'`.execute(rampart.db.owner);
    expect((await rampart.server.app.inject({ method: 'GET', url: '/api/v1/tenant' })).statusCode).toBe(401);
    const after = await sql<{ n: bigint }>`select count(*) as n from audit_events where action = 'authz.denied'`.execute(rampart.db.owner);
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });
});

describe('AZ-2 record-level denials of the data API are audited outside the rolled-back request', () => {
  const principals: Record<string, Principal> = {};
  let rampart: Rampart;
  let demo: Tenant;
  let other: Tenant;
  const call = (token: string, options: InjectOptions) => rampart.server.app.inject({ ...options, headers: { authorization: `Bearer ${token}` } });
  const create = async (token: string, resource: string, body: Record<string, unknown>) => {
    const response = await call(token, { method: 'POST', url: `/api/v1/apps/crm/${resource}`, payload: body });
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as { id: string };
  };

  beforeAll(async () => {
    rampart = await testRampart({ authenticate: (request) => bearerAuthenticator(principals)(request) });
    demo = await rampart.createTenant({ slug: 'demo', name: 'Demo' });
    other = await rampart.createTenant({ slug: 'other', name: 'Other' });
    for (const tenant of [demo, other]) {
      for (const [name, roles, attributes] of [['owner', ['owner'], {}], ['manager', ['sales_manager'], {}], ['sales-eu', ['sales'], { region: 'eu' }], ['sales-eu2', ['sales'], { region: 'eu' }]] as const) {
        principals[`${tenant.slug}-${name}`] = { type: 'user', id: `${tenant.slug}-${name}`, tenantId: tenant.id, roles: [...roles], attributes };
      }
      const installed = await call(`${tenant.slug}-owner`, { method: 'POST', url: '/api/v1/app-plans', payload: { spec: TEMPLATES.crm, justification: 'install the CRM for the sales team' } });
      expect(installed.statusCode, installed.body).toBe(201);
    }
  });
  afterAll(() => rampart.close());

  it('AZ-3 a per-record 403 is audited with the record id, and the refused change is not applied', async () => {
    const theirs = await create('demo-sales-eu2', 'deal', { title: 'Theirs', amount: 100, stage: 'lead', region: 'eu' });
    const refused = await call('demo-sales-eu', { method: 'PATCH', url: `/api/v1/apps/crm/deal/${theirs.id}`, payload: { stage: 'won' } });
    expect(refused.statusCode).toBe(403);
    const [event, ...more] = await eventsOf(rampart, demo, 'demo-sales-eu');
    expect(more).toEqual([]);
    expect(event).toMatchObject({ action: 'authz.denied', target_type: 'app_record', target_id: theirs.id, diff: { action: { after: 'update' }, status: { after: 403 }, path: { after: `/api/v1/apps/crm/deal/${theirs.id}` } } });
    expect((await call('demo-sales-eu2', { method: 'GET', url: `/api/v1/apps/crm/deal/${theirs.id}` })).json()).toMatchObject({ stage: 'lead' });
  });

  it('AZ-2 another tenant’s record id (hidden by RLS) answers 404 and is audited in the caller’s tenant', async () => {
    const company = await create('other-manager', 'company', { name: 'Other Co' });
    expect((await call('demo-manager', { method: 'GET', url: `/api/v1/apps/crm/company/${company.id}` })).statusCode).toBe(404);
    expect((await call('demo-manager', { method: 'DELETE', url: `/api/v1/apps/crm/company/${company.id}` })).statusCode).toBe(404);
    const events = await eventsOf(rampart, demo, 'demo-manager');
    expect(events.map((e) => [e.target_id, e.diff?.action?.after, e.diff?.status?.after])).toEqual([
      [company.id, 'read', 404],
      [company.id, 'delete', 404],
    ]);
    expect(await eventsOf(rampart, other, 'demo-manager')).toEqual([]);
  });

  it('AZ-2 MO-2 the per-principal limit writes N events per window, then one summary with the count, which alerts', async () => {
    const clock = manualClock();
    const capture = createCapturingLogger('info');
    const recorder = createDenialRecorder({ db: rampart.db, audit: rampart.audit, log: capture.log, clock, perMinute: 5, sweepMs: 0 });
    const attempt = (id: string) => ({ tenantId: demo.id, actor: { type: 'user' as const, id }, action: 'read', resource: 'tenant', route: 'GET /api/v1/tenant', path: '/api/v1/tenant', status: 403 as const, context: { ip: '203.0.113.9' } });
    for (let i = 0; i < 12; i++) await recorder.record(attempt('flooder'));
    await recorder.record(attempt('quiet'));
    expect(await eventsOf(rampart, demo, 'flooder')).toHaveLength(5);
    await recorder.flush(); // the window is still open: nothing to summarise yet
    expect(await eventsOf(rampart, demo, 'flooder')).toHaveLength(5);
    clock.advance(60_000);
    await recorder.flush();
    const events = await eventsOf(rampart, demo, 'flooder');
    expect(events).toHaveLength(6);
    expect(events[5]).toMatchObject({ action: 'authz.denied.suppressed', target_type: 'principal', target_id: 'user:flooder', ip: '203.0.113.9', diff: { suppressed: { after: 7 }, limit_per_window: { after: 5 } } });
    expect(await alertsOf(rampart, demo, 'flooder')).toEqual([{ rule: 'authz-denial-burst', summary: '7 more authorization denials for user flooder than the per-minute limit' }]);
    // A new window writes again; close() summarises what is still open.
    for (let i = 0; i < 7; i++) await recorder.record(attempt('flooder'));
    await recorder.close();
    expect((await eventsOf(rampart, demo, 'flooder')).map((e) => e.action)).toEqual([...Array(5).fill('authz.denied'), 'authz.denied.suppressed', ...Array(5).fill('authz.denied'), 'authz.denied.suppressed']);
    expect(await eventsOf(rampart, demo, 'quiet')).toHaveLength(1);
  });

  it('AZ-2 a denial whose audit write fails stays a 403 and is logged, never a 500', async () => {
    const capture = createCapturingLogger('info');
    const recorder = createDenialRecorder({ db: rampart.db, audit: rampart.audit, log: capture.log, sweepMs: 0 });
    await recorder.record({ tenantId: '01900000-0000-7000-8000-0000000000ff', actor: { type: 'user', id: 'ghost' }, action: 'read', resource: 'tenant', route: 'GET /api/v1/tenant', path: '/api/v1/tenant', status: 403 });
    expect(capture.lines().some((line) => line.includes('denied attempt not audited'))).toBe(true);
  });
});
