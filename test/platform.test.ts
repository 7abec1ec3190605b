import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Rampart } from '../src/app.js';
import { BUILTIN_ROLES, checkPlatformRoutes, PLATFORM_RESOURCE_NAMES, resourceScope } from '../src/authz/index.js';
import { uuidv7 } from '../src/core/index.js';
import type { Tenant } from '../src/db/index.js';
import { defineRoute, requireFreshAuth, type Principal } from '../src/http/index.js';
import { completeSetup, issueSetupToken } from '../src/identity/index.js';
import { memberWithPasskey, type PasskeyMember } from './support/members.js';
import { bearerAuthenticator, testRampart } from './support/rampart.js';

/**
 * The platform scope (DESIGN "Scopes"; issue 12 class 1): signing keys, the operator list, jobs
 * and the outbox are shared by every tenant, so no tenant principal reaches them, whatever the
 * tenant's matrix or Cedar policies say. Only a platform operator with a passkey session does.
 */

const principals: Record<string, Principal> = {};
const tokenFor = (role: string) => `acme-${role}`;
let walk: Rampart;
let acme: Tenant;

const sample = (method: string, url: string): InjectOptions => ({
  method: method as InjectOptions['method'],
  url: url.replace(/:[a-zA-Z]+/g, '01900000-0000-7000-8000-00000000abcd'),
  ...(method === 'GET' || method === 'HEAD' ? {} : { payload: { justification: 'platform maintenance window' } }),
});

beforeAll(async () => {
  walk = await testRampart({ authenticate: (request) => bearerAuthenticator(principals)(request) });
  acme = await walk.createTenant({ slug: 'acme', name: 'Acme' });
  // Every built-in role, signed in with a passkey just now, with real (uuid) ids.
  for (const role of BUILTIN_ROLES) principals[tokenFor(role.name)] = { type: 'user', id: uuidv7(), tenantId: acme.id, roles: [role.name], amr: ['swk', 'mfa'], factorTimes: { webauthn: new Date() } };
  // The widest tenant policy there is, written straight to the table (as if it predated any check).
  await walk.db.owner.insertInto('authz_policies').values({ tenant_id: acme.id, id: 'everything', cedar: 'permit (principal, action, resource);', description: '' }).execute();
  walk.authz.invalidate(acme.id);
});
afterAll(() => walk?.close());

const platformRoutes = () => walk.server.routeTable.filter((r) => 'action' in r.auth && r.method !== 'HEAD' && resourceScope(r.auth.resource) === 'platform') as Array<{ method: string; url: string; auth: { resource: string; action: string } }>;

describe('DE-2 no tenant principal reaches a platform resource', () => {
  it('the catalogue marks the shared resources platform, and routes use them', () => {
    expect([...PLATFORM_RESOURCE_NAMES].sort()).toEqual(['job', 'outbox', 'platform_operator', 'signing_key']);
    expect(platformRoutes().map((r) => `${r.method} ${r.url}`).sort()).toEqual(['GET /api/v1/oidc/keys', 'GET /api/v1/platform/operators', 'GET /dev/outbox', 'POST /api/v1/oidc/keys/rotate']);
  });

  it('DE-2 every platform route refuses every tenant role (owner included), even under a blanket tenant permit', async () => {
    // The blanket permit is in force for tenant resources: it opens what the matrix does not.
    const opened = await walk.server.app.inject({ method: 'GET', url: '/api/v1/audit/events', headers: { authorization: `Bearer ${tokenFor('viewer')}` } });
    expect(opened.statusCode).toBe(200);
    for (const route of platformRoutes()) {
      for (const role of BUILTIN_ROLES) {
        const response = await walk.server.app.inject({ ...sample(route.method, route.url), headers: { authorization: `Bearer ${tokenFor(role.name)}` } });
        expect(response.statusCode, `${role.name} ${route.method} ${route.url}`).toBe(403);
      }
      expect((await walk.server.app.inject(sample(route.method, route.url))).statusCode).toBe(401);
    }
  });

  it('ID-3 ID-7 an operator lists the keys and rotates them only with a fresh passkey proof; no private material is shown', async () => {
    const id = uuidv7();
    const now = new Date();
    await walk.db.owner.insertInto('users').values({ tenant_id: acme.id, id, email: 'keys@acme.test', display_name: 'Keys', department: null, region: null, password_hash: null, created_at: now, updated_at: now }).execute();
    await walk.platform.grant({ accountTenantId: acme.id, accountUserId: id, actor: { type: 'system', id: 'test' }, justification: 'on call for the platform' });
    principals['stale-operator'] = { type: 'user', id, tenantId: acme.id, roles: ['member'], amr: ['swk', 'mfa'], factorTimes: { webauthn: new Date(Date.now() - 3_600_000) } };
    principals['fresh-operator'] = { ...principals['stale-operator'], factorTimes: { webauthn: new Date() } };
    const as = (who: string, options: InjectOptions) => walk.server.app.inject({ ...options, headers: { authorization: `Bearer ${who}` } });
    const keys = await as('stale-operator', { method: 'GET', url: '/api/v1/oidc/keys' });
    expect(keys.statusCode).toBe(200);
    expect(keys.json().keys.length).toBeGreaterThanOrEqual(4);
    expect(keys.body).not.toMatch(/"d"|private/);
    const stale = await as('stale-operator', { method: 'POST', url: '/api/v1/oidc/keys/rotate', payload: { justification: 'rotate after an incident' } });
    expect(stale.statusCode).toBe(401);
    expect(stale.json().type).toMatch(/step-up/);
    expect((await as('fresh-operator', { method: 'POST', url: '/api/v1/oidc/keys/rotate', payload: { justification: 'rotate after an incident' } })).statusCode).toBe(200);
  });

  it('DE-2 a tenant cannot name a platform resource in its matrix, its Cedar policies or its clients’ scopes', async () => {
    const as = (role: string, options: InjectOptions) => walk.server.app.inject({ ...options, headers: { authorization: `Bearer ${tokenFor(role)}` } });
    const matrix = await as('owner', { method: 'PUT', url: '/api/v1/authz/matrix/admin/signing_key', payload: { actions: ['rotate'], justification: 'admins rotate the keys' } });
    expect(matrix.statusCode).toBe(400);
    const policy = await as('owner', { method: 'PUT', url: '/api/v1/authz/policies/keys', payload: { cedar: 'permit (principal, action, resource is signing_key);', justification: 'admins rotate the keys' } });
    expect(policy.statusCode).toBe(400);
    for (const scopes of [['openid', 'rampart:*'], ['openid', 'rampart:signing_key'], ['openid', 'rampart:outbox:read']]) {
      const client = await as('owner', { method: 'POST', url: '/api/v1/oidc/clients', payload: { name: 'CLI', type: 'public', redirectUris: ['http://127.0.0.1/cb'], scopes, justification: 'a command-line tool for our staff' } });
      expect(client.statusCode, scopes.join(' ')).toBe(400);
      expect(client.json(), client.body).toMatchObject({ code: 'validation_failed' });
      expect(JSON.stringify(client.json())).toContain('/scopes/1');
    }
  });

  it('DE-2 a platform route that changes state without a fresh passkey and a justification cannot start', () => {
    const route = (auth: { justify?: true; fresh?: ReturnType<typeof requireFreshAuth> }) =>
      defineRoute({ method: 'POST', url: '/api/v1/platform/x', auth: { action: 'retry', resource: 'job', ...auth }, body: z.strictObject({}), handler: async () => undefined });
    expect(() => checkPlatformRoutes([route({ justify: true })])).toThrow(/fresh passkey/);
    expect(() => checkPlatformRoutes([route({ fresh: requireFreshAuth({ maxAgeSeconds: 300 }) })])).toThrow(/justify/);
    expect(() => checkPlatformRoutes([route({ justify: true, fresh: requireFreshAuth({ maxAgeSeconds: 300 }) })])).not.toThrow();
  });
});

describe('ID-3 platform operators', () => {
  let rampart: Rampart;
  let tenant: Tenant;
  let operator: PasskeyMember;
  const call = (cookie: string | undefined, options: InjectOptions) => rampart.server.app.inject({ ...options, headers: { ...(cookie ? { cookie } : {}), ...(options.headers ?? {}) } });

  beforeAll(async () => {
    rampart = await testRampart();
    tenant = await rampart.createTenant({ slug: 'ops', name: 'Ops' });
    operator = await memberWithPasskey(rampart, tenant, 'ops@ops.test', 'member');
  });
  afterAll(() => rampart?.close());

  it('ID-3 an operator with a passkey session lists and rotates the signing keys; the grant and the rotation are audited in the platform chain', async () => {
    expect((await call(operator.cookie, { method: 'GET', url: '/api/v1/oidc/keys' })).statusCode).toBe(403);
    await rampart.platform.grant({ accountTenantId: tenant.id, accountUserId: operator.id, actor: { type: 'system', id: 'cli' }, justification: 'on call for the platform' });
    expect((await call(operator.cookie, { method: 'GET', url: '/api/v1/oidc/keys' })).statusCode).toBe(200);
    const rotated = await call(operator.cookie, { method: 'POST', url: '/api/v1/oidc/keys/rotate', payload: { justification: 'quarterly rotation drill' } });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const listed = await call(operator.cookie, { method: 'GET', url: '/api/v1/platform/operators' });
    expect(listed.json().items).toEqual([expect.objectContaining({ account_tenant_id: tenant.id, account_user_id: operator.id, granted_by: 'system:cli' })]);
    const events = await rampart.db.owner.selectFrom('audit_events').select('action').where('chain', '=', 'system').execute();
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['platform.operator.granted', 'identity.signing_key.rotated']));
    await rampart.platform.revoke({ accountTenantId: tenant.id, accountUserId: operator.id, actor: { type: 'system', id: 'cli' }, justification: 'left the on-call rotation' });
    expect((await call(operator.cookie, { method: 'GET', url: '/api/v1/oidc/keys' })).statusCode).toBe(403);
  });

  it('ID-5 an operator without a passkey proof in the session, through an OAuth token or as an agent is refused', async () => {
    const { platformAuthorizer } = await import('../src/authz/index.js');
    const authorize = platformAuthorizer({ isOperator: async () => true });
    const base = { type: 'user' as const, id: operator.id, tenantId: tenant.id, roles: ['owner'] };
    const input = (principal: Principal) => ({ principal, action: 'list', resource: 'signing_key', request: {} as never });
    expect(await authorize(input({ ...base, factorTimes: { webauthn: new Date() } }))).toBe(true);
    expect(await authorize(input({ ...base, factorTimes: {}, amr: ['pwd', 'otp'] }))).toBe(false);
    expect(await authorize(input({ ...base, factorTimes: { webauthn: new Date() }, scopes: new Set(['rampart:*']) }))).toBe(false);
    expect(await authorize(input({ ...base, type: 'agent', onBehalfOf: operator.id, factorTimes: { webauthn: new Date() } }))).toBe(false);
  });

  it('ID-3 the first admin set up on an install without an operator becomes it; later setups grant nothing', async () => {
    const fresh = await testRampart();
    try {
      const setUp = async (slug: string) => {
        const created = await fresh.createTenant({ slug, name: slug });
        const { token } = (await issueSetupToken(fresh.identity.accounts, { tenantId: created.id }))!;
        const { user } = await completeSetup(fresh.identity.accounts, { tenantId: created.id, token, email: `owner@${slug}.test`, displayName: 'Owner', password: 'violet-harbour-lantern-88' });
        return { tenantId: created.id, id: user.id };
      };
      const first = await setUp('first');
      const second = await setUp('second');
      expect(await fresh.platform.isOperator({ tenantId: first.tenantId, id: first.id })).toBe(true);
      expect(await fresh.platform.isOperator({ tenantId: second.tenantId, id: second.id })).toBe(false);
    } finally {
      await fresh.close();
    }
  });
});
