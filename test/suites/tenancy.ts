import { CompiledQuery, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKekRing, createLogger, generateKeyMaterial, kekId, RampartError } from '../../src/core/index.js';
import { createJobQueue, createTenant, envelopeFor, execScript, findRlsViolations, readAsTenant, withTenant, type Database, type Tenant } from '../../src/db/index.js';
import { toRampartError } from '../../src/http/index.js';
import type { DbHarness } from './harness.js';

const ring = (() => {
  const key = generateKeyMaterial();
  return createKekRing({ id: kekId(key), key });
})();

const silentLog = createLogger({ level: 'silent' });

const asUser = (tenant: Tenant, id = 'u1') => ({ tenantId: tenant.id, actor: { type: 'user' as const, id } });

/** Invariant 1 and the cross-tenant guarantees, run on both database kinds. */
export function tenancySuite(harness: DbHarness): void {
  describe(`tenancy by row-level security (${harness.kind})`, () => {
    let db: Database;
    let a: Tenant;
    let b: Tenant;

    beforeAll(async () => {
      db = await harness.migrated();
      a = await createTenant(db, { slug: 'tenant-a', name: 'A' });
      b = await createTenant(db, { slug: 'tenant-b', name: 'B' });
      const jobs = createJobQueue({ db, log: silentLog });
      for (const tenant of [a, b]) {
        await withTenant(db, asUser(tenant), async (trx) => {
          await envelopeFor(trx, ring).encrypt({ tenantId: tenant.id, context: 'test.value', plaintext: `secret of ${tenant.slug}` });
          await jobs.enqueue({ kind: 'test.noop', tenantId: tenant.id, payload: { owner: tenant.slug } }, trx);
          await jobs.enqueue({ kind: 'test.noop', tenantId: tenant.id, payload: { owner: tenant.slug } }, trx);
        });
      }
    });
    afterAll(() => harness.cleanup());

    it('DE-2 every table in the catalog is tenant-scoped by forced RLS or closed to the app role', async () => {
      expect(await findRlsViolations(db)).toEqual([]);
    });

    it('DE-2 the invariant check fails on a tenant table without RLS (it can fail)', async () => {
      await execScript(db.owner, 'CREATE TABLE leaky_notes (id int PRIMARY KEY, tenant_id uuid NOT NULL); GRANT SELECT ON leaky_notes TO rampart_app;');
      try {
        const violations = await findRlsViolations(db);
        expect(violations).toContainEqual({ table: 'leaky_notes', problem: 'row-level security is not enabled' });
        expect(violations).toContainEqual({ table: 'leaky_notes', problem: 'row-level security is not forced (FORCE ROW LEVEL SECURITY)' });
        await execScript(db.owner, `ALTER TABLE leaky_notes ENABLE ROW LEVEL SECURITY; ALTER TABLE leaky_notes FORCE ROW LEVEL SECURITY;
          CREATE POLICY open_door ON leaky_notes TO rampart_app USING (true);`);
        const open = await findRlsViolations(db);
        expect(open.map((v) => v.problem)).toContain('policy open_door lets rampart_app see every row (USING true)');
      } finally {
        await execScript(db.owner, 'DROP TABLE leaky_notes');
      }
      expect(await findRlsViolations(db)).toEqual([]);
    });

    it('DE-2 the app role cannot bypass RLS, own tables or create objects', async () => {
      const role = await sql<{ rolsuper: boolean; rolbypassrls: boolean }>`select rolsuper, rolbypassrls from pg_roles where rolname = 'rampart_app'`.execute(db.owner);
      expect(role.rows[0]).toEqual({ rolsuper: false, rolbypassrls: false });
      await expect(withTenant(db, asUser(a), (trx) => sql`create table evil (x int)`.execute(trx))).rejects.toThrow(/permission denied/);
      await expect(withTenant(db, asUser(a), (trx) => sql`alter table tenants disable row level security`.execute(trx))).rejects.toThrow(/must be owner/);
      await expect(withTenant(db, asUser(a), (trx) => sql`select * from rampart_migrations`.execute(trx))).rejects.toThrow(/permission denied/);
    });

    it('DE-2 a query with no WHERE clause inside tenant A returns none of tenant B rows', async () => {
      const seen = await withTenant(db, asUser(a), async (trx) => ({
        tenants: await trx.selectFrom('tenants').select('id').execute(),
        keys: await trx.selectFrom('tenant_data_keys').select('tenant_id').execute(),
        jobs: await trx.selectFrom('jobs').select(['tenant_id', 'payload']).execute(),
        raw: (await sql<{ n: bigint }>`select count(*) as n from jobs`.execute(trx)).rows[0]!.n,
      }));
      expect(seen.tenants.map((t) => t.id)).toEqual([a.id]);
      expect(seen.keys.map((k) => k.tenant_id)).toEqual([a.id]);
      expect(seen.jobs).toHaveLength(2);
      expect(seen.jobs.every((j) => j.tenant_id === a.id)).toBe(true);
      expect(Number(seen.raw)).toBe(2);
    });

    it('invariant 7 a parameter of the wrong type is a value error (400) on both databases, not a 500', async () => {
      for (const [value, type] of [[true, 'timestamptz'], ['x', 'boolean'], [[1], 'uuid'], [{ a: 1 }, 'bigint']] as const) {
        const error: unknown = await withTenant(db, asUser(a), (trx) => sql`select cast(${value} as ${sql.raw(type)}) as x`.execute(trx)).then(() => undefined, (e: unknown) => e);
        expect(error, `${JSON.stringify(value)} as ${type}`).toBeDefined();
        expect(toRampartError(error).status, `${JSON.stringify(value)} as ${type}: ${String(error)}`).toBe(400);
      }
    });

    it('DE-2 writes cannot reach another tenant: insert refused, update and delete touch nothing', async () => {
      const jobs = createJobQueue({ db, log: silentLog });
      await expect(withTenant(db, asUser(a), (trx) => jobs.enqueue({ kind: 'test.noop', tenantId: b.id }, trx))).rejects.toThrow(/row-level security/);
      const retired = await withTenant(db, asUser(a), (trx) =>
        trx.updateTable('tenant_data_keys').set({ status: 'retired', retired_at: new Date() }).where('tenant_id', '=', b.id).executeTakeFirst(),
      );
      expect(Number(retired.numUpdatedRows)).toBe(0);
      const stillActive = await db.owner.selectFrom('tenant_data_keys').select('status').where('tenant_id', '=', b.id).executeTakeFirstOrThrow();
      expect(stillActive.status).toBe('active');
    });

    it('DE-2 without a tenant scope the app role sees nothing', async () => {
      const rows = await db.app.transaction().execute(async (trx) => {
        if (db.kind === 'embedded') await sql`set local role rampart_app`.execute(trx);
        return trx.selectFrom('tenants').select('id').execute();
      });
      expect(rows).toEqual([]);
    });

    it('DE-2 the tenant setting does not outlive its transaction (pooled connections)', async () => {
      await withTenant(db, asUser(a), (trx) => trx.selectFrom('tenants').select('id').execute());
      const after = await db.app.transaction().execute(async (trx) => {
        if (db.kind === 'embedded') await sql`set local role rampart_app`.execute(trx);
        return (await sql<{ t: string | null }>`select rampart_current_tenant()::text as t`.execute(trx)).rows[0]!.t;
      });
      expect(after).toBeNull();
    });

    it('DE-2 concurrent scopes never see each other (50 interleaved transactions)', async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          const tenant = i % 2 === 0 ? a : b;
          return withTenant(db, asUser(tenant), async (trx) => {
            await sql`select pg_sleep(0.001)`.execute(trx);
            const rows = await trx.selectFrom('jobs').select('tenant_id').execute();
            return { expected: tenant.id, seen: [...new Set(rows.map((r) => r.tenant_id))] };
          });
        }),
      );
      for (const result of results) expect(result.seen).toEqual([result.expected]);
    });

    it('DE-2 readAsTenant: one statement sent with the scope sees only the tenant, as rampart_app, read only', async () => {
      const rows = await readAsTenant<{ tenant_id: string; who: string; ro: string; actor: string; n: bigint }>(
        db,
        asUser(a, 'u7'),
        sql`select tenant_id, current_user as who, current_setting('transaction_read_only') as ro, rampart_current_actor() as actor, count(*) over () as n from jobs`.compile(db.app),
      );
      expect(rows).toHaveLength(2);
      // int8 comes back as bigint on both drivers (money is bigint minor units).
      for (const row of rows) expect(row).toEqual({ tenant_id: a.id, who: 'rampart_app', ro: 'on', actor: 'user:u7', n: 2n });
    });

    it('DE-2 readAsTenant refuses a write and leaves nothing behind', async () => {
      const count = async () => (await db.owner.selectFrom('jobs').select(sql<bigint>`count(*)`.as('n')).executeTakeFirstOrThrow()).n;
      const before = await count();
      await expect(readAsTenant(db, asUser(a), sql`with gone as (delete from jobs returning id) select count(*) from gone`.compile(db.app))).rejects.toThrow(/read-only/);
      expect(await count()).toBe(before);
    });

    it('DE-2 readAsTenant: the scope ends with the statement, after success and after an error (pooled connections)', async () => {
      // The check runs on the same backend as the call before it (the one session embedded; the
      // pool hands back the client released last on PostgreSQL): the pids prove it.
      const check = async () => (await db.appBatch([sql`select rampart_current_tenant()::text as t, current_setting('transaction_read_only') as ro, pg_backend_pid() as pid`.compile(db.app)]))[0]!.rows[0] as { t: string | null; ro: string; pid: number };
      const [read] = await readAsTenant<{ pid: number }>(db, asUser(a), sql`select pg_backend_pid() as pid`.compile(db.app));
      expect(await check()).toEqual({ t: null, ro: 'off', pid: read!.pid });
      await expect(readAsTenant(db, asUser(a), sql`select 1 / count(*)::int from jobs where false`.compile(db.app))).rejects.toThrow(/division by zero/);
      expect(await check()).toEqual({ t: null, ro: 'off', pid: read!.pid });
      // The session (embedded) or the pooled connection is usable at once, for both paths.
      expect(await readAsTenant<{ tenant_id: string }>(db, asUser(b), sql`select distinct tenant_id from jobs`.compile(db.app))).toEqual([{ tenant_id: b.id }]);
      expect(await withTenant(db, asUser(b), (trx) => trx.selectFrom('tenants').select('id').execute())).toEqual([{ id: b.id }]);
    });

    it('DE-2 concurrent readAsTenant calls, interleaved with transactions, never see each other (60 calls)', async () => {
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => {
          const tenant = i % 2 === 0 ? a : b;
          const seen = (rows: Array<{ tenant_id: string | null }>) => ({ expected: tenant.id, seen: [...new Set(rows.map((r) => r.tenant_id))] });
          if (i % 3 === 0) {
            return withTenant(db, asUser(tenant), async (trx) => {
              await sql`select pg_sleep(0.001)`.execute(trx);
              return seen(await trx.selectFrom('jobs').select('tenant_id').execute());
            });
          }
          return readAsTenant<{ tenant_id: string }>(db, asUser(tenant), sql`select tenant_id from jobs`.compile(db.app)).then(seen);
        }),
      );
      for (const result of results) expect(result.seen).toEqual([result.expected]);
    });

    // PostgreSQL only (a pool of connections; the embedded database is one session).
    if (harness.kind === 'postgres') {
      it('readAsTenant: a connection that dies mid-batch is dropped from the pool, later reads succeed', async () => {
        await expect(readAsTenant(db, asUser(a), sql`select pg_terminate_backend(pg_backend_pid())`.compile(db.app))).rejects.toThrow();
        const reads = await Promise.all(Array.from({ length: 20 }, () => readAsTenant<{ n: bigint }>(db, asUser(a), sql`select count(*) as n from jobs`.compile(db.app))));
        for (const rows of reads) expect(rows).toEqual([{ n: 2n }]);
      });
    }

    it('DE-2 a batch cannot open or end a transaction (its scope would outlive it); readAsTenant takes only a read', async () => {
      await expect(readAsTenant(db, asUser(a), CompiledQuery.raw('begin'))).rejects.toThrow(/one read statement/);
      await expect(readAsTenant(db, asUser(a), CompiledQuery.raw('/* x */ insert into jobs default values'))).rejects.toThrow(/one read statement/);
      for (const control of ['begin', 'start transaction', 'commit', 'rollback', 'savepoint s', 'end']) {
        await expect(db.appBatch([sql`select set_config('rampart.tenant_id', ${a.id}, true)`.compile(db.app), CompiledQuery.raw(control)])).rejects.toThrow(/transaction control/);
      }
      const [after] = await db.appBatch([sql`select rampart_current_tenant()::text as t`.compile(db.app)]);
      expect(after!.rows).toEqual([{ t: null }]);
    });

    it('readAsTenant binds array parameters the same way on both drivers', async () => {
      const rows = await readAsTenant<{ tenant_id: string }>(db, asUser(a), sql`select tenant_id from jobs where tenant_id = any(${[a.id, b.id]}::uuid[])`.compile(db.app));
      expect(rows).toEqual([{ tenant_id: a.id }, { tenant_id: a.id }]);
    });

    it('a batch reports affected rows on both drivers', async () => {
      const keys = await db.owner.selectFrom('tenant_data_keys').select('id').where('tenant_id', '=', a.id).execute();
      expect(keys.length).toBeGreaterThan(0);
      const results = await db.appBatch([
        sql`select set_config('role', 'rampart_app', true), set_config('rampart.tenant_id', ${a.id}, true)`.compile(db.app),
        sql`update tenant_data_keys set status = status`.compile(db.app),
      ]);
      expect(results[1]!.numAffectedRows).toBe(BigInt(keys.length));
    });

    it('readAsTenant: a tenant id that is not a UUID is a 400, never reaches SQL', async () => {
      const error = await readAsTenant(db, { tenantId: "x' or 1=1 --", actor: { type: 'anonymous' } }, sql`select 1`.compile(db.app)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RampartError);
      expect((error as RampartError).status).toBe(400);
    });

    it('an error inside withTenant rolls back everything it wrote', async () => {
      const jobs = createJobQueue({ db, log: silentLog });
      const before = await db.owner.selectFrom('jobs').select(sql<bigint>`count(*)`.as('n')).executeTakeFirstOrThrow();
      await expect(
        withTenant(db, asUser(a), async (trx) => {
          await jobs.enqueue({ kind: 'test.noop', tenantId: a.id }, trx);
          throw new Error('handler failed half-way');
        }),
      ).rejects.toThrow('handler failed half-way');
      const after = await db.owner.selectFrom('jobs').select(sql<bigint>`count(*)`.as('n')).executeTakeFirstOrThrow();
      expect(after.n).toBe(before.n);
    });

    it('read-only scopes refuse writes', async () => {
      const jobs = createJobQueue({ db, log: silentLog });
      await expect(withTenant(db, asUser(a), (trx) => jobs.enqueue({ kind: 'test.noop', tenantId: a.id }, trx), { readOnly: true })).rejects.toThrow(/read-only/);
    });

    it('a tenant id that is not a UUID is a 400, never reaches SQL', async () => {
      const error = await withTenant(db, { tenantId: "x' or 1=1 --", actor: { type: 'anonymous' } }, async () => 1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RampartError);
      expect((error as RampartError).status).toBe(400);
    });

    it('the actor is visible to SQL for the transaction', async () => {
      const actor = await withTenant(db, { tenantId: a.id, actor: { type: 'agent', id: 'bot', onBehalfOf: 'u9' } }, async (trx) => (await sql<{ actor: string }>`select rampart_current_actor() as actor`.execute(trx)).rows[0]!.actor);
      expect(actor).toBe('agent:bot:for:u9');
    });
  });
}

