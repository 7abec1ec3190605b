import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { lintSpec, MASK, resourceActions, TEMPLATES } from '../src/apps/index.js';
import { BUILTIN_ROLES } from '../src/authz/index.js';
import type { Tenant } from '../src/db/index.js';
import type { Principal } from '../src/http/index.js';
import { bearerAuthenticator, testRampart } from './support/rampart.js';

/**
 * AZ-1 / AZ-2 permission scenarios generated from the CRM template: every resource x action x
 * {each role, the record's owner, another user, another tenant, anonymous}, over HTTP. The
 * expectation comes from an independent reading of the spec (matrix grants, plus the owner rules
 * for the owner), not from the engine under test.
 */

const spec = lintSpec(TEMPLATES.crm).spec!;
const roles = [...new Set([...BUILTIN_ROLES.map((r) => r.name), ...spec.roles.map((r) => r.name)])];
const principals: Record<string, Principal> = {};
let rampart: Rampart;
let demo: Tenant;
let other: Tenant;
let counter = 0;

const call = (token: string | null, options: InjectOptions) =>
  rampart.server.app.inject({ ...options, headers: { ...(options.headers ?? {}), ...(token ? { authorization: `Bearer ${token}` } : {}) } });

const bodyFor = (resource: string): Record<string, unknown> =>
  resource === 'company' ? { name: `Company ${++counter}`, region: 'eu' } : resource === 'contact' ? { first_name: 'Grace', last_name: `Hopper ${++counter}` } : { title: `Deal ${++counter}`, amount: 10, stage: 'lead', region: 'eu' };
const patchFor = (resource: string): Record<string, unknown> => (resource === 'company' ? { domain: 'https://example.com' } : resource === 'contact' ? { job_title: 'Admiral' } : { title: 'Renamed' });

/** The spec, read directly: a matrix grant, or (for the owner) a permit rule on the owner. */
function expected(subject: { roles: string[]; isOwner: boolean }, resource: string, action: string): boolean {
  if (subject.roles.some((role) => spec.matrix[role]?.[resource]?.includes(action))) return true;
  return subject.isOwner && spec.rules.some((rule) => rule.effect === 'permit' && rule.resource === resource && rule.actions.includes(action) && (rule.roles === '*' || rule.roles.some((r) => subject.roles.includes(r))) && rule.when.every((c) => c.record === 'owner'));
}

async function record(resource: string): Promise<string> {
  const response = await call('demo-author', { method: 'POST', url: `/api/v1/apps/crm/${resource}`, payload: bodyFor(resource) });
  expect(response.statusCode, response.body).toBe(201);
  return (response.json() as { id: string }).id;
}

beforeAll(async () => {
  rampart = await testRampart({ authenticate: (request) => bearerAuthenticator(principals)(request) });
  demo = await rampart.createTenant({ slug: 'demo', name: 'Demo' });
  other = await rampart.createTenant({ slug: 'other', name: 'Other' });
  for (const tenant of [demo, other]) {
    principals[`${tenant.slug}-installer`] = { type: 'user', id: `${tenant.slug}-installer`, tenantId: tenant.id, roles: ['owner'] };
    const response = await call(`${tenant.slug}-installer`, { method: 'POST', url: '/api/v1/app-plans', payload: { spec: TEMPLATES.crm, justification: 'permission scenarios for the CRM' } });
    expect(response.statusCode, response.body).toBe(201);
  }
  for (const role of roles) principals[`demo-${role}`] = { type: 'user', id: `demo-${role}`, tenantId: demo.id, roles: [role] };
  principals['demo-author'] = { type: 'user', id: 'demo-author', tenantId: demo.id, roles: ['sales'], attributes: { region: 'eu' } };
  principals['demo-colleague'] = { type: 'user', id: 'demo-colleague', tenantId: demo.id, roles: ['sales'], attributes: { region: 'eu' } };
  principals['other-manager'] = { type: 'user', id: 'other-manager', tenantId: other.id, roles: ['sales_manager', 'owner'] };
});
afterAll(() => rampart.close());

type Subject = { name: string; token: string | null; roles: string[]; isOwner: boolean; kind: 'role' | 'owner' | 'other user' | 'other tenant' | 'anonymous' };
const subjects = (): Subject[] => [
  ...roles.map((role): Subject => ({ name: `role ${role}`, token: `demo-${role}`, roles: [role], isOwner: false, kind: 'role' })),
  { name: 'owner', token: 'demo-author', roles: ['sales'], isOwner: true, kind: 'owner' },
  { name: 'other user', token: 'demo-colleague', roles: ['sales'], isOwner: false, kind: 'other user' },
  { name: 'other tenant', token: 'other-manager', roles: ['sales_manager', 'owner'], isOwner: false, kind: 'other tenant' },
  { name: 'anonymous', token: null, roles: [], isOwner: false, kind: 'anonymous' },
];

const HTTP_ACTIONS = ['list', 'read', 'create', 'update', 'delete', 'export'];
const cases = spec.resources.flatMap((resource) =>
  resourceActions(resource).flatMap((action) =>
    [...roles.map((r) => `role ${r}`), 'owner', 'other user', 'other tenant', 'anonymous'].map((subject) => ({ label: `AZ-1 ${subject} ${action} crm.${resource.name}`, resource: resource.name, action, subject })),
  ),
);

describe('AZ-1 CRM permission scenarios: resource x action x {role, owner, other user, other tenant, anonymous}', () => {
  it('covers every combination', () => {
    expect(cases.length).toBe(spec.resources.reduce((n, r) => n + resourceActions(r).length, 0) * (roles.length + 4));
  });

  it.each(cases)('$label', async ({ resource, action, subject: name }) => {
    const subject = subjects().find((s) => s.name === name)!;
    const id = action === 'list' || action === 'create' || action === 'export' ? await record(resource) : await record(resource);
    const base = `/api/v1/apps/crm/${resource}`;
    if (subject.kind === 'anonymous') {
      const url = HTTP_ACTIONS.includes(action) ? (['list', 'create'].includes(action) ? base : action === 'export' ? `${base}/export` : `${base}/${id}`) : `${base}/${id}`;
      const method = action === 'create' ? 'POST' : action === 'update' ? 'PATCH' : action === 'delete' ? 'DELETE' : 'GET';
      expect((await call(null, { method, url, ...(method === 'POST' || method === 'PATCH' ? { payload: bodyFor(resource) } : {}) })).statusCode).toBe(401);
      return;
    }
    if (subject.kind === 'other tenant') {
      // Another tenant's caller with every grant: the record does not exist for them.
      if (action === 'list' || action === 'export') {
        const response = await call(subject.token, { method: 'GET', url: action === 'list' ? `${base}?limit=200` : `${base}/export` });
        expect(response.statusCode).toBe(200);
        expect(response.body).not.toContain(id);
      } else if (action === 'create') expect((await call(subject.token, { method: 'POST', url: base, payload: bodyFor(resource) })).statusCode).toBe(201);
      else {
        const method = action === 'update' ? 'PATCH' : action === 'delete' ? 'DELETE' : 'GET';
        expect((await call(subject.token, { method, url: `${base}/${id}`, ...(method === 'PATCH' ? { payload: patchFor(resource) } : {}) })).statusCode).toBe(404);
      }
      return;
    }
    const allowed = expected(subject, resource, action);
    switch (action) {
      case 'list': {
        const response = await call(subject.token, { method: 'GET', url: `${base}?limit=200` });
        expect(response.statusCode).toBe(allowed ? 200 : 403);
        break;
      }
      case 'export':
        expect((await call(subject.token, { method: 'GET', url: `${base}/export` })).statusCode).toBe(allowed ? 200 : 403);
        break;
      case 'create':
        expect((await call(subject.token, { method: 'POST', url: base, payload: bodyFor(resource) })).statusCode).toBe(allowed ? 201 : 403);
        break;
      case 'read':
      case 'update':
      case 'delete': {
        const method = action === 'read' ? 'GET' : action === 'update' ? 'PATCH' : 'DELETE';
        const status = (await call(subject.token, { method, url: `${base}/${id}`, ...(method === 'PATCH' ? { payload: patchFor(resource) } : {}) })).statusCode;
        if (allowed) expect(status).toBe(action === 'delete' ? 204 : 200);
        else expect([403, 404]).toContain(status);
        const still = await call('demo-owner', { method: 'GET', url: `${base}/${id}` });
        if (action === 'delete') expect(still.statusCode).toBe(allowed ? 404 : 200);
        if (action === 'update' && !allowed) expect(JSON.stringify(still.json())).not.toContain(JSON.stringify(Object.values(patchFor(resource))[0]));
        break;
      }
      case 'read_pii':
      case 'read_secret': {
        const dataClass = action === 'read_pii' ? 'pii' : 'secret';
        const field = spec.resources.find((r) => r.name === resource)!.fields.find((f) => f.class === dataClass)!;
        await call('demo-owner', { method: 'PATCH', url: `${base}/${id}`, payload: { [field.name]: dataClass === 'pii' ? 'Grace' : 'DE00123' } });
        const response = await call(subject.token, { method: 'GET', url: `${base}/${id}` });
        if (response.statusCode !== 200) expect(expected(subject, resource, 'read')).toBe(false);
        else expect(response.json()[field.name] === MASK).toBe(!allowed);
        break;
      }
      default: {
        // Custom actions (deal: close) have no data route; the tenant's live policy set decides.
        const row = (await call('demo-owner', { method: 'GET', url: `${base}/${id}` })).json() as { owner_id: string; region?: string };
        const principal = principals[subject.token!]!;
        const decision = await rampart.authz.check({ id: principal.id, tenantId: demo.id, roles: principal.roles, region: principal.attributes?.region ?? null }, action, { type: `crm__${resource}`, attributes: { owner: row.owner_id, region: row.region ?? null } });
        expect(decision.allowed).toBe(allowed);
      }
    }
  });
});

describe('AZ-1 / AZ-3 / DA-1 a tenant Cedar policy for one role changes nothing for the others', () => {
  let third: Tenant;
  const as = (role: string) => `third-${role}`;
  const list = (role: string, url: string) => call(as(role), { method: 'GET', url: `/api/v1/apps/crm/${url}` });

  beforeAll(async () => {
    third = await rampart.createTenant({ slug: 'third', name: 'Third' });
    principals['third-installer'] = { type: 'user', id: 'third-installer', tenantId: third.id, roles: ['owner'] };
    expect((await call('third-installer', { method: 'POST', url: '/api/v1/app-plans', payload: { spec: TEMPLATES.crm, justification: 'custom policy scenarios' } })).statusCode).toBe(201);
    for (const role of roles) principals[as(role)] = { type: 'user', id: as(role), tenantId: third.id, roles: [role] };
    for (const [region, n] of [['eu', 1], ['us', 2], ['eu', 3], ['us', 4]] as const) {
      for (const [resource, payload] of [['company', { name: `Company ${region} ${n}`, region }], ['deal', { title: `Deal ${region} ${n}`, amount: 10, stage: 'lead', region }], ['contact', { first_name: 'Grace', last_name: `Hopper ${n}`, email: `grace${n}@example.com` }]] as const) {
        expect((await call(as('owner'), { method: 'POST', url: `/api/v1/apps/crm/${resource}`, payload })).statusCode).toBe(201);
      }
    }
    const policies = {
      'dpo-eu-companies': 'permit (principal in Role::"dpo", action == Action::"crm__company:list", resource is crm__company) when { resource has region && resource.region == "eu" };',
      'member-own-pii': 'permit (principal in Role::"member", action == Action::"crm__contact:read_pii", resource is crm__contact) when { resource has owner && resource.owner == principal };',
      'no-us-deals': 'forbid (principal, action == Action::"crm__deal:list", resource is crm__deal) when { resource has region && resource.region == "us" };',
    };
    for (const [id, cedar] of Object.entries(policies)) await rampart.authz.putPolicy({ tenantId: third.id, actor: { type: 'user', id: 'third-installer' }, id, cedar, justification: 'custom policy scenarios' });
  });

  it.each(roles)('AZ-1 role %s: company list as the matrix says, plus eu companies for the dpo only', async (role) => {
    const response = await list(role, 'company?limit=200');
    const granted = spec.matrix[role]?.company?.includes('list') ?? false;
    if (role === 'dpo') {
      expect(response.statusCode).toBe(200);
      expect((response.json() as { items: Array<{ region: string }> }).items.map((item) => item.region)).toEqual(['eu', 'eu']);
    } else expect(response.statusCode).toBe(granted ? 200 : 403);
  });

  it.each(roles)('DA-1 role %s: a read_pii permit for members lets nobody else filter on a masked field', async (role) => {
    if (!(spec.matrix[role]?.contact?.includes('list') ?? false)) return;
    const response = await list(role, 'contact?email=grace1@example.com');
    const readsPii = spec.matrix[role]?.contact?.includes('read_pii') ?? false;
    if (readsPii) expect(response.statusCode).toBe(200);
    else expect(response.json()).toMatchObject({ status: 400, reason: 'field_masked' });
  });

  it.each(roles)('AZ-3 role %s: a forbid hides us deals from every page and every cursor', async (role) => {
    if (!(spec.matrix[role]?.deal?.includes('list') ?? false)) return;
    const titles: string[] = [];
    let query = 'deal?limit=1&sort=title';
    for (let pages = 0; pages < 10; pages++) {
      const page = (await list(role, query)).json() as { items: Array<{ title: string }>; next_cursor: string | null };
      titles.push(...page.items.map((item) => item.title));
      if (!page.next_cursor) break;
      expect(Buffer.from(page.next_cursor, 'base64url').toString('latin1')).not.toMatch(/Deal/);
      query = `deal?limit=1&sort=title&cursor=${page.next_cursor}`;
    }
    expect(titles.every((title) => title.includes(' eu '))).toBe(true);
  });
});
