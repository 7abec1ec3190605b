import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Rampart } from '../src/app.js';
import { PUBLIC_READ_BUDGET } from '../src/apps/index.js';
import type { Tenant } from '../src/db/index.js';
import { createInvitation } from '../src/identity/index.js';
import type { Principal } from '../src/http/index.js';
import { bearerAuthenticator, testRampart } from './support/rampart.js';

/**
 * Anonymous reads of `public: true` app resources (AZ-2, DA-1): the caller names the tenant by
 * slug, acts as that tenant's `anonymous` role under RLS, may only list and read what the spec
 * grants to anonymous, never sees people's ids or gated fields, and is rate limited per IP.
 */

const catalog = {
  app: 'catalog',
  version: 1,
  title: 'Catalog',
  resources: [
    {
      name: 'product',
      public: true,
      attributes: { owner: true },
      fields: [
        { name: 'name', type: 'text', class: 'public', required: true, max: 200 },
        { name: 'price', type: 'money', class: 'public', currency: 'EUR', min: 0 },
      ],
    },
    {
      name: 'supplier',
      fields: [
        { name: 'name', type: 'text', class: 'internal', required: true, max: 200 },
        { name: 'email', type: 'email', class: 'pii' },
      ],
    },
  ],
  matrix: {
    owner: { product: ['list', 'read', 'create', 'update', 'delete'], supplier: ['list', 'read', 'create', 'read_pii'] },
    anonymous: { product: ['list', 'read'] },
  },
};

const principals: Record<string, Principal> = {};
let rampart: Rampart;
let alpha: Tenant;
let beta: Tenant;
const products: Record<string, { id: string }[]> = {};
const suppliers: Record<string, { id: string }> = {};

const call = (token: string | null, options: InjectOptions) =>
  rampart.server.app.inject({ ...options, headers: { ...(options.headers ?? {}), ...(token ? { authorization: `Bearer ${token}` } : {}) } });
/** Each test calls from its own address so the per-IP budget of one does not spill into another. */
const anon = (url: string, ip: string, method: InjectOptions['method'] = 'GET', payload?: unknown) => rampart.server.app.inject({ method, url, remoteAddress: ip, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });

beforeAll(async () => {
  rampart = await testRampart({ authenticate: (request) => bearerAuthenticator(principals)(request) });
  alpha = await rampart.createTenant({ slug: 'alpha', name: 'Alpha' });
  beta = await rampart.createTenant({ slug: 'beta', name: 'Beta' });
  for (const tenant of [alpha, beta]) {
    const owner = `${tenant.slug}-owner`;
    principals[owner] = { type: 'user', id: owner, tenantId: tenant.id, roles: ['owner'] };
    const applied = await call(owner, { method: 'POST', url: '/api/v1/app-plans', payload: { spec: catalog, justification: 'publish the product catalog' } });
    expect(applied.statusCode, applied.body).toBe(201);
    products[tenant.slug] = [];
    for (const name of [`${tenant.slug} anvil`, `${tenant.slug} rope`]) {
      const created = await call(owner, { method: 'POST', url: '/api/v1/apps/catalog/product', payload: { name, price: 1200 } });
      expect(created.statusCode, created.body).toBe(201);
      products[tenant.slug]!.push(created.json());
    }
    const supplier = await call(owner, { method: 'POST', url: '/api/v1/apps/catalog/supplier', payload: { name: 'Acme', email: 'sales@acme.test' } });
    expect(supplier.statusCode, supplier.body).toBe(201);
    suppliers[tenant.slug] = supplier.json();
  }
});
afterAll(() => rampart.close());

describe('anonymous reads of public resources (AZ-2, DA-1)', () => {
  it('AZ-2 anonymous lists the public resource of the tenant it names, and only that tenant’s rows', async () => {
    const response = await anon('/api/v1/public/alpha/apps/catalog/product?sort=created_at', '10.0.0.1');
    expect(response.statusCode, response.body).toBe(200);
    const { items } = response.json() as { items: Record<string, unknown>[] };
    expect(items.map((item) => item.name)).toEqual(['alpha anvil', 'alpha rope']);
    expect(items[0]).toMatchObject({ id: products.alpha![0]!.id, price: 1200 });
    const other = (await anon('/api/v1/public/beta/apps/catalog/product', '10.0.0.1')).json() as { items: Record<string, unknown>[] };
    expect(other.items.map((item) => item.name).sort()).toEqual(['beta anvil', 'beta rope']);
  });

  it('DA-1 anonymous never sees the ids of the tenant’s people, nor filters on them', async () => {
    const { items } = (await anon('/api/v1/public/alpha/apps/catalog/product', '10.0.0.2')).json() as { items: Record<string, unknown>[] };
    for (const item of items) {
      expect(item).not.toHaveProperty('owner_id');
      expect(item).not.toHaveProperty('created_by');
    }
    expect((await anon('/api/v1/public/alpha/apps/catalog/product?owner_id=alpha-owner', '10.0.0.2')).statusCode).toBe(400);
    expect((await anon('/api/v1/public/alpha/apps/catalog/product?sort=-owner_id', '10.0.0.2')).statusCode).toBe(400);
  });

  it('AZ-2 anonymous reads one record of tenant A, never tenant B’s through A’s URL or the other way round', async () => {
    const own = await anon(`/api/v1/public/alpha/apps/catalog/product/${products.alpha![1]!.id}`, '10.0.0.3');
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json()).toMatchObject({ name: 'alpha rope' });
    expect(own.json()).not.toHaveProperty('owner_id');
    expect((await anon(`/api/v1/public/alpha/apps/catalog/product/${products.beta![0]!.id}`, '10.0.0.3')).statusCode).toBe(404);
    expect((await anon(`/api/v1/public/beta/apps/catalog/product/${products.alpha![0]!.id}`, '10.0.0.3')).statusCode).toBe(404);
  });

  it('AZ-2 a resource without public: true answers 404 to anonymous, list and read alike (as do unknown tenants and apps)', async () => {
    for (const url of [
      '/api/v1/public/alpha/apps/catalog/supplier',
      `/api/v1/public/alpha/apps/catalog/supplier/${suppliers.alpha!.id}`,
      '/api/v1/public/nobody/apps/catalog/product',
      '/api/v1/public/alpha/apps/crm/contact',
      '/api/v1/public/alpha/apps/catalog/nothing',
    ]) {
      const response = await anon(url, '10.0.0.4');
      expect(response.statusCode, url).toBe(404);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('AZ-2 a signed-in caller of another tenant is still anonymous on the public routes', async () => {
    const response = await call('beta-owner', { method: 'GET', url: '/api/v1/public/alpha/apps/catalog/product', remoteAddress: '10.0.0.5' });
    expect(response.statusCode).toBe(200);
    expect((response.json() as { items: { name: string; owner_id?: string }[] }).items.map((item) => item.name).sort()).toEqual(['alpha anvil', 'alpha rope']);
    expect((await call('beta-owner', { method: 'GET', url: '/api/v1/public/alpha/apps/catalog/supplier', remoteAddress: '10.0.0.5' })).statusCode).toBe(404);
  });

  it('AZ-2 anonymous never writes: there are no public create, update or delete routes', async () => {
    const id = products.alpha![0]!.id;
    expect((await anon('/api/v1/public/alpha/apps/catalog/product', '10.0.0.6', 'POST', { name: 'free stuff' })).statusCode).toBe(404);
    expect((await anon(`/api/v1/public/alpha/apps/catalog/product/${id}`, '10.0.0.6', 'PATCH', { price: 0 })).statusCode).toBe(404);
    expect((await anon(`/api/v1/public/alpha/apps/catalog/product/${id}`, '10.0.0.6', 'DELETE')).statusCode).toBe(404);
    // And the signed-in data API still wants a signed-in caller.
    expect((await anon('/api/v1/apps/catalog/product', '10.0.0.6', 'POST', { name: 'free stuff' })).statusCode).toBe(401);
    const still = await call('alpha-owner', { method: 'GET', url: `/api/v1/apps/catalog/product/${id}` });
    expect(still.json()).toMatchObject({ name: 'alpha anvil', price: 1200 });
  });

  it('AZ-2 anonymous reads are rate limited per IP (429 with Retry-After), other addresses unaffected', async () => {
    const ip = '10.0.9.9';
    // Probing slugs spends the same budget as reading: the limit comes before any lookup.
    for (let i = 0; i < PUBLIC_READ_BUDGET.points; i++) expect((await anon('/api/v1/public/nobody/apps/catalog/product', ip)).statusCode).toBe(404);
    const limited = await anon('/api/v1/public/alpha/apps/catalog/product', ip);
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ code: 'rate_limited' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await anon('/api/v1/public/alpha/apps/catalog/product', '10.0.9.10')).statusCode).toBe(200);
  });
});

describe('the anonymous role an apply creates (ID, AZ-2)', () => {
  it('AZ-2 nobody can be invited into the anonymous role, though the apply created it', async () => {
    const { rows } = await sql<{ name: string }>`select name from authz_roles where tenant_id = ${alpha.id} and name = 'anonymous'`.execute(rampart.db.owner);
    expect(rows).toHaveLength(1);
    const invite = createInvitation(rampart.identity.accounts, { tenantId: alpha.id, actor: { type: 'user', id: 'alpha-owner' }, email: 'someone@alpha.test', role: 'anonymous', justification: 'let this person see the catalog' });
    await expect(invite).rejects.toMatchObject({ code: 'validation_failed', status: 400 });
    const stored = await sql<{ n: number }>`select count(*)::int as n from invitations where tenant_id = ${alpha.id} and role = 'anonymous'`.execute(rampart.db.owner);
    expect(stored.rows[0]!.n).toBe(0);
    // The check is on this one reserved name: other roles are invited as before.
    await expect(createInvitation(rampart.identity.accounts, { tenantId: alpha.id, actor: { type: 'user', id: 'alpha-owner' }, email: 'someone@alpha.test', role: 'member', justification: 'a real colleague joins' })).resolves.toBeDefined();
  });
});
