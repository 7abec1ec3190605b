import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { TEMPLATES } from '../src/apps/index.js';
import { BUILTIN_ROLES } from '../src/authz/index.js';
import { uuidv7 } from '../src/core/index.js';
import type { Tenant } from '../src/db/index.js';
import type { Principal } from '../src/http/index.js';
import { bearerAuthenticator, testRampart } from './support/rampart.js';

/**
 * The ceiling on every tenant role (issue 12 class 2), over HTTP on a fresh tenant: nobody grants
 * what they do not hold, owner-only permissions go only to high-privilege roles, from an owner,
 * with a second admin's approval, and the owner can never be locked out. The generated property
 * test of the rule itself is src/authz/ceiling.test.ts.
 */

const principals: Record<string, Principal> = {};
let rampart: Rampart;
let tenant: Tenant;

const as = (who: string, options: InjectOptions) => rampart.server.app.inject({ ...options, headers: { authorization: `Bearer ${who}` } });
const setGrants = (who: string, role: string, resource: string, actions: string[]) =>
  as(who, { method: 'PUT', url: `/api/v1/authz/matrix/${role}/${resource}`, payload: { actions, justification: 'access review of the quarter' } });
const putPolicy = (who: string, id: string, cedar: string) => as(who, { method: 'PUT', url: `/api/v1/authz/policies/${id}`, payload: { cedar, justification: 'access review of the quarter' } });
const holds = async (role: string, resource: string, action: string) => (await rampart.authz.check({ id: uuidv7(), tenantId: tenant.id, roles: [role] }, action, { type: resource })).allowed;

beforeAll(async () => {
  rampart = await testRampart({ authenticate: (request) => bearerAuthenticator(principals)(request) });
  tenant = await rampart.createTenant({ slug: 'acme', name: 'Acme' });
  for (const role of BUILTIN_ROLES) principals[role.name] = { type: 'user', id: uuidv7(), tenantId: tenant.id, roles: [role.name], amr: ['swk', 'mfa'], factorTimes: { webauthn: new Date() } };
  principals['second-admin'] = { ...principals.admin!, id: uuidv7() };
});
afterAll(() => rampart?.close());

describe('AZ-2 nobody grants what they do not hold', () => {
  it('AZ-2 a delegate who may edit the matrix cannot grant a permission it lacks (403 grant_exceeds_author)', async () => {
    // Break-glass on the host gives finance (high-privilege) the matrix; finance holds no alert access.
    await rampart.authz.setGrants({ tenantId: tenant.id, actor: { type: 'system', id: 'cli' }, role: 'finance', resource: 'matrix', actions: ['read', 'update'], justification: 'finance reviews its own access' });
    const response = await setGrants('finance', 'member', 'alert', ['list']);
    expect(response.statusCode, response.body).toBe(403);
    expect(response.json()).toMatchObject({ code: 'forbidden', reason: 'grant_exceeds_author' });
    expect(await holds('member', 'alert', 'list')).toBe(false);
    // What finance holds, it may pass on.
    expect((await setGrants('finance', 'member', 'billing_catalog', ['list'])).statusCode).toBe(200);
  });

  it('AZ-2 one blanket Cedar permit cannot grant everyone everything (400 privileged_to_low_role)', async () => {
    for (const who of ['admin', 'owner']) {
      const response = await putPolicy(who, 'everything', 'permit (principal, action, resource);');
      expect(response.statusCode, `${who}: ${response.body}`).toBe(400);
      expect(response.json()).toMatchObject({ reason: 'privileged_to_low_role' });
    }
    expect((await as('admin', { method: 'GET', url: '/api/v1/authz/policies' })).json().items).toEqual([]);
  });
});

describe('ID-5 owner-only permissions', () => {
  it('ID-5 an owner-only permission never goes to a role without high privilege, whoever asks', async () => {
    for (const who of ['admin', 'owner']) {
      const response = await setGrants(who, 'viewer', 'client', ['list', 'create']);
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json()).toMatchObject({ reason: 'privileged_to_low_role' });
    }
    expect(await holds('viewer', 'client', 'create')).toBe(false);
  });

  it('ID-5 only an owner grants one (403 privileged_needs_owner for an admin)', async () => {
    const response = await setGrants('admin', 'finance', 'client', ['create']);
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ reason: 'privileged_needs_owner' });
  });

  it('ID-5 an owner’s grant waits for a second admin: 202 pending, not applied, then approved by someone else', async () => {
    const requested = await setGrants('owner', 'finance', 'client', ['create']);
    expect(requested.statusCode, requested.body).toBe(202);
    const { changeId, status } = requested.json();
    expect(status).toBe('pending');
    expect(await holds('finance', 'client', 'create')).toBe(false);
    const pending = await as('admin', { method: 'GET', url: '/api/v1/authz/changes/pending' });
    expect(pending.json().items.map((c: { id: string }) => c.id)).toContain(changeId);
    const approve = (who: string) => as(who, { method: 'POST', url: `/api/v1/authz/changes/${changeId}/approve`, payload: { justification: 'finance registers its payment app' } });
    const self = await approve('owner');
    expect(self.statusCode).toBe(403);
    expect(self.json()).toMatchObject({ reason: 'approver_is_author' });
    expect((await approve('viewer')).statusCode).toBe(403);
    const approved = await approve('admin');
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json()).toMatchObject({ status: 'applied' });
    expect(await holds('finance', 'client', 'create')).toBe(true);
    expect((await approve('second-admin')).statusCode).toBe(404);
    const events = await rampart.db.owner.selectFrom('audit_events').select('action').where('chain', '=', tenant.id).where('action', 'like', 'authz.%').execute();
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['authz.change.requested', 'authz.change.approved', 'authz.matrix.updated']));
  });
});

describe('AZ-2 the owner can never be locked out', () => {
  it('AZ-2 a forbid on the owner is refused for admin and owner alike (409 owner_lockout)', async () => {
    for (const who of ['admin', 'owner']) {
      const response = await putPolicy(who, 'no-owner', 'forbid (principal in Role::"owner", action, resource);');
      expect(response.statusCode, response.body).toBe(409);
      expect(response.json()).toMatchObject({ reason: 'owner_lockout' });
    }
  });

  it('AZ-2 taking administration from the owner is refused; only an owner reduces the owner role at all', async () => {
    const lockout = await setGrants('owner', 'owner', 'matrix', ['read']);
    expect(lockout.statusCode).toBe(409);
    const byAdmin = await setGrants('admin', 'owner', 'alert', []);
    expect(byAdmin.statusCode).toBe(403);
    expect(byAdmin.json()).toMatchObject({ reason: 'owner_only_change' });
    expect(await holds('owner', 'alert', 'list')).toBe(true);
  });
});

describe('AZ-2 the ceiling holds for app specs too (plans, DE-4)', () => {
  const crmV2 = (grant: (matrix: Record<string, Record<string, string[]>>) => void) => {
    const spec = structuredClone(TEMPLATES.crm) as { version: number; matrix: Record<string, Record<string, string[]>> };
    spec.version = 2;
    grant(spec.matrix);
    return spec;
  };
  const plan = (who: string, spec: unknown) => as(who, { method: 'POST', url: '/api/v1/app-plans', payload: { spec, justification: 'give the team what the quarter needs' } });

  beforeAll(async () => {
    await rampart.apps.installTemplate({ tenantId: tenant.id, actor: { type: 'system', id: 'test' }, name: 'crm' });
  });

  it('AZ-2 a spec that gives a low role a secret read is refused, an admin cannot grant one at all, an owner’s waits for a second admin', async () => {
    const toMember = await plan('owner', crmV2((m) => (m.member = { ...(m.member ?? {}), company: ['list', 'read', 'read_secret'] })));
    expect(toMember.statusCode, toMember.body).toBe(400);
    expect(toMember.json()).toMatchObject({ reason: 'privileged_to_low_role' });
    const byAdmin = await plan('admin', crmV2((m) => (m.admin!.company = [...m.admin!.company!, 'read_secret'])));
    // The admin does not hold read_secret itself: refused before the owner-only rule is reached.
    expect(byAdmin.statusCode, byAdmin.body).toBe(403);
    expect(byAdmin.json()).toMatchObject({ reason: 'grant_exceeds_author' });

    const byOwner = await plan('owner', crmV2((m) => (m.admin!.company = [...m.admin!.company!, 'read_secret'])));
    expect(byOwner.statusCode, byOwner.body).toBe(201);
    expect(byOwner.json()).toMatchObject({ status: 'pending', requiresApproval: true });
    const id = byOwner.json().id as string;
    const apply = () => as('owner', { method: 'POST', url: `/api/v1/app-plans/${id}/apply`, payload: { justification: 'give the team what the quarter needs' } });
    expect((await apply()).statusCode).toBe(409);
    expect(await holds('admin', 'crm__company', 'read_secret')).toBe(false);
    expect((await as('admin', { method: 'POST', url: `/api/v1/app-plans/${id}/approve`, payload: { justification: 'reviewed with the data owner' } })).statusCode).toBe(200);
    const applied = await apply();
    expect(applied.statusCode, applied.body).toBe(200);
    expect(await holds('admin', 'crm__company', 'read_secret')).toBe(true);
  });
});
