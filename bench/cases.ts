/**
 * The benchmark cases. Each returns its rows; the runner prints them and writes docs/benchmarks.md.
 * Every case measures its baseline in the same run, on the same machine, right before the subject.
 */
import Fastify from 'fastify';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { z } from 'zod';
import { createRampart, VERSION } from '../src/app.js';
import { createLogger, RampartError } from '../src/core/index.js';
import { createTenant, migrate, migrations, openDatabase, withTenant, type Actor, type Database, type Schema } from '../src/db/index.js';
import { buildServer, defineRoute, healthRoutes, type RouteDefinition } from '../src/http/index.js';
import { BENCH_TENANT, createBenchPglite, PGliteWorkerClient, PK_SQL, rlsReadStatements } from './pglite-worker.js';
import { benchConfig, eluProbe, listen, loadTest, micro, type BenchOptions, type HttpMeasure, type MicroMeasure } from './support.js';

export type HttpRow = { variant: string; detail: string; group: string; baseline: boolean; measure: HttpMeasure; ratio?: number };
export type MicroRow = { db: string; variant: string; detail: string; baseline: boolean; measure: MicroMeasure; ratio?: number };

export type CaseResult =
  | { status: 'done'; kind: 'http'; rows: HttpRow[]; facts: Record<string, string> }
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
  readonly facts: Record<string, string> = {};
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
  const { rows } = await pgVersion(db);
  say(`  [fixture] PGlite ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { label: 'PGlite', url: 'memory://', db, tenantId: tenant.id, version: rows, close: () => db.close() };
}

async function pgVersion(db: Database): Promise<{ rows: string }> {
  const row = await db.owner.selectNoFrom((eb) => eb.fn<string>('version').as('v')).executeTakeFirstOrThrow();
  return { rows: row.v.split(' on ')[0] ?? row.v };
}

const APP_ROLE = 'rampart_app';

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
  const roleExisted = (await admin.query('select 1 from pg_roles where rolname = $1', [APP_ROLE])).rowCount! > 0;
  say(`  [fixture] PostgreSQL: create database ${name}, migrate, one tenant ...`);
  await admin.query(`CREATE DATABASE ${name}`);
  let db: Database | undefined;
  let ownerPeer: Kysely<Schema> | undefined;
  const close = async () => {
    await ownerPeer?.destroy();
    await db?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    // migrate() creates the cluster-wide app role when it is missing; remove it again if this run
    // created it and nothing else uses it (DROP ROLE refuses while any database still grants to it).
    if (!roleExisted) await admin.query(`DROP ROLE IF EXISTS ${APP_ROLE}`).catch(() => say(`  [fixture] left role ${APP_ROLE} in place (still in use)`));
    await admin.end();
    say(`  [fixture] dropped database ${name}`);
  };
  try {
    db = await openDatabase({ url: url.toString(), log: silent, poolSize: 10 });
    await migrate({ db, list: migrations });
    const tenant = await createTenant(db, { slug: 'bench', name: 'Bench Tenant' });
    ownerPeer = new Kysely<Schema>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url.toString(), max: 10, application_name: 'rampart:bench-owner-peer' }) }) });
    const { rows } = await pgVersion(db);
    return { label: 'PostgreSQL', url: redact(url.toString()), db, tenantId: tenant.id, ownerPeer, version: rows, close };
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

const httpRatios = (rows: HttpRow[]) => withRatios(rows, (row) => row.group, (row) => row.measure.rps);

function report(name: string, variant: string, measure: HttpMeasure): void {
  const flags = measure.errors || measure.non2xx ? `  (!) errors ${measure.errors}, non-2xx ${measure.non2xx}` : '';
  say(`  ${name} / ${variant}: ${Math.round(measure.rps).toLocaleString('en-US')} req/s, p50 ${measure.p50} ms, p99 ${measure.p99} ms, ELU ${measure.elu.toFixed(2)}${measure.helperElu === undefined ? '' : `/${measure.helperElu.toFixed(2)}`}${flags}`);
}

// ---------------------------------------------------------------------------------------------
// a. healthz: Rampart's /healthz vs a bare Fastify hello world

const healthz: BenchCase = {
  name: 'healthz',
  title: 'healthz: Rampart /healthz vs bare Fastify',
  async run({ options }) {
    const rows: HttpRow[] = [];
    const bare = Fastify({ logger: false });
    bare.get('/', async () => ({ hello: 'world' }));
    const bareUrl = await listen(bare);
    try {
      const measure = await loadTest(`${bareUrl}/`, options);
      report('healthz', 'bare Fastify', measure);
      rows.push({ variant: 'bare Fastify hello world', detail: 'GET / -> {"hello":"world"}', group: 'healthz', baseline: true, measure });
    } finally {
      await bare.close();
    }

    const rampart = await createRampart({ config: benchConfig('memory://'), env: {} });
    try {
      const url = await listen(rampart.server.app);
      const measure = await loadTest(`${url}/healthz`, options);
      report('healthz', 'Rampart', measure);
      rows.push({ variant: 'Rampart /healthz', detail: 'createRampart, memory://, log silent', group: 'healthz', baseline: false, measure });
    } finally {
      await rampart.close();
    }

    // Not in the brief, but what a deployment runs: log level info (Fastify logs every request
    // twice), written to /dev/null so only the serialisation cost shows.
    const infoLog = createLogger({ level: 'info', destination: pino.destination({ dest: '/dev/null', sync: false }) });
    const logged = await buildServer({ config: benchConfig('memory://'), log: infoLog, routes: healthRoutes({ version: VERSION, checks: [] }) });
    try {
      const url = await listen(logged.app);
      const measure = await loadTest(`${url}/healthz`, options);
      report('healthz', 'Rampart, log info', measure);
      rows.push({ variant: 'Rampart /healthz, log info', detail: 'buildServer + healthRoutes, pino info -> /dev/null', group: 'healthz', baseline: false, measure });
    } finally {
      await logged.app.close();
    }
    return { status: 'done', kind: 'http', rows: httpRatios(rows), facts: {} };
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
  const name = `tenant-read ${fixture.label}`;
  const server = await buildServer({ config: benchConfig(fixture.url), log: silent, routes: tenantReadRoutes(fixture) });
  const rows: HttpRow[] = [];
  try {
    const base = `${await listen(server.app)}/bench/tenants/${fixture.tenantId}`;
    const owner = await loadTest(`${base}/owner`, context.options);
    report(name, 'owner', owner);
    const ownerPool = fixture.label === 'PostgreSQL' ? 'owner pool: 3 connections' : 'the one PGlite session';
    rows.push({ variant: 'db.owner select by id (no RLS)', detail: ownerPool, group: 'read', baseline: true, measure: owner });
    const rls = await loadTest(`${base}/rls`, context.options);
    report(name, 'withTenant', rls);
    const appPool = fixture.label === 'PostgreSQL' ? 'app pool: 10 connections as rampart_app' : 'SET LOCAL ROLE rampart_app';
    rows.push({ variant: 'withTenant + select by id (RLS)', detail: appPool, group: 'read', baseline: false, measure: rls });
    if (fixture.ownerPeer) {
      const peer = await loadTest(`${base}/owner-peer`, context.options);
      report(name, 'owner, pool 10', peer);
      rows.push({ variant: 'owner select by id, pool of 10 (reference)', detail: 'same pool size as the app pool', group: 'read', baseline: false, measure: peer });
    }
  } finally {
    await server.app.close();
  }
  return { status: 'done', kind: 'http', rows: httpRatios(rows), facts: { database: fixture.version, connections: '20' } };
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
      const owner = await micro(() => db.owner.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirstOrThrow(), n);
      rows.push({ db: fixture.label, variant: 'db.owner select by id', detail: '1 statement', baseline: true, measure: owner });
      const rls = await micro(() => withTenant(db, { tenantId: id, actor }, (trx) => trx.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirstOrThrow()), n);
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
    const server = await buildServer({ config: benchConfig('memory://'), log: silent, routes });
    const helper = eluProbe((since) => worker.eventLoopUtilization(since));
    const rows: HttpRow[] = [];
    try {
      const base = await listen(server.app);
      const runs: Array<[string, string, string, string, boolean]> = [
        ['/pk/main/42', 'pk', 'PK read, PGlite on the main thread', '1 statement, same thread as HTTP', true],
        ['/pk/worker/42', 'pk', 'PK read, PGlite in a worker', '1 message round trip per request', false],
        ['/rls/main/42', 'rls', 'RLS read tx, PGlite on the main thread', 'begin, set role, set_config, select, commit', true],
        ['/rls/worker-statement/42', 'rls', 'RLS read tx, worker, 1 message per statement', '5 round trips (a Kysely driver over the worker would do this)', false],
        ['/rls/worker-tx/42', 'rls', 'RLS read tx, worker, whole tx in 1 message', '1 round trip; the worker runs the transaction', false],
      ];
      for (const [path, group, variant, detail, baseline] of runs) {
        const measure = await loadTest(`${base}${path}`, context.options, baseline ? undefined : helper);
        report('pglite-worker', variant, measure);
        rows.push({ variant, detail, group, baseline, measure });
      }
    } finally {
      await server.app.close();
      await Promise.all([main.close(), worker.close()]);
    }
    return { status: 'done', kind: 'http', rows: httpRatios(rows), facts: { tenant: BENCH_TENANT } };
  },
};

export const CASES: BenchCase[] = [healthz, tenantReadPglite, tenantReadPostgres, withTenantOverhead, pgliteWorker];
