import type { Transaction } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { authorizeRecord, BUILTIN_RESOURCES, createAuthz, listAuthorized, type Authz, type AuthzPrincipal } from '../src/authz/index.js';
import { RampartError } from '../src/core/index.js';
import { execScript, withTenant, type Tenant } from '../src/db/index.js';
import { testRampart } from './support/rampart.js';

/**
 * AZ-2/AZ-3 on records: single-record checks against loaded attributes, list routes that push the
 * rules into SQL and still check every row, on a tenant table under row-level security.
 */

const RESOURCES = [
  ...BUILTIN_RESOURCES,
  { name: 'invoice', actions: ['list', 'read', 'refund', 'export'], attributes: { owner: true, region: true, sensitivity: true } } as const,
];

type InvoiceRow = { id: string; owner: string | null; region: string | null; sensitivity: string | null };

let rampart: Rampart;
let authz: Authz;
let acme: Tenant;
let globex: Tenant;
const admin = { type: 'user' as const, id: 'admin' };
const justification = 'setting up the invoice access model';

const principal = (tenant: Tenant, id: string, roles: string[], region?: string): AuthzPrincipal => ({ id, tenantId: tenant.id, roles, region: region ?? null });

const listInvoices = async (who: AuthzPrincipal, action = 'list') => {
  const set = await authz.policySet(who.tenantId); // before the transaction: the embedded db is one session
  return withTenant(rampart.db, { tenantId: who.tenantId, actor: { type: 'user', id: who.id } }, async (trx) => {
    const query = (trx as unknown as Transaction<{ invoices: InvoiceRow }>).selectFrom('invoices').select(['id', 'owner', 'region', 'sensitivity']).orderBy('id');
    return listAuthorized({ set, principal: who, action, resourceType: 'invoice', query, columns: { owner: 'owner', region: 'region', sensitivity: 'sensitivity' }, attributesOf: (row) => row, limit: 500 });
  });
};
const check = async (who: AuthzPrincipal, action: string, resource: { type: string; id: string; attributes: Record<string, string> }) => authorizeRecord(await authz.policySet(who.tenantId), who, action, resource);

beforeAll(async () => {
  rampart = await testRampart();
  authz = createAuthz({ db: rampart.db, audit: rampart.audit, resources: RESOURCES as never });
  const provision = (slug: string) => rampart.createTenant({ slug, name: slug });
  acme = await provision('acme');
  globex = await provision('globex');
  await execScript(
    rampart.db.owner,
    `CREATE TABLE invoices (tenant_id uuid NOT NULL REFERENCES tenants(id), id text PRIMARY KEY, owner text, region text, sensitivity text);
     ALTER TABLE invoices ENABLE ROW LEVEL SECURITY; ALTER TABLE invoices FORCE ROW LEVEL SECURITY;
     CREATE POLICY tenant_isolation ON invoices TO rampart_app USING (tenant_id = rampart_current_tenant()) WITH CHECK (tenant_id = rampart_current_tenant());
     GRANT SELECT ON invoices TO rampart_app;
     INSERT INTO invoices VALUES
       ('${acme.id}', 'a-eu-1', 'mia', 'eu', 'internal'),
       ('${acme.id}', 'a-eu-2', 'max', 'eu', 'pii'),
       ('${acme.id}', 'a-us-1', 'mia', 'us', 'internal'),
       ('${acme.id}', 'a-none', NULL, NULL, NULL),
       ('${globex.id}', 'g-eu-1', 'mia', 'eu', 'internal');`,
  );
  for (const tenant of [acme, globex]) {
    const base = { tenantId: tenant.id, actor: admin, justification };
    await authz.setGrants({ ...base, role: 'finance', resource: 'invoice', actions: ['list', 'read'] });
    await authz.setGrants({ ...base, role: 'admin', resource: 'invoice', actions: ['list', 'read', 'export', 'refund'] });
    await authz.setGrants({ ...base, role: 'dpo', resource: 'invoice', actions: ['list', 'read', 'export'] });
    await authz.putRule({ ...base, rule: { id: 'finance-refunds-own-region', effect: 'permit', roles: ['finance'], resource: 'invoice', actions: ['refund'], when: [{ record: 'region', op: 'eq', value: { principal: 'region' } }] } });
    await authz.putRule({ ...base, rule: { id: 'only-dpo-exports-pii', effect: 'forbid', roles: '*', exceptRoles: ['dpo'], resource: '*', actions: ['export'], when: [{ record: 'sensitivity', op: 'in', value: ['pii', 'phi'] }] } });
    await authz.putRule({ ...base, rule: { id: 'members-read-own', effect: 'permit', roles: ['member'], resource: 'invoice', actions: ['list', 'read'], when: [{ record: 'owner', op: 'eq', value: { principal: 'id' } }] } });
  }
});
afterAll(() => rampart.close());

describe('AZ-3 attribute rules on records', () => {
  it('AZ-3 a member lists only the invoices they own (pushed into SQL, rows re-checked)', async () => {
    const { rows } = await listInvoices(principal(acme, 'mia', ['member']));
    expect(rows.map((r) => r.id)).toEqual(['a-eu-1', 'a-us-1']);
  });

  it('AZ-3 finance may refund only invoices of their region', async () => {
    const eu = principal(acme, 'fin-eu', ['finance'], 'eu');
    await expect(check(eu, 'refund', { type: 'invoice', id: 'a-eu-1', attributes: { owner: 'mia', region: 'eu' } })).resolves.toBeUndefined();
    const refused = await check(eu, 'refund', { type: 'invoice', id: 'a-us-1', attributes: { owner: 'mia', region: 'us' } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RampartError);
    expect((refused as RampartError).status).toBe(403); // finance may read it, so it is not hidden
    const noRegion = principal(acme, 'fin-x', ['finance']);
    expect((await listInvoices(noRegion, 'refund')).rows).toEqual([]);
    expect((await listInvoices(eu, 'refund')).rows.map((r) => r.id)).toEqual(['a-eu-1', 'a-eu-2']);
  });

  it('AZ-3 nobody but the DPO exports PII, not even an admin', async () => {
    const adminUser = principal(acme, 'root', ['admin']);
    expect((await listInvoices(adminUser, 'export')).rows.map((r) => r.id)).toEqual(['a-eu-1', 'a-none', 'a-us-1']);
    const denied = await check(adminUser, 'export', { type: 'invoice', id: 'a-eu-2', attributes: { sensitivity: 'pii' } }).catch((e: unknown) => e);
    expect((denied as RampartError).status).toBe(403);
    const dpo = principal(acme, 'dora', ['dpo']);
    expect((await listInvoices(dpo, 'export')).rows.map((r) => r.id)).toEqual(['a-eu-1', 'a-eu-2', 'a-none', 'a-us-1']);
  });

  it('a record the caller may not read answers 404, hiding that it exists', async () => {
    const viewer = principal(acme, 'vic', ['viewer']);
    const error = await check(viewer, 'read', { type: 'invoice', id: 'a-eu-1', attributes: { owner: 'mia' } }).catch((e: unknown) => e);
    expect((error as RampartError).status).toBe(404);
  });

  it('DE-2 whatever the rules allow, another tenant’s rows never appear (RLS underneath)', async () => {
    const dpo = principal(acme, 'dora', ['dpo']);
    expect((await listInvoices(dpo)).rows.map((r) => r.id)).not.toContain('g-eu-1');
    const globexMia = principal(globex, 'mia', ['member']);
    expect((await listInvoices(globexMia)).rows.map((r) => r.id)).toEqual(['g-eu-1']);
  });

  it('AZ-3 a tenant Cedar policy on record attributes goes into SQL; one the SQL cannot express is enforced row by row', async () => {
    await authz.putPolicy({ tenantId: acme.id, actor: admin, justification, id: 'no-us-for-max', cedar: 'forbid (principal == User::"max", action, resource is invoice) when { resource has region && resource.region == "us" };' });
    await authz.setGrants({ tenantId: acme.id, actor: admin, justification, role: 'auditor', resource: 'invoice', actions: ['list'] });
    const max = principal(acme, 'max', ['auditor']);
    const compiled = await listInvoices(max);
    expect(compiled.rows.map((r) => r.id)).toEqual(['a-eu-1', 'a-eu-2', 'a-none']);
    expect(compiled.filtered).toBe(0);
    await authz.putPolicy({ tenantId: acme.id, actor: admin, justification, id: 'no-us-for-max', cedar: 'forbid (principal == User::"max", action, resource is invoice) when { resource has region && resource.region like "u*" };' });
    const checked = await listInvoices(max);
    expect(checked.rows.map((r) => r.id)).toEqual(['a-eu-1', 'a-eu-2', 'a-none']);
    expect(checked.filtered).toBe(1);
    // Another user is not named by the policy: nothing of it applies to them.
    expect((await listInvoices(principal(acme, 'ann', ['auditor']))).filtered).toBe(0);
  });

  it('AZ-4 rule changes are explained for drift; a rule written behind the API is not', async () => {
    const { runDrift } = await import('../src/authz/index.js');
    await runDrift({ db: rampart.db, audit: rampart.audit, tenantId: globex.id });
    await rampart.db.owner
      .insertInto('authz_rules')
      .values({ tenant_id: globex.id, id: 'sneaky', definition: JSON.stringify({ id: 'sneaky', effect: 'permit', roles: ['viewer'], resource: 'invoice', actions: ['export'], when: [{ record: 'region', op: 'eq', value: 'eu' }] }), change_id: null })
      .execute();
    const report = await runDrift({ db: rampart.db, audit: rampart.audit, tenantId: globex.id });
    expect(report.unexplainedRules).toEqual(['sneaky']);
    expect(report.drifted).toBe(true);
  });
});
