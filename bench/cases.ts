/**
 * The benchmark cases. Each returns its rows; the runner prints them and writes docs/benchmarks.md.
 * Every case measures its baseline in the same run and process, interleaved with its subjects.
 */
import Fastify from 'fastify';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { z } from 'zod';
import { createRampart, VERSION } from '../src/app.js';
import { createLogger, RampartError } from '../src/core/index.js';
import { createTenant, migrate, migrations, openDatabase, withTenant, type Actor, type Database, type Schema } from '../src/db/index.js';
// Not part of db's public surface; the calibration reproduces exactly what the embedded driver passes.
import { pgliteParsers } from '../src/db/pglite-dialect.js';
import { buildServer, defineRoute, denyAll, healthRoutes, type RouteDefinition } from '../src/http/index.js';
import { createBenchPglite, PGliteWorkerClient, PK_SQL, rlsReadStatements } from './pglite-worker.js';
import { benchConfig, eluProbe, fmtElu, fmtInt, fmtMs, listen, loadTestGroup, microGroup, type BenchOptions, type EluProbe, type HttpMeasure, type MicroMeasure } from './support.js';

export type HttpRow = { variant: string; detail: string; group: string; baseline: boolean; measure: HttpMeasure; ratio?: number };
export type MicroRow = { db: string; variant: string; detail: string; baseline: boolean; measure: MicroMeasure; ratio?: number };

export type CaseResult =
  | { status: 'done'; kind: 'http'; rows: HttpRow[]; calibration?: MicroRow[]; facts: Record<string, string> }
  | { status: 'done'; kind: 'micro'; rows: MicroRow[]; facts: Record<string, string> }
  | { status: 'skipped'; reason: string };

export type BenchCase = { name: string; title: string; run(context: Context): Promise<CaseResult> };

const silent = createLogger({ level: 'silent' });
const actor: Actor = { type: 'user', id: 'bench-user' };
const say = (line: string) => console.log(line);

// ---------------------------------------------------------------------------------------------
// Database fixtures: created on first use, shared by the cases that need them, closed at the end.

export type DbFixture = {
  label: 'PGlite' | 'PostgreSQL';
  /** Connection URL (with any password: never printed). */
  url: string;
  db: Database;
  tenantId: string;
  /** PostgreSQL only: an owner-role pool as large as the app pool (db.owner's pool is a quarter). */
  ownerPeer?: Kysely<Schema>;
  version: string;
  close(): Promise<void>;
};

export class Context {
  readonly options: BenchOptions;
  readonly #fixtures = new Map<string, Promise<DbFixture | string>>();

  constructor(options: BenchOptions) {
    this.options = options;
  }

  pglite(): Promise<DbFixture> {
    return this.#fixture('pglite', openPgliteFixture) as Promise<DbFixture>;
  }

  /** The PostgreSQL fixture, or the reason it is unavailable. */
  postgres(): Promise<DbFixture | string> {
    return this.#fixture('postgres', () => openPostgresFixture(this.options.postgresAdminUrl));
  }

  #fixture(key: string, open: () => Promise<DbFixture | string>): Promise<DbFixture | string> {
    let fixture = this.#fixtures.get(key);
    if (!fixture) {
      fixture = open();
      this.#fixtures.set(key, fixture);
    }
    return fixture;
  }

  async close(): Promise<void> {
    const all = [...this.#fixtures.values()];
    this.#fixtures.clear();
    for (const fixture of await Promise.allSettled(all)) {
      if (fixture.status === 'fulfilled' && typeof fixture.value !== 'string') {
        const { label } = fixture.value;
        await fixture.value.close().catch((error: Error) => console.error(`closing the ${label} fixture: ${error.message}`));
      }
    }
  }
}

async function openPgliteFixture(): Promise<DbFixture> {
  say('  [fixture] PGlite in memory: create, migrate, one tenant ...');
  const started = performance.now();
  const db = await openDatabase({ url: 'memory://', log: silent });
  await migrate({ db, list: migrations });
  const tenant = await createTenant(db, { slug: 'bench', name: 'Bench Tenant' });
  const version = await serverVersion(db);
  say(`  [fixture] PGlite ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { label: 'PGlite', url: 'memory://', db, tenantId: tenant.id, version: `PGlite (${version})`, close: () => db.close() };
}

/** "PostgreSQL 15.20 (Debian ...)" without the compiler details. */
async function serverVersion(db: Database): Promise<string> {
  const row = await db.owner.selectNoFrom((eb) => eb.fn<string>('version').as('v')).executeTakeFirstOrThrow();
  return row.v.split(/ on | \(/)[0] ?? row.v;
}

async function openPostgresFixture(adminUrl: string): Promise<DbFixture | string> {
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3_000 });
  try {
    await admin.connect();
  } catch (error) {
    await admin.end().catch(() => undefined);
    return `PostgreSQL unreachable at ${redact(adminUrl)} (${(error as Error).message || (error as { code?: string }).code})`;
  }
  const name = `rampart_bench_${Math.random().toString(36).slice(2, 10)}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  say(`  [fixture] PostgreSQL: create database ${name}, migrate, one tenant ...`);
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (error) {
    await admin.end().catch(() => undefined);
    throw error;
  }
  let db: Database | undefined;
  let ownerPeer: Kysely<Schema> | undefined;
  const close = async () => {
    await ownerPeer?.destroy();
    await db?.close();
    // migrate() also ensures the cluster-wide role rampart_app; it stays, as the services tests
    // leave it (dropping it could pull it from under a concurrent test run).
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    say(`  [fixture] dropped database ${name}`);
  };
  try {
    db = await openDatabase({ url: url.toString(), log: silent, poolSize: 10 });
    await migrate({ db, list: migrations });
    const tenant = await createTenant(db, { slug: 'bench', name: 'Bench Tenant' });
    ownerPeer = new Kysely<Schema>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url.toString(), max: 10, application_name: 'rampart:bench-owner-peer' }) }) });
    return { label: 'PostgreSQL', url: url.toString(), db, tenantId: tenant.id, ownerPeer, version: await serverVersion(db), close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}

const redact = (url: string) => url.replace(/(:\/\/[^:/@]*:)[^@]*@/, '$1[redacted]@');

// ---------------------------------------------------------------------------------------------
// Ratios

function withRatios<R extends { baseline: boolean; ratio?: number }>(rows: R[], groupOf: (row: R) => string, value: (row: R) => number): R[] {
  return rows.map((row) => {
    const baseline = rows.find((other) => other.baseline && groupOf(other) === groupOf(row));
    return baseline ? { ...row, ratio: value(row) / value(baseline) } : row;
  });
}

export const httpRatios = (rows: HttpRow[]) => withRatios(rows, (row) => row.group, (row) => row.measure.rps);

export type Variant = { url: string; headers?: Record<string, string>; variant: string; detail: string; baseline: boolean; group?: string; helper?: EluProbe };

/** Measures a baseline and its subjects together (interleaved, see loadTestGroup) and reports each. */
export async function measureGroup(name: string, options: BenchOptions, variants: Variant[]): Promise<HttpRow[]> {
  const measures = await loadTestGroup(variants.map(({ url, headers, helper }) => ({ url, ...(headers ? { headers } : {}), ...(helper ? { helper } : {}) })), options);
  return variants.map(({ url: _url, headers: _headers, helper: _helper, group, ...variant }, index) => {
    const measure = measures[index]!;
    report(name, variant.variant, measure);
    return { ...variant, group: group ?? name, measure };
  });
}

function report(name: string, variant: string, measure: HttpMeasure): void {
  const flags = measure.errors || measure.non2xx ? `  (!) errors ${measure.errors}, non-2xx ${measure.non2xx}` : '';
  const other = measure.otherCpu === undefined ? '' : `, other CPU ${measure.otherCpu.toFixed(2)} cores`;
  say(`  ${name} / ${variant}: ${fmtInt(measure.rps)} req/s, p50 ${fmtMs(measure.p50)} ms, p99 ${fmtMs(measure.p99)} ms, ELU ${fmtElu(measure)}${other}${flags}`);
}

// ---------------------------------------------------------------------------------------------
// a. healthz: Rampart's /healthz vs a bare Fastify hello world

const healthz: BenchCase = {
  name: 'healthz',
  title: 'healthz: Rampart /healthz vs bare Fastify',
  async run(context) {
    const { options } = context;
    const bare = Fastify({ logger: false });
    bare.get('/', async () => ({ hello: 'world' }));
    // A whole Rampart on its own in-memory database, started from a dump of the migrated fixture
    // (skips initdb and migrations, as the tests do); nothing on /healthz touches it.
    const template = await (await context.pglite()).db.dumpDataDir!();
    const rampart = await createRampart({ config: benchConfig('memory://'), env: {}, loadDataDir: template });
    // Not in the brief, but what a deployment runs: log level info (Fastify logs every request
    // twice), written to /dev/null so only the cost of producing the lines shows.
    const infoLog = createLogger({ level: 'info', destination: pino.destination({ dest: '/dev/null', sync: false }) });
    const logged = await buildServer({ config: benchConfig('memory://'), log: infoLog, authorize: denyAll, routes: healthRoutes({ version: VERSION, checks: [] }) });
    try {
      const rows = await measureGroup('healthz', options, [
        { url: `${await listen(bare)}/`, variant: 'bare Fastify hello world', detail: 'GET / -> {"hello":"world"}', baseline: true },
        { url: `${await listen(rampart.server.app)}/healthz`, variant: 'Rampart /healthz', detail: 'createRampart, memory://, log silent', baseline: false },
        { url: `${await listen(logged.app)}/healthz`, variant: 'Rampart /healthz, log info', detail: 'buildServer + healthRoutes, pino info -> /dev/null', baseline: false },
      ]);
      return { status: 'done', kind: 'http', rows: httpRatios(rows), facts: {} };
    } finally {
      await Promise.all([bare.close(), rampart.close(), logged.app.close()]);
    }
  },
};

// ---------------------------------------------------------------------------------------------
// b, c. tenant-read: one row by primary key, in withTenant (RLS as rampart_app) vs on db.owner

const idParams = z.object({ id: z.uuid() });

function found<T>(row: T | undefined): T {
  if (row === undefined) throw new RampartError('not_found', { detail: 'no such tenant' });
  return row;
}

function tenantReadRoutes(fixture: DbFixture): RouteDefinition[] {
  const { db } = fixture;
  const routes: RouteDefinition[] = [
    defineRoute({
      method: 'GET',
      url: '/bench/tenants/:id/owner',
      auth: { public: true },
      params: idParams,
      handler: async ({ params }) => found(await db.owner.selectFrom('tenants').selectAll().where('id', '=', params.id).executeTakeFirst()),
    }),
    defineRoute({
      method: 'GET',
      url: '/bench/tenants/:id/rls',
      auth: { public: true },
      params: idParams,
      handler: async ({ params }) =>
        found(await withTenant(db, { tenantId: params.id, actor }, (trx) => trx.selectFrom('tenants').selectAll().where('id', '=', params.id).executeTakeFirst())),
    }),
  ];
  const peer = fixture.ownerPeer;
  if (peer) {
    routes.push(
      defineRoute({
        method: 'GET',
        url: '/bench/tenants/:id/owner-peer',
        auth: { public: true },
        params: idParams,
        handler: async ({ params }) => found(await peer.selectFrom('tenants').selectAll().where('id', '=', params.id).executeTakeFirst()),
      }),
    );
  }
  return routes;
}

async function tenantRead(fixture: DbFixture, context: Context): Promise<CaseResult> {
  const server = await buildServer({ config: benchConfig(fixture.url), log: silent, authorize: denyAll, routes: tenantReadRoutes(fixture) });
  try {
    const base = `${await listen(server.app)}/bench/tenants/${fixture.tenantId}`;
    const postgres = fixture.label === 'PostgreSQL';
    const rows = await measureGroup(`tenant-read ${fixture.label}`, context.options, [
      { url: `${base}/owner`, variant: 'db.owner select by id (no RLS)', detail: postgres ? 'owner pool: 3 connections' : 'the one PGlite session', baseline: true },
      { url: `${base}/rls`, variant: 'withTenant + select by id (RLS)', detail: postgres ? 'app pool: 10 connections as rampart_app' : 'role rampart_app and scope in one set_config statement', baseline: false },
      ...(fixture.ownerPeer ? [{ url: `${base}/owner-peer`, variant: 'owner select by id, pool of 10 (reference)', detail: 'owner role, same pool size as the app pool', baseline: false }] : []),
    ]);
    return { status: 'done', kind: 'http', rows: httpRatios(rows), facts: { database: fixture.version } };
  } finally {
    await server.app.close();
  }
}

const tenantReadPglite: BenchCase = {
  name: 'tenant-read-pglite',
  title: 'tenant-read on embedded PGlite',
  run: async (context) => tenantRead(await context.pglite(), context),
};

const tenantReadPostgres: BenchCase = {
  name: 'tenant-read-postgres',
  title: 'tenant-read on PostgreSQL',
  async run(context) {
    const fixture = await context.postgres();
    if (typeof fixture === 'string') return { status: 'skipped', reason: fixture };
    return tenantRead(fixture, context);
  },
};

// ---------------------------------------------------------------------------------------------
// d. withTenant overhead, no HTTP: sequential calls

const withTenantOverhead: BenchCase = {
  name: 'withtenant-overhead',
  title: 'withTenant overhead (sequential, no HTTP)',
  async run(context) {
    const rows: MicroRow[] = [];
    const facts: Record<string, string> = {};
    const fixtures: DbFixture[] = [await context.pglite()];
    const postgres = await context.postgres();
    if (typeof postgres === 'string') {
      say(`  (skip) withTenant overhead on PostgreSQL: ${postgres}`);
      facts.skipped = postgres;
    } else fixtures.push(postgres);
    const n = context.options.iterations;
    for (const fixture of fixtures) {
      const { db, tenantId: id } = fixture;
      const [owner, rls] = (await microGroup(
        [
          () => db.owner.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirstOrThrow(),
          () => withTenant(db, { tenantId: id, actor }, (trx) => trx.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirstOrThrow()),
        ],
        n,
        context.options.rounds,
      )) as [MicroMeasure, MicroMeasure];
      rows.push({ db: fixture.label, variant: 'db.owner select by id', detail: '1 statement', baseline: true, measure: owner });
      const statements = fixture.db.kind === 'embedded' ? '5 statements: begin, set role, set_config, select, commit' : '4 statements: begin, set_config, select, commit';
      rows.push({ db: fixture.label, variant: 'withTenant + select by id', detail: statements, baseline: false, measure: rls });
      say(`  withTenant-overhead / ${fixture.label}: owner ${Math.round(owner.opsPerSec)} ops/s, withTenant ${Math.round(rls.opsPerSec)} ops/s`);
    }
    return { status: 'done', kind: 'micro', rows: withRatios(rows, (row) => row.db, (row) => row.measure.opsPerSec), facts };
  },
};

// ---------------------------------------------------------------------------------------------
// e. PGlite in a worker thread vs on the main thread

const itemParams = z.object({ id: z.coerce.number().int().min(1).max(1000) });

const pgliteWorker: BenchCase = {
  name: 'pglite-worker',
  title: 'PGlite in a worker thread vs on the main thread',
  async run(context) {
    say('  [fixture] two PGlite instances (main thread, worker thread) ...');
    const started = performance.now();
    // Created side by side: the worker's initdb runs on its own thread.
    const [main, worker] = await Promise.all([createBenchPglite(), PGliteWorkerClient.start()]);
    say(`  [fixture] both ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const first = <T>(rows: unknown[]): T => {
      if (rows.length !== 1) throw new RampartError('not_found', { detail: 'no such item' });
      return rows[0] as T;
    };
    const route = (url: string, read: (id: number) => Promise<unknown[]>) =>
      defineRoute({ method: 'GET', url, auth: { public: true }, params: itemParams, handler: async ({ params }) => first(await read(params.id)) });
    const routes = [
      route('/pk/main/:id', async (id) => (await main.query(PK_SQL, [id])).rows),
      route('/pk/worker/:id', (id) => worker.query(PK_SQL, [id])),
      route('/rls/main/:id', (id) =>
        main.transaction(async (tx) => {
          let rows: unknown[] = [];
          for (const statement of rlsReadStatements(id)) rows = (await tx.query(statement.sql, statement.params ?? [])).rows;
          return rows;
        }),
      ),
      route('/rls/worker-statement/:id', (id) => worker.transactionPerStatement(rlsReadStatements(id))),
      route('/rls/worker-tx/:id', (id) => worker.transaction(rlsReadStatements(id))),
    ];
    const server = await buildServer({ config: benchConfig('memory://'), log: silent, authorize: denyAll, routes });
    const helper = eluProbe((since) => worker.eventLoopUtilization(since));
    const rows: HttpRow[] = [];
    const calibration: MicroRow[] = [];
    try {
      // Calibration, no HTTP: one PK query at a time, on this thread and through the worker.
      const n = context.options.iterations;
      const [direct, dialect, hop] = (await microGroup(
        [() => main.query(PK_SQL, [42]), () => main.query(PK_SQL, [42], { rowMode: 'object', parsers: pgliteParsers }), () => worker.query(PK_SQL, [42])],
        n,
        context.options.rounds,
      )) as [MicroMeasure, MicroMeasure, MicroMeasure];
      calibration.push({ db: 'PGlite', variant: 'PK query on the main thread', detail: 'PGlite API, no options', baseline: true, measure: direct });
      calibration.push({ db: 'PGlite', variant: 'PK query on the main thread, per-query parsers', detail: "options as PGliteDialect passes them ({ rowMode, parsers })", baseline: false, measure: dialect });
      calibration.push({ db: 'PGlite', variant: 'PK query through the worker', detail: 'postMessage both ways, sequential', baseline: false, measure: hop });
      say(`  pglite-worker / sequential PK query: main thread ${fmtInt(direct.opsPerSec)} ops/s (${fmtInt(dialect.opsPerSec)} with per-query parsers), through the worker ${fmtInt(hop.opsPerSec)} ops/s`);

      const base = await listen(server.app);
      rows.push(
        ...(await measureGroup('pglite-worker', context.options, [
          { url: `${base}/pk/main/42`, group: 'pk', variant: 'PK read, PGlite on the main thread', detail: '1 statement, same thread as HTTP', baseline: true },
          { url: `${base}/pk/worker/42`, group: 'pk', variant: 'PK read, PGlite in a worker', detail: '1 message round trip per request', baseline: false, helper },
        ])),
        ...(await measureGroup('pglite-worker', context.options, [
          { url: `${base}/rls/main/42`, group: 'rls', variant: 'RLS read tx, PGlite on the main thread', detail: 'begin, set role, set_config, select, commit', baseline: true },
          { url: `${base}/rls/worker-statement/42`, group: 'rls', variant: 'RLS read tx, worker, 1 message per statement', detail: '5 round trips (what a Kysely driver over the worker would do)', baseline: false, helper },
          { url: `${base}/rls/worker-tx/42`, group: 'rls', variant: 'RLS read tx, worker, whole tx in 1 message', detail: '1 round trip; the worker runs the transaction', baseline: false, helper },
        ])),
      );
    } finally {
      await server.app.close();
      await Promise.all([main.close(), worker.close()]);
    }
    return {
      status: 'done',
      kind: 'http',
      rows: httpRatios(rows),
      calibration: withRatios(calibration, (row) => row.db, (row) => row.measure.opsPerSec),
      facts: {},
    };
  },
};

export const CASES: BenchCase[] = [healthz, tenantReadPglite, tenantReadPostgres, withTenantOverhead, pgliteWorker];
