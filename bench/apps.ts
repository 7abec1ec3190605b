/**
 * Data API throughput (issue 5): the app builder's secured read and list of CRM contacts against a
 * hand-written Fastify route running the same SELECT with no authentication, no policy and no
 * row-level security, in the same run and process, on PGlite and on PostgreSQL.
 * Goal: the secured path keeps at least 60 % of the bare throughput.
 *
 *   npm run bench -- --only apps-data               (both databases)
 *   npm run bench -- --only apps-data-pglite
 *
 * The secured path is the whole product path: a real session cookie (invitation, password, TOTP),
 * the session lookup, the engine's decision on the app resource, the installed spec, the tenant's
 * policy set, the SELECT sent with the tenant scope as rampart_app under RLS (`readAsTenant` for a
 * read, one `withTenant` transaction for a list), the compiled constraint in SQL, per-record decisions for masking (the caller holds read_pii, so nothing is masked) and the JSON
 * shaping of each value. The bare route reads the same table on the owner connection.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { createRampart, type Rampart } from '../src/app.js';
import { tableName, tenantKey } from '../src/apps/index.js';
import { randomBytes } from 'node:crypto';
import { createInvitation, principalOfSession, sessionAuthenticator, totpCodeAt, totpStep, validateSession } from '../src/identity/index.js';
import type { Authenticator, Principal } from '../src/http/index.js';
import { readAsTenant, withTenant } from '../src/db/index.js';
import { httpRatios, measureGroup, type BenchCase, type CaseResult, type Context, type DbFixture, type MicroRow } from './cases.js';
import { benchConfig, listen, microGroup, type MicroMeasure } from './support.js';

/** Contacts seeded into the benchmark tenant. */
export const APPS_BENCH_CONTACTS = 3000;
const PASSWORD = 'violet-harbour-lantern-88';
const say = (line: string) => console.log(line);

/** The columns the data API selects for a contact (src/apps/data/records.ts selectList), written out by hand. */
const CONTACT_COLUMNS = sql.raw('"id", "owner_id", "created_by", "created_at", "updated_at", "first_name", "last_name", "email", "phone", "company", "job_title", "notes"');

type AppsFixture = { rampart: Rampart; tenantId: string; table: string; recordId: string; cookie: string; resolved: Record<string, string>; close(): Promise<void> };

function cookieOf(header: string | string[] | undefined): string {
  const first = (Array.isArray(header) ? header : header ? [header] : [])[0];
  if (!first) throw new Error('no session cookie in the response');
  return first.split(';')[0]!;
}

/** A Rampart on the fixture's database with the CRM installed in a fresh tenant, seeded contacts and a signed-in sales manager. */
export async function openAppsFixture(fixture: DbFixture): Promise<AppsFixture> {
  const embedded = fixture.label === 'PGlite';
  // Embedded: a Rampart of its own started from a dump of the migrated fixture (skips initdb, as the
  // tests do). PostgreSQL: a Rampart on the fixture's database (migrations are current).
  //
  // The authenticator is the product's session authenticator, plus a bench-only shortcut: a request
  // carrying this run's random x-bench-principal header gets the manager's principal resolved once
  // up front. The "principal resolved" rows use it to tell the session lookup (identity) apart
  // from the data API's own work. Only this bench server has it.
  const shortcut = randomBytes(16).toString('hex');
  const late: { session?: Authenticator; principal: Principal | null } = { principal: null };
  const authenticate: Authenticator = async (request) => (request.headers['x-bench-principal'] === shortcut ? late.principal : late.session!(request));
  const rampart = await createRampart({ config: benchConfig(fixture.url), env: {}, authenticate, ...(embedded ? { loadDataDir: await fixture.db.dumpDataDir!() } : {}) });
  // The product's session authenticator with the node's session cache, as app.ts wires it.
  late.session = sessionAuthenticator({ db: rampart.db, ...(rampart.identity.accounts.sessionCache ? { cache: rampart.identity.accounts.sessionCache } : {}) });
  try {
    const actor = { type: 'system', id: 'bench' } as const;
    const tenant = await rampart.createTenant({ slug: 'crm-bench', name: 'CRM Bench' });
    await rampart.apps.installTemplate({ tenantId: tenant.id, actor, name: 'crm' });
    const table = tableName(tenantKey(tenant.id), 'crm', 'contact');
    await sql`insert into ${sql.table(table)} ("tenant_id", "id", "owner_id", "created_by", "first_name", "last_name", "email", "phone", "job_title", "notes", "created_at", "updated_at")
      select ${tenant.id}::uuid, gen_random_uuid(), 'bench-seed', 'bench-seed', 'First' || i, 'Last' || i, 'person' || i || '@example.test', '+49 30 ' || lpad(i::text, 6, '0'), 'Buyer',
        'Met at the trade fair; follow up in spring', now() - i * interval '1 second', now() - i * interval '1 second'
      from generate_series(1, ${APPS_BENCH_CONTACTS}::int) as i`.execute(rampart.db.owner);
    await sql`analyze ${sql.table(table)}`.execute(rampart.db.owner);
    const { rows } = await sql<{ id: string }>`select "id" from ${sql.table(table)} order by "created_at" desc offset ${Math.floor(APPS_BENCH_CONTACTS / 2)} limit 1`.execute(rampart.db.owner);

    // A real session: invitation into the app's sales_manager role (reads every contact, holds read_pii), password, TOTP.
    const { token } = await createInvitation(rampart.identity.accounts, { tenantId: tenant.id, actor, email: 'manager@bench.test', role: 'sales_manager', justification: 'benchmark account' });
    const app = rampart.server.app;
    const post = (url: string, payload: unknown, cookie?: string) => app.inject({ method: 'POST', url, payload: payload as Record<string, unknown>, ...(cookie ? { headers: { cookie } } : {}) });
    const accepted = await post('/api/v1/identity/crm-bench/invitations/accept', { token, password: PASSWORD, displayName: 'Bench Manager' });
    if (accepted.statusCode >= 300) throw new Error(`accepting the invitation answered ${accepted.statusCode}: ${accepted.body}`);
    const pending = cookieOf((await post('/api/v1/identity/crm-bench/sign-in', { email: 'manager@bench.test', password: PASSWORD })).headers['set-cookie']);
    const { secret } = (await post('/api/v1/identity/totp/enroll', {}, pending)).json<{ secret: string }>();
    const confirmed = await post('/api/v1/identity/totp/confirm', { code: totpCodeAt({ secret, step: totpStep(new Date()) }) }, pending);
    if (confirmed.statusCode >= 300) throw new Error(`TOTP confirmation answered ${confirmed.statusCode}: ${confirmed.body}`);
    const cookie = cookieOf(confirmed.headers['set-cookie']);
    const valid = await validateSession({ db: rampart.db }, decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1)));
    if (!valid) throw new Error('the bench session does not validate');
    late.principal = principalOfSession(valid, new Date());
    return { rampart, tenantId: tenant.id, table, recordId: rows[0]!.id, cookie, resolved: { 'x-bench-principal': shortcut }, close: () => rampart.close() };
  } catch (error) {
    await rampart.close();
    throw error;
  }
}

/**
 * The hand-written baseline: plain Fastify, the same SELECT on the owner role, no auth, no policy,
 * no RLS. PostgreSQL: on a pool of the app pool's size (Rampart's own owner pool is a quarter of
 * it, which would throttle the baseline at 20 connections of load); embedded: the one session.
 */
function bareServer(fixture: AppsFixture, db: DbFixture): FastifyInstance {
  const owner = db.ownerPeer ?? fixture.rampart.db.owner;
  const table = sql.table(fixture.table);
  const bare = Fastify({ logger: false });
  bare.get<{ Params: { id: string } }>('/contact/:id', async (request, reply) => {
    const { rows } = await sql<Record<string, unknown>>`select ${CONTACT_COLUMNS} from ${table} where "id" = ${request.params.id}`.execute(owner);
    if (!rows[0]) return reply.code(404).send({ title: 'not found' });
    return rows[0];
  });
  bare.get('/contact', async () => {
    const { rows } = await sql<Record<string, unknown>>`select ${CONTACT_COLUMNS} from ${table} order by "created_at" desc, "id" desc limit 51`.execute(owner);
    return { items: rows.slice(0, 50) };
  });
  return bare;
}

async function appsData(fixture: DbFixture, context: Context): Promise<CaseResult> {
  say(`  [fixture] ${fixture.label}: Rampart, CRM template, ${APPS_BENCH_CONTACTS} contacts, a signed-in sales manager ...`);
  const apps = await openAppsFixture(fixture);
  const bare = bareServer(apps, fixture);
  try {
    const secured = `${await listen(apps.rampart.server.app)}/api/v1/apps/crm/contact`;
    const base = `${await listen(bare)}/contact`;
    const headers = { cookie: apps.cookie };
    const name = `apps-data ${fixture.label}`;
    const rows = [
      ...(await measureGroup(name, context.options, [
        { url: `${base}/${apps.recordId}`, group: 'read', variant: 'bare Fastify: read contact by id', detail: 'same SELECT on the owner role, no auth/policy/RLS', baseline: true },
        { url: `${secured}/${apps.recordId}`, headers: apps.resolved, group: 'read', variant: 'data API read, principal resolved', detail: 'as below without the session lookup: the data API\'s own cost', baseline: false },
        { url: `${secured}/${apps.recordId}`, headers, group: 'read', variant: 'data API: GET /apps/crm/contact/:id', detail: 'session cookie, engine, scope + SELECT as one unit under RLS, record decision, masking', baseline: false },
      ])),
      ...(await measureGroup(name, context.options, [
        { url: base, group: 'list', variant: 'bare Fastify: list 50 contacts', detail: 'same SELECT (newest first, 51 rows), no auth/policy/RLS', baseline: true },
        { url: secured, headers: apps.resolved, group: 'list', variant: 'data API list, principal resolved', detail: 'as below without the session lookup: the data API\'s own cost', baseline: false },
        { url: secured, headers, group: 'list', variant: 'data API: GET /apps/crm/contact (50)', detail: 'as read, plus the compiled constraint in SQL and 50 records shaped', baseline: false },
      ])),
    ];
    // Where a request's time goes, one call at a time: the bare SELECT, the session lookup every
    // signed-in request pays, and the data API's transaction around the same SELECT.
    const { db } = apps.rampart;
    const token = decodeURIComponent(apps.cookie.slice(apps.cookie.indexOf('=') + 1));
    const scope = { tenantId: apps.tenantId, actor: { type: 'system', id: 'bench' } as const };
    const byId = sql`select ${CONTACT_COLUMNS} from ${sql.table(apps.table)} where "id" = ${apps.recordId}`;
    const byIdCompiled = byId.compile(db.app);
    // The same compiled statement for each, so the rows differ only in how it is sent.
    const [owner, lookup, rls, batched] = (await microGroup(
      [
        () => db.owner.executeQuery(byIdCompiled),
        () => validateSession({ db }, token),
        () => withTenant(db, scope, (trx) => trx.executeQuery(byIdCompiled), { readOnly: true }),
        () => readAsTenant(db, scope, byIdCompiled),
      ],
      context.options.iterations,
      context.options.rounds,
    )) as [MicroMeasure, MicroMeasure, MicroMeasure, MicroMeasure];
    const calibration: MicroRow[] = [
      { db: fixture.label, variant: 'owner select by id', detail: 'the bare read\'s SELECT on db.owner', baseline: true, measure: owner },
      { db: fixture.label, variant: 'session lookup (validateSession)', detail: 'session, user and roles in one SELECT sent with the scope', baseline: false, measure: lookup },
      { db: fixture.label, variant: 'withTenant + select by id', detail: 'a read-only tenant transaction around the SELECT, as rampart_app under RLS', baseline: false, measure: rls },
      { db: fixture.label, variant: 'readAsTenant + select by id', detail: 'what the data API read runs: scope and SELECT sent as one unit', baseline: false, measure: batched },
    ].map((row) => ({ ...row, ...(row.baseline ? {} : { ratio: row.measure.opsPerSec / owner.opsPerSec }) }));
    return { status: 'done', kind: 'http', rows: httpRatios(rows), calibration, facts: { database: fixture.version } };
  } finally {
    await bare.close();
    await apps.close();
  }
}

export const appsDataPglite: BenchCase = {
  name: 'apps-data-pglite',
  title: 'Data API read and list on embedded PGlite vs a bare Fastify route',
  run: async (context) => appsData(await context.pglite(), context),
};

export const appsDataPostgres: BenchCase = {
  name: 'apps-data-postgres',
  title: 'Data API read and list on PostgreSQL vs a bare Fastify route',
  async run(context) {
    const fixture = await context.postgres();
    if (typeof fixture === 'string') return { status: 'skipped', reason: fixture };
    return appsData(fixture, context);
  },
};

export const APPS_CASES: BenchCase[] = [appsDataPglite, appsDataPostgres];
