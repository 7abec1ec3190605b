import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import type { Tenant } from '../src/db/index.js';
import { bearerAuthenticator, testRampart } from './support/rampart.js';

/**
 * The client registry's admin API (controls ID-2, ID-8, AZ-5): validation, justification, tenant
 * isolation, a secret shown once and stored sealed, deletion revoking the client's tokens.
 */

let rampart: Rampart;
let acme: Tenant;
let globex: Tenant;
const why = 'registering the partner portal';

const call = (token: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
  rampart.server.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });

beforeAll(async () => {
  let ids: { acme?: string; globex?: string } = {};
  rampart = await testRampart({
    authenticate: (request) =>
      bearerAuthenticator({
        'acme-admin': { type: 'user', id: '00000000-0000-7000-8000-000000000001', tenantId: ids.acme!, roles: ['admin'] },
        'acme-viewer': { type: 'user', id: '00000000-0000-7000-8000-000000000002', tenantId: ids.acme!, roles: ['viewer'] },
        'globex-admin': { type: 'user', id: '00000000-0000-7000-8000-000000000003', tenantId: ids.globex!, roles: ['admin'] },
      })(request),
  });
  acme = await rampart.createTenant({ slug: 'acme', name: 'Acme' });
  globex = await rampart.createTenant({ slug: 'globex', name: 'Globex' });
  ids = { acme: acme.id, globex: globex.id };
});
afterAll(() => rampart?.close());

describe('OIDC client admin API', () => {
  let clientId = '';

  it('AZ-5 registering a client needs a justification; a confidential client gets its secret once, stored sealed', async () => {
    const body = { name: 'Partner portal', type: 'confidential', redirectUris: ['https://portal.example.com/callback'], scopes: ['openid', 'rampart:tenant:read'] };
    expect((await call('acme-admin', 'POST', '/api/v1/oidc/clients', body)).statusCode).toBe(400);
    const created = await call('acme-admin', 'POST', '/api/v1/oidc/clients', { ...body, justification: why });
    expect(created.statusCode).toBe(201);
    const { client, clientSecret } = created.json() as { client: { clientId: string; type: string; scopes: string[] }; clientSecret: string };
    clientId = client.clientId;
    expect(client.type).toBe('confidential');
    expect(client.scopes).toEqual(['openid', 'rampart:tenant:read']);
    expect(clientSecret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const read = await call('acme-admin', 'GET', `/api/v1/oidc/clients/${clientId}`);
    expect(read.body).not.toContain(clientSecret);
    const row = await rampart.db.owner.selectFrom('oidc_clients').select('secret_ciphertext').where('client_id', '=', clientId).executeTakeFirstOrThrow();
    expect(row.secret_ciphertext).toMatch(/^rk1\./);
    expect(row.secret_ciphertext).not.toContain(clientSecret);
    const audit = await rampart.db.owner.selectFrom('audit_events').select(['action', 'justification']).where('target_id', '=', clientId).execute();
    expect(audit).toEqual([{ action: 'identity.client.created', justification: why }]);
    expect(JSON.stringify(audit)).not.toContain(clientSecret);
  });

  it('ID-2 redirect URIs must be https (http only on loopback), without fragments, credentials or wildcards', async () => {
    for (const uri of ['http://portal.example.com/cb', 'https://portal.example.com/cb#x', 'https://user:pw@portal.example.com/cb', 'https://*.example.com/cb', 'javascript:alert(1)', 'not a url']) {
      const response = await call('acme-admin', 'POST', '/api/v1/oidc/clients', { name: 'Bad', type: 'public', redirectUris: [uri], justification: why });
      expect(response.statusCode, uri).toBe(400);
      expect(response.headers['content-type']).toMatch(/problem\+json/);
    }
    for (const uri of ['http://127.0.0.1:8080/cb', 'http://localhost/cb', 'com.example.app:/oauth']) {
      expect((await call('acme-admin', 'POST', '/api/v1/oidc/clients', { name: 'Native', type: 'public', applicationType: 'native', redirectUris: [uri], justification: why })).statusCode, uri).toBe(201);
    }
  });

  it('bad input is a 400 naming the field, never a 500', async () => {
    const cases = [
      { name: 'x'.repeat(201), type: 'public', redirectUris: ['https://a.example/cb'] },
      { name: 'ok', type: 'weird', redirectUris: ['https://a.example/cb'] },
      { name: 'ok', type: 'public', redirectUris: [] },
      { name: 'ok', type: 'public', redirectUris: ['https://a.example/cb'], scopes: ['UPPER'] },
      { name: 'ok', type: 'public', redirectUris: ['https://a.example/cb'], unknown: true },
      { name: 42, type: 'public', redirectUris: ['https://a.example/cb'] },
    ];
    for (const body of cases) {
      const response = await call('acme-admin', 'POST', '/api/v1/oidc/clients', { ...body, justification: why });
      expect(response.statusCode, JSON.stringify(body).slice(0, 80)).toBe(400);
    }
    expect((await call('acme-admin', 'GET', '/api/v1/oidc/clients/..%2F..%2Fetc')).statusCode).toBe(400);
  });

  it('a viewer may not register clients; another tenant sees a 404, never the client', async () => {
    expect((await call('acme-viewer', 'POST', '/api/v1/oidc/clients', { name: 'Mine', type: 'public', redirectUris: ['https://a.example/cb'], justification: why })).statusCode).toBe(403);
    expect((await call('acme-viewer', 'GET', '/api/v1/oidc/clients')).statusCode).toBe(403);
    expect((await call('globex-admin', 'GET', `/api/v1/oidc/clients/${clientId}`)).statusCode).toBe(404);
    expect((await call('globex-admin', 'PATCH', `/api/v1/oidc/clients/${clientId}`, { name: 'Hijacked', justification: why })).statusCode).toBe(404);
    expect((await call('globex-admin', 'DELETE', `/api/v1/oidc/clients/${clientId}`, { justification: why })).statusCode).toBe(404);
    const list = (await call('globex-admin', 'GET', '/api/v1/oidc/clients')).json() as { clients: unknown[] };
    expect(list.clients).toEqual([]);
    // The platform's dashboard client is invisible to tenants.
    expect(JSON.stringify((await call('acme-admin', 'GET', '/api/v1/oidc/clients')).json())).not.toContain('rampart-dashboard');
  });

  it('update and secret rotation are audited; deleting a client revokes its protocol state', async () => {
    const updated = await call('acme-admin', 'PATCH', `/api/v1/oidc/clients/${clientId}`, { redirectUris: ['https://portal.example.com/v2/callback'], justification: why });
    expect(updated.statusCode).toBe(200);
    expect(updated.json().redirectUris).toEqual(['https://portal.example.com/v2/callback']);
    const rotated = await call('acme-admin', 'POST', `/api/v1/oidc/clients/${clientId}/secret`, { justification: why });
    expect(rotated.statusCode).toBe(200);
    await rampart.db.owner.insertInto('oidc_payloads').values({ kind: 'AccessToken', id_hash: 'a'.repeat(64), payload: JSON.stringify({ clientId }), expires_at: new Date(Date.now() + 60_000) }).execute();
    expect((await call('acme-admin', 'DELETE', `/api/v1/oidc/clients/${clientId}`, { justification: why })).statusCode).toBe(204);
    expect(await rampart.db.owner.selectFrom('oidc_payloads').select('kind').where('id_hash', '=', 'a'.repeat(64)).execute()).toEqual([]);
    const actions = (await rampart.db.owner.selectFrom('audit_events').select('action').where('target_id', '=', clientId).where('action', 'like', 'identity.client.%').orderBy('seq').execute()).map((r) => r.action);
    expect(actions).toEqual(['identity.client.created', 'identity.client.updated', 'identity.client.secret_rotated', 'identity.client.deleted']);
  });

  it('ID-3 signing keys are a platform resource: a tenant admin neither lists nor rotates them (operators: test/platform.test.ts)', async () => {
    expect((await call('acme-admin', 'POST', '/api/v1/oidc/keys/rotate', { justification: 'rotate after an incident' })).statusCode).toBe(403);
    expect((await call('acme-admin', 'GET', '/api/v1/oidc/keys')).statusCode).toBe(403);
    expect((await call('acme-viewer', 'GET', '/api/v1/oidc/keys')).statusCode).toBe(403);
  });
});
