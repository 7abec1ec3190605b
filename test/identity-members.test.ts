import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { uuidv7 } from '../src/core/index.js';
import { withTenant, type Tenant } from '../src/db/index.js';
import type { Principal } from '../src/http/index.js';
import { bearerAuthenticator, testRampart } from './support/rampart.js';

/**
 * GET /api/v1/members (the dashboard's People screen): authorized per the matrix (AZ-2), scoped
 * to the caller's tenant (invariant 1), keyset paginated, and never any factor material (ID-5).
 */

const principals: Record<string, Principal> = {};
let rampart: Rampart;
let acme: Tenant;
let other: Tenant;
const acmeIds: string[] = [];

const call = (token: string, options: InjectOptions) => rampart.server.app.inject({ ...options, headers: { authorization: `Bearer ${token}` } });

async function addUser(tenant: Tenant, email: string, roles: string[], factors: { passkey?: boolean; totp?: boolean } = {}) {
  const id = uuidv7();
  await withTenant(rampart.db, { tenantId: tenant.id, actor: { type: 'system', id: 'test' } }, async (trx) => {
    await trx.insertInto('users').values({ tenant_id: tenant.id, id, email, display_name: email.split('@')[0]!, password_hash: '$argon2id$v=19$secret-hash-never-shown' }).execute();
    for (const role of roles) await trx.insertInto('user_roles').values({ tenant_id: tenant.id, user_id: id, role }).execute();
    if (factors.totp) await trx.insertInto('totp_credentials').values({ tenant_id: tenant.id, user_id: id, secret_ciphertext: 'sealed-totp-secret-never-shown', confirmed_at: new Date() }).execute();
    if (factors.passkey) {
      await trx
        .insertInto('webauthn_credentials')
        .values({ tenant_id: tenant.id, id: uuidv7(), user_id: id, credential_id: 'cred-never-shown', public_key: Buffer.from('public-key-never-shown'), counter: 0, transports: [], device_type: 'multiDevice', backed_up: true, name: 'Laptop' })
        .execute();
    }
  });
  return id;
}

beforeAll(async () => {
  rampart = await testRampart({ authenticate: (request) => bearerAuthenticator(principals)(request) });
  acme = await rampart.createTenant({ slug: 'acme', name: 'Acme' });
  other = await rampart.createTenant({ slug: 'other', name: 'Other' });
  for (const role of ['admin', 'auditor', 'viewer', 'member']) principals[`acme-${role}`] = { type: 'user', id: `acme-${role}`, tenantId: acme.id, roles: [role] };
  principals['other-admin'] = { type: 'user', id: 'other-admin', tenantId: other.id, roles: ['admin'] };
  acmeIds.push(await addUser(acme, 'ada@acme.test', ['admin'], { passkey: true, totp: true }));
  acmeIds.push(await addUser(acme, 'bob@acme.test', ['member', 'viewer'], { totp: true }));
  acmeIds.push(await addUser(acme, 'cy@acme.test', []));
  await addUser(other, 'eve@other.test', ['admin'], { passkey: true });
});
afterAll(() => rampart.close());

describe('GET /api/v1/members', () => {
  it('ID-5 lists the tenant’s members with roles and factor booleans, no secrets', async () => {
    const response = await call('acme-admin', { method: 'GET', url: '/api/v1/members' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.items.map((m: { email: string }) => m.email)).toEqual(['ada@acme.test', 'bob@acme.test', 'cy@acme.test']);
    expect(body.items[0]).toEqual({ id: acmeIds[0], email: 'ada@acme.test', display_name: 'ada', roles: ['admin'], status: 'active', created_at: expect.any(String), has_passkey: true, has_totp: true });
    expect(body.items[1]).toMatchObject({ roles: ['member', 'viewer'], has_passkey: false, has_totp: true });
    expect(body.items[2]).toMatchObject({ roles: [], has_passkey: false, has_totp: false });
    expect(body.next_cursor).toBeNull();
    for (const secret of ['argon2', 'secret-hash', 'sealed-totp', 'cred-never-shown', 'password']) expect(response.body).not.toContain(secret);
  });

  it('invariant 1: another tenant’s members are never visible', async () => {
    const acmeList = await call('acme-admin', { method: 'GET', url: '/api/v1/members?limit=200' });
    expect(acmeList.body).not.toContain('eve@other.test');
    const otherList = await call('other-admin', { method: 'GET', url: '/api/v1/members' });
    expect(otherList.json().items.map((m: { email: string }) => m.email)).toEqual(['eve@other.test']);
    // A cursor taken from another tenant does not open its rows either.
    const crossed = await call('other-admin', { method: 'GET', url: `/api/v1/members?after=00000000-0000-0000-0000-000000000000` });
    expect(crossed.body).not.toContain('acme.test');
  });

  it('pages with a cursor and bounds the limit', async () => {
    const first = await call('acme-admin', { method: 'GET', url: '/api/v1/members?limit=2' });
    expect(first.json().items).toHaveLength(2);
    expect(first.json().next_cursor).toBe(acmeIds[1]);
    const second = await call('acme-admin', { method: 'GET', url: `/api/v1/members?limit=2&after=${first.json().next_cursor}` });
    expect(second.json().items.map((m: { id: string }) => m.id)).toEqual([acmeIds[2]]);
    expect(second.json().next_cursor).toBeNull();
    expect((await call('acme-admin', { method: 'GET', url: '/api/v1/members?limit=201' })).statusCode).toBe(400);
    expect((await call('acme-admin', { method: 'GET', url: '/api/v1/members?after=not-a-uuid' })).statusCode).toBe(400);
  });

  it('AZ-2 per the matrix: the auditor may list, a viewer and a member are refused', async () => {
    expect((await call('acme-auditor', { method: 'GET', url: '/api/v1/members' })).statusCode).toBe(200);
    for (const role of ['viewer', 'member']) {
      const refused = await call(`acme-${role}`, { method: 'GET', url: '/api/v1/members' });
      expect(refused.statusCode).toBe(403);
      expect(refused.body).not.toContain('ada@acme.test');
    }
  });
});
