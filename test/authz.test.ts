import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { BUILTIN_RESOURCES, BUILTIN_ROLES, compilePolicySet, decide, decideWithCedar, DEFAULT_MATRIX, negativeMatrixCases, runDrift } from '../src/authz/index.js';
import { withTenant, type Tenant } from '../src/db/index.js';
import type { Principal } from '../src/http/index.js';
import { bearerAuthenticator, testRampart } from './support/rampart.js';

/**
 * Authorization on every request (AZ-2) with the real policy engine, the matrix and its negative
 * tests (AZ-1), justification (AZ-5), drift (AZ-4) and tenant-written Cedar policies, end to end
 * over HTTP on the demo tenant's built-in matrix.
 */

const principals: Record<string, Principal> = {};
const tokenFor = (tenant: string, role: string) => `${tenant}-${role}`;

let rampart: Rampart;
let demo: Tenant;
let other: Tenant;

beforeAll(async () => {
  rampart = await testRampart({ authenticate: (request) => bearerAuthenticator(principals)(request) });
  demo = await rampart.createTenant({ slug: 'demo', name: 'Demo Company' });
  other = await rampart.createTenant({ slug: 'other', name: 'Other Company' });
  for (const tenant of [demo, other]) {
    // Signed in with a passkey just now: matrix and policy changes need a fresh step-up (ID-7).
    for (const role of BUILTIN_ROLES) principals[tokenFor(tenant.slug, role.name)] = { type: 'user', id: `${tenant.slug}-${role.name}-user`, tenantId: tenant.id, roles: [role.name], amr: ['swk', 'mfa'], factorTimes: { webauthn: new Date() } };
  }
});
afterAll(() => rampart.close());

const call = (token: string | null, options: InjectOptions) =>
  rampart.server.app.inject({ ...options, headers: { ...(options.headers ?? {}), ...(token ? { authorization: `Bearer ${token}` } : {}) } });

const sampleRequest = (method: string, url: string): InjectOptions => {
  const concrete = url.replace(':role', 'viewer').replace(':resource', 'tenant').replace(':id', '01900000-0000-7000-8000-00000000abcd');
  const payload = method === 'PUT' && url.includes('matrix') ? { actions: ['read'] } : method === 'PUT' ? { cedar: 'forbid (principal, action, resource) when { false };' } : method === 'DELETE' ? {} : undefined;
  return { method: method as InjectOptions['method'], url: concrete, ...(payload ? { payload } : {}) };
};

describe('AZ-1 negative matrix tests, generated for every built-in route and role of the demo tenant', () => {
  // Every non-public route, from the server's own route table, against every built-in role.
  const cases = () => {
    const routes = rampart.server.routeTable.filter((r) => 'action' in r.auth && r.method !== 'HEAD') as Array<{ method: string; url: string; auth: { action: string; resource: string } }>;
    return routes.flatMap((route) => BUILTIN_ROLES.map((role) => ({ route, role: role.name, granted: (DEFAULT_MATRIX[role.name]?.[route.auth.resource] ?? []).includes(route.auth.action) })));
  };

  it('covers every role and every guarded route', () => {
    expect(cases().length).toBeGreaterThanOrEqual(BUILTIN_ROLES.length * 10);
    expect(cases().filter((c) => !c.granted).length).toBeGreaterThan(20);
  });

  // One named check per (role, action, resource) the matrix does not grant.
  it.each(
    BUILTIN_ROLES.flatMap((role) =>
      [
        ['update', 'matrix', 'PUT', '/api/v1/authz/matrix/:role/:resource'],
        ['read', 'matrix', 'GET', '/api/v1/authz/matrix'],
        ['list', 'authz_policy', 'GET', '/api/v1/authz/policies'],
        ['create', 'authz_policy', 'PUT', '/api/v1/authz/policies/:id'],
        ['delete', 'authz_policy', 'DELETE', '/api/v1/authz/policies/:id'],
        ['run', 'drift', 'POST', '/api/v1/authz/drift'],
        ['list', 'audit_event', 'GET', '/api/v1/audit/events'],
        ['read', 'audit_event', 'GET', '/api/v1/audit/events/:id'],
        ['verify', 'audit_event', 'GET', '/api/v1/audit/verify'],
        ['list', 'alert', 'GET', '/api/v1/alerts'],
        ['read', 'tenant', 'GET', '/api/v1/tenant'],
      ]
        .filter(([action, resource]) => !(DEFAULT_MATRIX[role.name]?.[resource!] ?? []).includes(action!))
        .map(([action, resource, method, url]) => ({ name: `AZ-1 ${role.name} cannot ${action} ${resource}`, role: role.name, method: method!, url: url! })),
    ),
  )('$name', async ({ role, method, url }) => {
    const response = await call(tokenFor('demo', role), sampleRequest(method, url));
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: 'forbidden' });
  });

  it('AZ-1 every generated pair matches the route table: denied exactly where the matrix does not grant', async () => {
    for (const { route, role, granted } of cases()) {
      const response = await call(tokenFor('demo', role), sampleRequest(route.method, route.url));
      if (granted) expect(response.statusCode, `${role} ${route.method} ${route.url}`).not.toBe(403);
      else expect(response.statusCode, `${role} ${route.method} ${route.url}`).toBe(403);
    }
  });

  it('AZ-2 an unauthenticated call to every guarded route is 401', async () => {
    for (const { route } of cases()) {
      expect((await call(null, sampleRequest(route.method, route.url))).statusCode).toBe(401);
    }
  });
});

/** The default matrix every tenant starts from, compiled once here to name the cases. */
const defaultSet = compilePolicySet({ resources: BUILTIN_RESOURCES, matrix: DEFAULT_MATRIX, roles: BUILTIN_ROLES.map((r) => r.name) });

describe('AZ-1 every ungranted (role, action, resource) of the demo tenant, on the live policy set, both engines', () => {
  it.each(negativeMatrixCases(defaultSet).map((c) => ({ ...c, label: c.name })))('$label', async ({ request }) => {
    const live = await rampart.authz.policySet(demo.id);
    const asDemo = { ...request, principal: { ...request.principal, tenantId: demo.id } };
    expect(decide(live, asDemo).allowed).toBe(false);
    expect(decideWithCedar(live, asDemo).allowed).toBe(false);
  });
});

describe('AZ-5 admin mutations need a justification', () => {
  it('AZ-5 no justification -> 400 naming the field; nothing changes and nothing is audited', async () => {
    const before = await rampart.authz.data(demo.id);
    const missing = await call(tokenFor('demo', 'admin'), { method: 'PUT', url: '/api/v1/authz/matrix/viewer/alert', payload: { actions: ['list'] } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors).toEqual([{ in: 'body', pointer: '/justification', message: 'at least 10 characters explaining why' }]);
    const short = await call(tokenFor('demo', 'admin'), { method: 'PUT', url: '/api/v1/authz/matrix/viewer/alert', payload: { actions: ['list'], justification: 'because' } });
    expect(short.statusCode).toBe(400);
    expect((await rampart.authz.data(demo.id)).grants).toEqual(before.grants);
  });

  it('AZ-5 MO-2 a justified change applies, is audited with who/why, and raises a permission-change alert', async () => {
    const response = await call(tokenFor('demo', 'admin'), {
      method: 'PUT',
      url: '/api/v1/authz/matrix/viewer/alert',
      payload: { actions: ['list', 'read'], justification: 'viewers watch the alert feed during on-call' },
      headers: { 'user-agent': 'ops-console/1.0', 'x-device-id': 'laptop-7' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().added).toEqual([
      { role: 'viewer', resource: 'alert', action: 'list' },
      { role: 'viewer', resource: 'alert', action: 'read' },
    ]);
    expect((await call(tokenFor('demo', 'viewer'), { method: 'GET', url: '/api/v1/alerts' })).statusCode).toBe(200);
    const events = (await call(tokenFor('demo', 'auditor'), { method: 'GET', url: '/api/v1/audit/events?action=authz.matrix.updated' })).json().items;
    expect(events[0]).toMatchObject({ actor_id: 'demo-admin-user', justification: 'viewers watch the alert feed during on-call', user_agent: 'ops-console/1.0', device_id: 'laptop-7', target_id: 'viewer/alert' });
    const alerts = (await call(tokenFor('demo', 'admin'), { method: 'GET', url: '/api/v1/alerts' })).json().items;
    expect(alerts.map((a: { rule: string }) => a.rule)).toContain('permission-change');
  });

  it('an unknown action or resource in a change is a 400, not a silent grant', async () => {
    const response = await call(tokenFor('demo', 'admin'), { method: 'PUT', url: '/api/v1/authz/matrix/viewer/alert', payload: { actions: ['launch'], justification: 'testing unknown actions here' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('validation_failed');
  });
});

describe('AZ-4 drift', () => {
  it('AZ-4 MO-2 a grant written outside any recorded change is reported and raises a critical alert', async () => {
    await runDrift({ db: rampart.db, audit: rampart.audit, tenantId: demo.id }); // baseline
    // Someone with database access grants viewers the right to change the matrix.
    await rampart.db.owner.insertInto('authz_grants').values({ tenant_id: demo.id, role: 'viewer', resource: 'matrix', action: 'update', change_id: null }).execute();
    const report = await runDrift({ db: rampart.db, audit: rampart.audit, tenantId: demo.id });
    expect(report.drifted).toBe(true);
    expect(report.unexplainedAdded).toEqual([{ role: 'viewer', resource: 'matrix', action: 'update' }]);
    const alerts = await withTenant(rampart.db, { tenantId: demo.id, actor: { type: 'system', id: 't' } }, (trx) => trx.selectFrom('alerts').select(['rule', 'severity']).where('rule', '=', 'permission-drift').execute());
    expect(alerts).toEqual([{ rule: 'permission-drift', severity: 'critical' }]);
    await rampart.db.owner.deleteFrom('authz_grants').where('tenant_id', '=', demo.id).where('role', '=', 'viewer').where('resource', '=', 'matrix').where('action', '=', 'update').execute();
  });

  it('AZ-4 a change made through the API is explained: no drift', async () => {
    await runDrift({ db: rampart.db, audit: rampart.audit, tenantId: other.id });
    const change = await call(tokenFor('other', 'owner'), { method: 'PUT', url: '/api/v1/authz/matrix/member/alert', payload: { actions: ['list'], justification: 'members follow the alerts of their tenant' } });
    expect(change.statusCode).toBe(200);
    const response = await call(tokenFor('other', 'admin'), { method: 'POST', url: '/api/v1/authz/drift' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ drifted: false, added: [{ role: 'member', resource: 'alert', action: 'list' }], unexplainedAdded: [] });
  });
});

describe('tenant-written Cedar policies', () => {
  it('an invalid policy is refused with Cedar’s message', async () => {
    const syntax = await call(tokenFor('demo', 'owner'), { method: 'PUT', url: '/api/v1/authz/policies/broken', payload: { cedar: 'forbid (principal, action, resource) when { resource.nope == ', justification: 'trying a broken policy' } });
    expect(syntax.statusCode).toBe(400);
    expect(syntax.json().errors[0].pointer).toMatch(/customPolicies/);
    const schema = await call(tokenFor('demo', 'owner'), { method: 'PUT', url: '/api/v1/authz/policies/unknown-type', payload: { cedar: 'permit (principal, action, resource is Spaceship);', justification: 'trying an unknown entity type' } });
    expect(schema.statusCode).toBe(400);
  });

  it('a valid forbid policy takes effect at once and is audited', async () => {
    expect((await call(tokenFor('demo', 'auditor'), { method: 'GET', url: '/api/v1/audit/events' })).statusCode).toBe(200);
    const put = await call(tokenFor('demo', 'owner'), {
      method: 'PUT',
      url: '/api/v1/authz/policies/no-auditor-listing',
      payload: { cedar: 'forbid (principal in Role::"auditor", action, resource is audit_event);', justification: 'auditor access suspended pending review' },
    });
    expect(put.statusCode).toBe(200);
    expect((await call(tokenFor('demo', 'auditor'), { method: 'GET', url: '/api/v1/audit/events' })).statusCode).toBe(403);
    const removed = await call(tokenFor('demo', 'owner'), { method: 'DELETE', url: '/api/v1/authz/policies/no-auditor-listing', payload: { justification: 'review finished, access restored' } });
    expect(removed.statusCode).toBe(200);
    expect((await call(tokenFor('demo', 'auditor'), { method: 'GET', url: '/api/v1/audit/events' })).statusCode).toBe(200);
  });
});

describe('audit API', () => {
  it('MO-1 lists newest first with a cursor, filters, and never crosses tenants', async () => {
    const first = (await call(tokenFor('demo', 'auditor'), { method: 'GET', url: '/api/v1/audit/events?limit=2' })).json();
    expect(first.items).toHaveLength(2);
    expect(BigInt(first.items[0].seq)).toBeGreaterThan(BigInt(first.items[1].seq));
    const second = (await call(tokenFor('demo', 'auditor'), { method: 'GET', url: `/api/v1/audit/events?limit=2&before=${first.next_cursor}` })).json();
    expect(BigInt(second.items[0].seq)).toBeLessThan(BigInt(first.items[1].seq));
    const created = (await call(tokenFor('demo', 'auditor'), { method: 'GET', url: '/api/v1/audit/events?action=tenant.*' })).json().items;
    expect(created.map((e: { action: string }) => e.action)).toEqual(['tenant.created']);
    const foreign = await call(tokenFor('other', 'auditor'), { method: 'GET', url: `/api/v1/audit/events/${created[0].id}` });
    expect(foreign.statusCode).toBe(404);
    const bad = await call(tokenFor('demo', 'auditor'), { method: 'GET', url: '/api/v1/audit/events?limit=1000' });
    expect(bad.statusCode).toBe(400);
  });

  it('MO-1 verify reports the tenant chain intact', async () => {
    const report = (await call(tokenFor('demo', 'auditor'), { method: 'GET', url: '/api/v1/audit/verify' })).json();
    expect(report).toMatchObject({ chain: demo.id, problem: null });
    expect(report.events).toBeGreaterThan(3);
  });
});
