import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { checksum, migrate, migrationStatus, migrations, MigrationError, type Migration } from '../../src/db/index.js';
import type { DbHarness } from './harness.js';

const tableExists = async (db: Awaited<ReturnType<DbHarness['migrated']>>, name: string) =>
  Boolean((await sql<{ present: boolean }>`select to_regclass(${name}) is not null as present`.execute(db.owner)).rows[0]?.present);

/** Forward-only, checksummed, recorded, transactional migrations (DE-4 for the built-in schema). */
export function migrationsSuite(harness: DbHarness): void {
  describe(`migrations (${harness.kind})`, () => {
    afterAll(() => harness.cleanup());

    it('DE-4 a fresh database migrates, records each migration with its checksum, and a second run is a no-op', async () => {
      const db = await harness.empty();
      expect((await migrationStatus(db, migrations)).pending).toHaveLength(migrations.length);
      const first = await migrate({ db, list: migrations });
      expect(first.applied.map((m) => m.version)).toEqual(migrations.map((m) => m.version));
      const rows = await db.owner.selectFrom('rampart_migrations').select(['version', 'checksum']).orderBy('version').execute();
      expect(rows).toEqual(migrations.map((m) => ({ version: m.version, checksum: checksum(m) })));
      expect((await migrate({ db, list: migrations })).applied).toEqual([]);
      const status = await migrationStatus(db, migrations);
      expect(status.pending).toEqual([]);
      expect(status.problems).toEqual([]);
    });

    it('DE-4 an applied migration whose text changed is refused (checksum mismatch)', async () => {
      const db = await harness.migrated();
      const tampered: Migration[] = migrations.map((m, i) => (i === 0 ? { ...m, sql: `${m.sql}\n-- edited after release` } : m));
      const status = await migrationStatus(db, tampered);
      expect(status.problems.join()).toMatch(/changed after it was applied/);
      await expect(migrate({ db, list: tampered })).rejects.toBeInstanceOf(MigrationError);
    });

    it('DE-4 a database newer than the code is refused', async () => {
      const db = await harness.migrated();
      const extra: Migration = { version: 900, name: 'future', sql: 'CREATE TABLE future_thing (id int PRIMARY KEY);' };
      await migrate({ db, list: [...migrations, extra] });
      const status = await migrationStatus(db, migrations);
      expect(status.problems.join()).toMatch(/unknown to this build/);
    });

    it('a failing migration leaves no trace: no table, no ledger row', async () => {
      const db = await harness.migrated();
      const broken: Migration = { version: 901, name: 'broken', sql: 'CREATE TABLE half_done (id int); SELECT 1 / 0;' };
      await expect(migrate({ db, list: [...migrations, broken] })).rejects.toThrow(/901 \(broken\) failed/);
      expect(await tableExists(db, 'half_done')).toBe(false);
      expect(await db.owner.selectFrom('rampart_migrations').select('version').where('version', '=', 901).executeTakeFirst()).toBeUndefined();
    });

    it('a migration list out of order is refused before anything runs', async () => {
      const db = await harness.migrated();
      const list: Migration[] = [...migrations, { version: 5, name: 'b', sql: 'select 1' }, { version: 4, name: 'a', sql: 'select 1' }];
      await expect(migrate({ db, list })).rejects.toThrow(/out of order/);
    });

    it('concurrent migrate calls apply each migration exactly once', async () => {
      const db = await harness.migrated();
      const extra: Migration[] = [
        { version: 910, name: 'c1', sql: 'CREATE TABLE concurrent_one (id int PRIMARY KEY);' },
        { version: 911, name: 'c2', sql: 'CREATE TABLE concurrent_two (id int PRIMARY KEY);' },
      ];
      const results = await Promise.all([1, 2, 3].map(() => migrate({ db, list: [...migrations, ...extra] })));
      const appliedVersions = results.flatMap((r) => r.applied.map((m) => m.version)).sort();
      expect(appliedVersions).toEqual([910, 911]);
      const rows = await db.owner.selectFrom('rampart_migrations').select('version').where('version', '>=', 910).execute();
      expect(rows).toHaveLength(2);
    });
  });
}
