import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAuditLog } from '../../src/audit/index.js';
import { createAuthz, type Authz } from '../../src/authz/index.js';
import { uuidv7 } from '../../src/core/index.js';
import { createTenant, type Database, type Tenant } from '../../src/db/index.js';
import { postgresHarness } from './pg-harness.js';

const hasPostgres = !inject('servicesMissing').some((m) => m.startsWith('PostgreSQL'));

/** ID-5 on real parallel connections: a pending owner-only grant is applied once, whoever races to approve it. */
describe.skipIf(!hasPostgres)('PostgreSQL: pending permission changes', () => {
  const harness = postgresHarness();
  let db: Database;
  let authz: Authz;
  let tenant: Tenant;

  beforeAll(async () => {
    db = await harness.migrated();
    authz = createAuthz({ db, audit: createAuditLog() });
    tenant = await createTenant(db, { slug: 'acme', name: 'Acme' }, undefined, (trx, t) => authz.provisionTenant(trx, t));
  });
  afterAll(() => harness.cleanup());

  it('ID-5 eight admins approving one pending change at once: exactly one applies it', async () => {
    const owner = { id: uuidv7(), tenantId: tenant.id, roles: ['owner'] };
    const requested = await authz.setGrants({ tenantId: tenant.id, actor: { type: 'user', id: owner.id }, author: owner, role: 'finance', resource: 'client', actions: ['create'], justification: 'finance registers its payment app' });
    expect(requested.status).toBe('pending');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, () => {
        const admin = { id: uuidv7(), tenantId: tenant.id, roles: ['admin'] };
        return authz.approveChange({ tenantId: tenant.id, actor: { type: 'user', id: admin.id }, author: admin, changeId: requested.changeId!, justification: 'reviewed with the data owner' });
      }),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const approvals = await db.owner.selectFrom('audit_events').select('action').where('chain', '=', tenant.id).where('action', '=', 'authz.change.approved').execute();
    expect(approvals).toHaveLength(1);
  });
});
