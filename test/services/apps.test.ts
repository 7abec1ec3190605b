import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApps, createRecord, installedResources, listRecords, readRecord, targetOf, TEMPLATES, MASK, type Apps, type DataDeps } from '../../src/apps/index.js';
import { createAuditLog } from '../../src/audit/index.js';
import { createAuthz, toAuthzPrincipal, type Authz } from '../../src/authz/index.js';
import { createKekRing, createKeyCache, generateKeyMaterial, kekId, systemClock } from '../../src/core/index.js';
import { createTenant, findRlsViolations, type Database, type Tenant } from '../../src/db/index.js';
import type { Principal } from '../../src/http/index.js';
import { postgresHarness } from './pg-harness.js';

/**
 * The app builder against real PostgreSQL (DE-2, DE-4, AZ-2, DA-2): the apply runs DDL as the
 * owner role in one transaction, grants rampart_app only DML, the catalog check passes, and the
 * data API (as the rampart_app login role, under RLS) encrypts, masks and isolates tenants.
 */

const hasPostgres = !inject('servicesMissing').some((m) => m.startsWith('PostgreSQL'));

describe.skipIf(!hasPostgres)('PostgreSQL: app builder', () => {
  const harness = postgresHarness();
  let db: Database;
  let authz: Authz;
  let apps: Apps;
  let data: DataDeps;
  const tenants: Tenant[] = [];
  const principal = (tenant: Tenant, id: string, roles: string[]): Principal => ({ type: 'user', id, tenantId: tenant.id, roles });
  const call = async (p: Principal, resource: string) => {
    const installed = (await apps.installedApp(p.tenantId, 'crm'))!;
    return { principal: toAuthzPrincipal(p), actor: { type: 'user' as const, id: p.id }, set: await authz.policySet(p.tenantId), target: targetOf(p.tenantId, installed.spec, resource)! };
  };

  beforeAll(async () => {
    db = await harness.migrated();
    const audit = createAuditLog();
    authz = createAuthz({ db, audit, tenantResources: installedResources });
    apps = createApps({ db, audit, authz, clock: systemClock, requireApproval: false });
    const key = generateKeyMaterial();
    data = { db, audit, keys: { ring: createKekRing({ id: kekId(key), key }), cache: createKeyCache() } };
    for (const slug of ['acme', 'globex']) {
      const tenant = await createTenant(db, { slug, name: slug }, undefined, (trx, t) => authz.provisionTenant(trx, t));
      tenants.push(tenant);
      await apps.installTemplate({ tenantId: tenant.id, actor: { type: 'system', id: 'test' }, name: 'crm' });
    }
  });
  afterAll(() => harness.cleanup());

  it('DE-2 the catalog check passes with the CRM applied to two tenants', async () => {
    expect(await findRlsViolations(db)).toEqual([]);
  });

  it('AZ-2 DA-1 DA-2 the data API runs as rampart_app: encrypted, masked, tenant-isolated', async () => {
    const [acme, globex] = tenants as [Tenant, Tenant];
    const owner = principal(acme, 'acme-owner', ['owner']);
    const company = await createRecord(data, await call(owner, 'company'), { name: 'Initech', bank_account: 'GB29NWBK60161331926819' });
    expect(company.bank_account).toBe('GB29NWBK60161331926819');
    const contact = await createRecord(data, await call(owner, 'contact'), { first_name: 'Peter', last_name: 'Gibbons', company: company.id });
    expect((await readRecord(data, await call(principal(acme, 'v', ['viewer']), 'contact'), contact.id as string)).first_name).toBe(MASK);
    await expect(readRecord(data, await call(principal(globex, 'g', ['owner']), 'contact'), contact.id as string)).rejects.toMatchObject({ code: 'not_found' });
    expect((await listRecords(data, await call(principal(globex, 'g', ['owner']), 'company'), {})).items).toEqual([]);
    await expect(createRecord(data, await call(principal(globex, 'g', ['owner']), 'contact'), { first_name: 'X', last_name: 'Y', company: company.id })).rejects.toMatchObject({ code: 'validation_failed' });
  });

  it('DE-4 a failing apply leaves nothing behind on PostgreSQL', async () => {
    const [acme] = tenants as [Tenant];
    const spec = structuredClone(TEMPLATES.crm) as { version: number; resources: Array<{ name: string; fields: Array<Record<string, unknown>> }> };
    spec.version = 2;
    spec.resources.push({ name: 'note', fields: [{ name: 'body', type: 'text', class: 'internal' }] } as never);
    spec.resources[0]!.fields.push({ name: 'ceo', type: 'text', class: 'pii', required: true });
    (spec as unknown as { matrix: Record<string, Record<string, string[]>> }).matrix.owner!.note = ['read'];
    const plan = await apps.plan({ tenantId: acme.id, actor: { type: 'system', id: 'test' }, spec, justification: 'add notes and company CEOs' });
    await expect(apps.apply({ tenantId: acme.id, actor: { type: 'system', id: 'test' }, planId: plan.id, justification: 'add notes and company CEOs' })).rejects.toMatchObject({ code: 'conflict' });
    const { rows } = await sql<{ n: string }>`select count(*)::text as n from pg_tables where tablename like ${'%\\_\\_note'}`.execute(db.owner);
    expect(rows[0]!.n).toBe('0');
    expect((await apps.installedApp(acme.id, 'crm'))!.version).toBe(1);
  });
});
