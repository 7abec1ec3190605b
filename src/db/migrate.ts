import { sql, type Kysely } from 'kysely';
import { sha256Hex, type Logger, type SecretsProvider } from '../core/index.js';
import { APP_ROLE, execScript, type Database } from './connect.js';
import type { Schema } from './schema.js';

/**
 * Forward-only, checksummed, recorded migrations. Each migration runs in its own transaction under
 * a transaction-level advisory lock, so several nodes starting at once apply each one exactly once
 * and a failing migration leaves the schema as it was. (control: DE-4 for the built-in schema)
 */

export type Migration = { version: number; name: string; sql: string };

export type AppliedMigration = { version: number; name: string; checksum: string; applied_at: Date };

export type MigrationStatus = {
  applied: AppliedMigration[];
  pending: Migration[];
  /** Applied migrations whose text changed, or that this build does not know (database is newer). */
  problems: string[];
};

/** An arbitrary constant: the advisory-lock key all Rampart nodes agree on. */
const MIGRATION_LOCK_KEY = 72_617_001;

export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

export const checksum = (migration: Migration): string => sha256Hex(migration.sql.replace(/\r\n/g, '\n').trim());

export function validateMigrationList(list: readonly Migration[]): void {
  list.forEach((migration, index) => {
    if (!Number.isInteger(migration.version) || migration.version < 1) throw new MigrationError(`migration "${migration.name}" has an invalid version`);
    const previous = list[index - 1];
    if (previous && previous.version >= migration.version) {
      throw new MigrationError(`migrations out of order: ${previous.version} (${previous.name}) before ${migration.version} (${migration.name})`);
    }
  });
}

const LEDGER_SQL = `
CREATE TABLE IF NOT EXISTS rampart_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  duration_ms integer NOT NULL
);
REVOKE ALL ON rampart_migrations FROM PUBLIC;`;

async function ledgerExists(db: Kysely<Schema>): Promise<boolean> {
  const { rows } = await sql<{ present: boolean }>`select to_regclass('rampart_migrations') is not null as present`.execute(db);
  return Boolean(rows[0]?.present);
}

export async function migrationStatus(db: Database, list: readonly Migration[]): Promise<MigrationStatus> {
  validateMigrationList(list);
  const applied = (await ledgerExists(db.owner))
    ? await db.owner.selectFrom('rampart_migrations').select(['version', 'name', 'checksum', 'applied_at']).orderBy('version').execute()
    : [];
  const byVersion = new Map(list.map((m) => [m.version, m]));
  const problems: string[] = [];
  for (const row of applied) {
    const known = byVersion.get(row.version);
    if (!known) problems.push(`migration ${row.version} (${row.name}) is applied but unknown to this build: the database is newer than the code`);
    else if (checksum(known) !== row.checksum) problems.push(`migration ${row.version} (${row.name}) changed after it was applied (checksum mismatch); write a new migration instead`);
  }
  const appliedVersions = new Set(applied.map((row) => row.version));
  return { applied, pending: list.filter((m) => !appliedVersions.has(m.version)), problems };
}

/**
 * The app role is cluster-level, not schema: it is ensured on every migrate rather than recorded.
 * It must never gain BYPASSRLS, SUPERUSER or CREATEROLE, whoever created it. (control: DE-2)
 */
export async function ensureAppRole(db: Database, secrets?: SecretsProvider): Promise<void> {
  try {
    await ensureAppRoleOnce(db, secrets);
  } catch (error) {
    // Two databases of one cluster migrating at once race on CREATE ROLE (roles are cluster-wide).
    const code = (error as { code?: string }).code;
    if (code !== '42710' && code !== '23505') throw error;
    await ensureAppRoleOnce(db, secrets);
  }
}

async function ensureAppRoleOnce(db: Database, secrets?: SecretsProvider): Promise<void> {
  const login = db.kind === 'postgres' ? 'LOGIN' : 'NOLOGIN';
  const attributes = `${login} NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION`;
  const { rows } = await sql<{ rolsuper: boolean; rolbypassrls: boolean; rolcreaterole: boolean; rolcreatedb: boolean; rolcanlogin: boolean }>`
    select rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin from pg_roles where rolname = ${APP_ROLE}`.execute(db.owner);
  const role = rows[0];
  if (!role) {
    await execScript(db.owner, `CREATE ROLE ${APP_ROLE} ${attributes}`);
  } else if (role.rolsuper || role.rolbypassrls || role.rolcreaterole || role.rolcreatedb || role.rolcanlogin !== (login === 'LOGIN')) {
    await execScript(db.owner, `ALTER ROLE ${APP_ROLE} ${attributes}`).catch((error: Error) => {
      throw new MigrationError(`role ${APP_ROLE} has unsafe attributes and cannot be fixed by this user: ${error.message}`);
    });
  }
  const password = db.kind === 'postgres' ? await secrets?.get('database_app_password') : undefined;
  if (password) {
    const { rows: statement } = await sql<{ ddl: string }>`select format('ALTER ROLE %I PASSWORD %L', ${APP_ROLE}::text, ${password.reveal()}::text) as ddl`.execute(db.owner);
    await execScript(db.owner, statement[0]!.ddl);
  }
}

export type MigrateResult = { applied: Array<{ version: number; name: string; durationMs: number }> };

export async function migrate({ db, list, log, secrets }: { db: Database; list: readonly Migration[]; log?: Logger; secrets?: SecretsProvider }): Promise<MigrateResult> {
  validateMigrationList(list);
  await ensureAppRole(db, secrets);
  await db.owner.transaction().execute(async (trx) => {
    if (db.kind === 'postgres') await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(trx);
    await execScript(trx, LEDGER_SQL);
  });
  const status = await migrationStatus(db, list);
  if (status.problems.length) throw new MigrationError(status.problems.join('\n'));

  const result: MigrateResult = { applied: [] };
  for (const migration of status.pending) {
    const started = performance.now();
    const didApply = await db.owner.transaction().execute(async (trx) => {
      if (db.kind === 'postgres') await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(trx);
      // Another node may have applied it while this one waited for the lock.
      const already = await trx.selectFrom('rampart_migrations').select('version').where('version', '=', migration.version).executeTakeFirst();
      if (already) return false;
      try {
        await execScript(trx, migration.sql);
      } catch (error) {
        throw new MigrationError(`migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`, { cause: error });
      }
      await trx
        .insertInto('rampart_migrations')
        .values({ version: migration.version, name: migration.name, checksum: checksum(migration), duration_ms: Math.round(performance.now() - started) })
        .execute();
      return true;
    });
    if (didApply) {
      const durationMs = Math.round(performance.now() - started);
      result.applied.push({ version: migration.version, name: migration.name, durationMs });
      log?.info({ version: migration.version, name: migration.name, durationMs }, 'migration applied');
    }
  }
  return result;
}
