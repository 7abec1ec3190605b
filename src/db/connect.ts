import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { CompiledQuery, Kysely, PostgresDialect, type QueryResult } from 'kysely';
import pg from 'pg';
import { redactUrl, type Logger, type SecretsProvider } from '../core/index.js';
import { lockDataDir, type DataDirLock } from './lock.js';
import { runPgBatch } from './pg-batch.js';
import { PGliteDialect, pgliteParsers, SCRIPT_MARKER } from './pglite-dialect.js';
import type { Schema } from './schema.js';

export const APP_ROLE = 'rampart_app';

export type DbKind = 'embedded' | 'postgres';

/**
 * The database as the rest of Rampart sees it.
 *
 * - `owner` runs migrations and system work (job claiming, cross-tenant maintenance). On
 *   PostgreSQL it is the DATABASE_URL role; embedded it is PGlite's superuser.
 * - `app` is what tenant requests use, only through `withTenant()`. On PostgreSQL it is a separate
 *   pool that logs in as `rampart_app` (no BYPASSRLS, no DDL); embedded, PGlite is one session, so
 *   `withTenant()` switches to `rampart_app` with `SET LOCAL ROLE` inside the transaction.
 */
export type Database = {
  kind: DbKind;
  owner: Kysely<Schema>;
  app: Kysely<Schema>;
  /**
   * Runs statements on the app role's connection as one unit: one call embedded, one round trip on
   * PostgreSQL, in one implicit transaction that commits after the last statement or rolls back at
   * the first error. Only for db/tenancy.ts (readAsTenant), which puts the tenant scope first.
   */
  appBatch(queries: readonly CompiledQuery[]): Promise<QueryResult<unknown>[]>;
  /** A printable description (password masked). */
  description: string;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Embedded only: snapshot of the data directory (tests clone a migrated template from it). */
  dumpDataDir?(): Promise<Blob>;
};

export type OpenDatabaseOptions = {
  /** Unset: embedded at `<dataDir>/db`; `memory://`: embedded in memory; `postgres://…`: PostgreSQL. */
  url?: string | undefined;
  dataDir?: string;
  appUrl?: string | undefined;
  poolSize?: number;
  statementTimeoutMs?: number;
  secrets?: SecretsProvider;
  log?: Logger;
  /** Embedded only: start from a dumped data directory instead of running initdb. */
  loadDataDir?: Blob;
  /** Embedded on disk: who holds the data directory's lock (shown to a process refused by it). */
  lockRole?: string;
};

const isPostgresUrl = (url: string | undefined): url is string => Boolean(url && /^postgres(ql)?:\/\//.test(url));

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  return isPostgresUrl(options.url) ? openPostgres({ ...options, url: options.url }) : openEmbedded(options);
}

async function openEmbedded(options: OpenDatabaseOptions): Promise<Database> {
  const inMemory = options.url === 'memory://';
  let dataDir: string | undefined;
  let lock: DataDirLock | undefined;
  if (!inMemory) {
    // Before PGlite touches a page: a second process on one data directory corrupts it.
    lock = await lockDataDir(options.dataDir ?? '.rampart', options.lockRole ?? 'process');
    dataDir = join(options.dataDir ?? '.rampart', 'db');
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
  }
  let pglite: PGlite;
  try {
    pglite = await PGlite.create({
      ...(dataDir ? { dataDir } : {}),
      ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
      extensions: { vector },
      parsers: pgliteParsers,
    });
    await pglite.exec('CREATE EXTENSION IF NOT EXISTS vector');
  } catch (error) {
    lock?.release();
    throw error;
  }
  // One Kysely over the one session: owner and app must share the driver's connection lock.
  const dialect = new PGliteDialect(pglite);
  const db = new Kysely<Schema>({ dialect });
  let closed = false;
  return {
    kind: 'embedded',
    owner: db,
    app: db,
    appBatch: (queries) => dialect.batch(queries),
    description: inMemory ? 'embedded (memory)' : `embedded (${dataDir})`,
    async ping() {
      await db.executeQuery(CompiledQuery.raw('select 1'));
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await db.destroy();
        await pglite.close();
      } finally {
        lock?.release();
      }
    },
    dumpDataDir: () => pglite.dumpDataDir('none'),
  };
}

/** int8 as bigint, like the embedded driver: money must never pass through a float. */
const pgTypes = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? (value: string) => BigInt(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

async function withPassword(url: string, secrets: SecretsProvider | undefined, key: string): Promise<string> {
  const parsed = new URL(url);
  if (parsed.password || !secrets) return url;
  const password = await secrets.get(key);
  if (password) parsed.password = encodeURIComponent(password.reveal());
  return parsed.toString();
}

/** The app role's URL: same server and database as the owner's, user rampart_app. */
export function deriveAppUrl(ownerUrl: string): string {
  const parsed = new URL(ownerUrl);
  parsed.username = APP_ROLE;
  parsed.password = '';
  return parsed.toString();
}

async function openPostgres(options: OpenDatabaseOptions & { url: string }): Promise<Database> {
  const ownerUrl = await withPassword(options.url, options.secrets, 'database_password');
  const appUrl = await withPassword(options.appUrl ?? deriveAppUrl(options.url), options.secrets, 'database_app_password');
  const statementTimeout = options.statementTimeoutMs ?? 15_000;
  const makePool = (connectionString: string, max: number, role: string) => {
    const pool = new pg.Pool({
      connectionString,
      max,
      types: pgTypes,
      application_name: `rampart:${role}`,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 10_000,
      ...(role === 'app' && statementTimeout > 0 ? { options: `-c statement_timeout=${statementTimeout}` } : {}),
    });
    // An idle client losing its server must not crash the process; the next checkout reconnects.
    pool.on('error', (error) => options.log?.warn({ err: { message: error.message }, pool: role }, 'database connection lost'));
    // Nor may a checked-out one (the pool listens only while a client is idle): its query fails,
    // and the pool drops the client when it is released.
    pool.on('connect', (client) => client.on('error', (error) => options.log?.warn({ err: { message: error.message }, pool: role }, 'database connection lost during a query')));
    return pool;
  };
  const ownerPool = makePool(ownerUrl, Math.max(2, Math.ceil((options.poolSize ?? 10) / 4)), 'owner');
  const appPool = makePool(appUrl, options.poolSize ?? 10, 'app');
  const owner = new Kysely<Schema>({ dialect: new PostgresDialect({ pool: ownerPool }) });
  const app = new Kysely<Schema>({ dialect: new PostgresDialect({ pool: appPool }) });
  let closed = false;
  return {
    kind: 'postgres',
    owner,
    app,
    appBatch: (queries) => runPgBatch(appPool, queries),
    description: `postgres (${redactUrl(options.url)})`,
    async ping() {
      await owner.executeQuery(CompiledQuery.raw('select 1'));
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([owner.destroy(), app.destroy()]);
    },
  };
}

/** Runs several SQL statements at once (migrations). Simple protocol on both drivers. */
export async function execScript(db: Kysely<unknown> | Kysely<Schema>, script: string): Promise<void> {
  await (db as Kysely<unknown>).executeQuery(CompiledQuery.raw(`${SCRIPT_MARKER}\n${script}`));
}
