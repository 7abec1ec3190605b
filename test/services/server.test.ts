import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRampart, type Rampart } from '../../src/app.js';
import { generateSigningKeyPem } from '../../src/audit/index.js';
import { withTenant, type Tenant } from '../../src/db/index.js';
import { bearerAuthenticator, testConfig } from '../support/rampart.js';
import { REDIS_URL } from './env.js';
import { createScratchDatabase } from './pg-harness.js';

const missing = inject('servicesMissing');

describe.skipIf(missing.length > 0)('a whole Rampart on PostgreSQL and Redis', () => {
  let rampart: Rampart;
  let drop: () => Promise<void>;
  let a: Tenant;
  let b: Tenant;

  beforeAll(async () => {
    const scratch = await createScratchDatabase();
    drop = scratch.drop;
    let principals: Parameters<typeof bearerAuthenticator>[0] = {};
    rampart = await createRampart({
      config: testConfig({ database: { url: scratch.url }, redis: { url: REDIS_URL } }),
      env: {},
      authenticate: (request) => bearerAuthenticator(principals)(request),
    });
    a = await rampart.createTenant({ slug: 'acme', name: 'Acme' });
    b = await rampart.createTenant({ slug: 'globex', name: 'Globex' });
    principals = {
      'token-a': { type: 'user', id: 'alice', tenantId: a.id, roles: ['admin'] },
      'token-b': { type: 'user', id: 'bob', tenantId: b.id, roles: ['admin'] },
    };
  });
  afterAll(async () => {
    await rampart?.close();
    await drop?.();
  });

  it('migrates at start in development and reports ready with database, migrations and redis', async () => {
    const response = await rampart.server.app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ready', checks: { database: 'ok', migrations: 'ok', redis: 'ok', policy_engine: 'ok' } });
  });

  it('DE-2 requests run as the login role rampart_app, which cannot switch to the owner', async () => {
    const who = await withTenant(rampart.db, { tenantId: a.id, actor: { type: 'system', id: 't' } }, async (trx) => (await sql<{ u: string; s: string }>`select current_user as u, session_user as s`.execute(trx)).rows[0]);
    expect(who).toEqual({ u: 'rampart_app', s: 'rampart_app' });
    await expect(withTenant(rampart.db, { tenantId: a.id, actor: { type: 'system', id: 't' } }, (trx) => sql`set role postgres`.execute(trx))).rejects.toThrow(/permission denied/);
  });

  it('DE-2 each tenant reads only its own tenant row over HTTP', async () => {
    const asA = await rampart.server.app.inject({ method: 'GET', url: '/api/v1/tenant', headers: { authorization: 'Bearer token-a' } });
    const asB = await rampart.server.app.inject({ method: 'GET', url: '/api/v1/tenant', headers: { authorization: 'Bearer token-b' } });
    expect(asA.json()).toMatchObject({ id: a.id, slug: 'acme' });
    expect(asB.json()).toMatchObject({ id: b.id, slug: 'globex' });
    const anonymous = await rampart.server.app.inject({ method: 'GET', url: '/api/v1/tenant' });
    expect(anonymous.statusCode).toBe(401);
  });

  it('a second node against the same database starts without re-migrating', async () => {
    const second = await createRampart({ config: rampart.config, env: {} });
    try {
      const response = await second.server.app.inject({ method: 'GET', url: '/readyz' });
      expect(response.statusCode).toBe(200);
    } finally {
      await second.close();
    }
  });

  it('production refuses to start with pending migrations', async () => {
    const scratch = await createScratchDatabase();
    const secretsDir = await mkdtemp(join(tmpdir(), 'rampart-secrets-'));
    await writeFile(join(secretsDir, 'master_key'), randomBytes(32).toString('base64'));
    await writeFile(join(secretsDir, 'audit_signing_key'), generateSigningKeyPem());
    await writeFile(join(secretsDir, 'identity_pepper'), randomBytes(32).toString('base64'));
    try {
      const config = testConfig({ env: 'production', database: { url: scratch.url }, secrets: { dir: secretsDir }, http: { publicUrl: 'https://id.example.com' } });
      await expect(createRampart({ config, env: {} })).rejects.toThrow(/\d+ pending migration\(s\) \(1(, \d+)*\); production does not migrate at start/);
      const tables = new pg.Client({ connectionString: scratch.url });
      await tables.connect();
      const { rows } = await tables.query("select to_regclass('tenants') is null as absent");
      await tables.end();
      expect(rows[0].absent).toBe(true);
    } finally {
      await scratch.drop();
      await rm(secretsDir, { recursive: true, force: true });
    }
  });
});
