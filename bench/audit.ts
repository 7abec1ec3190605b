/**
 * Audit log costs (issue: authorization and audit), each against a baseline in the same run:
 *
 *  - append: `audit.record()` (chain lock, head lookup, canonical JSON + SHA-256, insert) inside
 *    `withTenant`, versus inserting the same row into an unchained copy of the table in the same
 *    kind of transaction. Sequential, then 8 in flight (PostgreSQL only: PGlite is one session).
 *  - verify: `verifyAuditLog` over a chain of BENCH_VERIFY_EVENTS (default 100,000) events,
 *    reported per 100k events, versus a plain `SELECT` of the same rows (the I/O floor).
 *
 *   npx tsx bench/audit.ts                 # PGlite and PostgreSQL (skipped if unreachable)
 *   BENCH_N=1000 BENCH_VERIFY_EVENTS=20000 npx tsx bench/audit.ts
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Transaction } from 'kysely';
import pg from 'pg';
import { createAuditLog, eventHash, GENESIS_HASH, generateSigningKeyPem, signerFromPem, verifierFor, verifyAuditLog, writeCheckpoints } from '../src/audit/index.js';
import { uuidv7 } from '../src/core/index.js';
import { createTenant, execScript, migrate, migrations, openDatabase, withTenant, type AuditEvent, type Database } from '../src/db/index.js';

const N = Number(process.env.BENCH_N ?? 2000);
const VERIFY_EVENTS = Number(process.env.BENCH_VERIFY_EVENTS ?? 100_000);
const POSTGRES = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const actor = { type: 'user' as const, id: 'bench-user' };

type Row = { database: string; measure: string; value: string; baseline: string; ratio: string };
const rows: Row[] = [];

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

async function setupBaselineTable(db: Database): Promise<void> {
  await execScript(
    db.owner,
    `CREATE TABLE IF NOT EXISTS bench_plain_events (LIKE audit_events INCLUDING DEFAULTS);
     ALTER TABLE bench_plain_events ENABLE ROW LEVEL SECURITY; ALTER TABLE bench_plain_events FORCE ROW LEVEL SECURITY;
     DROP POLICY IF EXISTS tenant_isolation ON bench_plain_events;
     CREATE POLICY tenant_isolation ON bench_plain_events TO rampart_app USING (tenant_id = rampart_current_tenant()) WITH CHECK (tenant_id = rampart_current_tenant());
     GRANT SELECT, INSERT ON bench_plain_events TO rampart_app;`,
  );
}

async function appendBench(name: string, db: Database): Promise<void> {
  await setupBaselineTable(db);
  const tenant = await createTenant(db, { slug: `bench-${randomBytes(3).toString('hex')}`, name: 'Bench' });
  const audit = createAuditLog({ rules: [] });
  const input = { tenantId: tenant.id, actor, action: 'customer.updated', target: { type: 'customer', id: 'c-1' }, diff: { name: { before: 'Ann', after: 'Anne' } }, justification: 'benchmark', context: { ip: '203.0.113.1', userAgent: 'bench', requestId: 'req-1' } };
  let seq = 0n;
  const plain = () =>
    withTenant(db, { tenantId: tenant.id, actor }, async (trx) => {
      seq += 1n;
      await (trx as never as Transaction<{ bench_plain_events: Record<string, unknown> }>)
        .insertInto('bench_plain_events')
        .values({ id: uuidv7(), tenant_id: tenant.id, chain: tenant.id, seq, occurred_at: new Date(), actor_type: 'user', actor_id: 'bench-user', action: 'customer.updated', target_type: 'customer', target_id: 'c-1', diff: JSON.stringify(input.diff), ip: '203.0.113.1', user_agent: 'bench', justification: 'benchmark', request_id: 'req-1', prev_hash: GENESIS_HASH, hash: GENESIS_HASH })
        .execute();
    });
  const chained = () => withTenant(db, { tenantId: tenant.id, actor }, (trx) => audit.record(trx, input).then(() => undefined));
  // warm-up
  for (let i = 0; i < 50; i += 1) {
    await plain();
    await chained();
  }
  const plainMs = await timed(async () => {
    for (let i = 0; i < N; i += 1) await plain();
  });
  const chainedMs = await timed(async () => {
    for (let i = 0; i < N; i += 1) await chained();
  });
  const rate = (ms: number, n = N) => `${Math.round((n / ms) * 1000)}/s`;
  rows.push({ database: name, measure: `append, sequential (N=${N})`, value: rate(chainedMs), baseline: `${rate(plainMs)} plain insert`, ratio: (chainedMs / plainMs).toFixed(2) });
  if (db.kind === 'postgres') {
    const inFlight = 8;
    const run = async (fn: () => Promise<void>) => timed(async () => {
      let next = 0;
      await Promise.all(Array.from({ length: inFlight }, async () => {
        while (next < N) {
          next += 1;
          await fn();
        }
      }));
    });
    const plainParallel = await run(plain);
    const chainedParallel = await run(chained);
    rows.push({ database: name, measure: `append, ${inFlight} in flight, one tenant (N=${N})`, value: rate(chainedParallel), baseline: `${rate(plainParallel)} plain insert`, ratio: (chainedParallel / plainParallel).toFixed(2) });
  }
}

async function verifyBench(name: string, db: Database): Promise<void> {
  const tenant = await createTenant(db, { slug: `verify-${randomBytes(3).toString('hex')}`, name: 'Verify' });
  // Build the chain in memory and insert it in batches (as the owner), far faster than N appends.
  let prev = GENESIS_HASH;
  const started = Date.now() - VERIFY_EVENTS;
  for (let offset = 0; offset < VERIFY_EVENTS; offset += 1000) {
    const batch: AuditEvent[] = [];
    for (let i = offset; i < Math.min(offset + 1000, VERIFY_EVENTS); i += 1) {
      const fields = { id: uuidv7(started + i), tenant_id: tenant.id, chain: tenant.id, seq: BigInt(i + 1), occurred_at: new Date(started + i), actor_type: 'user' as const, actor_id: `u${i % 50}`, on_behalf_of: null, action: 'customer.updated', target_type: 'customer', target_id: `c-${i % 500}`, diff: { name: { before: `n${i}`, after: `n${i + 1}` } }, ip: '198.51.100.4', user_agent: 'bench', device_id: null, justification: null, request_id: `r-${i}`, prev_hash: prev };
      const event = { ...fields, hash: eventHash(fields) };
      prev = event.hash;
      batch.push(event);
    }
    await db.owner.insertInto('audit_events').values(batch.map((e) => ({ ...e, diff: JSON.stringify(e.diff) }))).execute();
  }
  const signer = signerFromPem(generateSigningKeyPem());
  await writeCheckpoints({ db, signer });
  const scanMs = await timed(async () => {
    let after = 0n;
    for (;;) {
      const page = await db.owner.selectFrom('audit_events').selectAll().where('chain', '=', tenant.id).where('seq', '>', after).orderBy('seq').limit(5000).execute();
      if (page.length < 5000) break;
      after = page.at(-1)!.seq;
    }
  });
  let ok = false;
  const verifyMs = await timed(async () => {
    ok = (await verifyAuditLog({ db, verifier: verifierFor(signer.publicKey), chains: [tenant.id] })).ok;
  });
  if (!ok) throw new Error('verification failed on an intact chain');
  const per100k = (ms: number) => `${((ms / VERIFY_EVENTS) * 100_000 / 1000).toFixed(2)} s`;
  rows.push({ database: name, measure: `audit verify, per 100k events (chain of ${VERIFY_EVENTS})`, value: per100k(verifyMs), baseline: `${per100k(scanMs)} plain paged SELECT`, ratio: (verifyMs / scanMs).toFixed(2) });
}

async function withPostgres(fn: (db: Database) => Promise<void>): Promise<void> {
  const name = `rampart_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (error) {
    console.log(`PostgreSQL at ${POSTGRES} unreachable (${(error as Error).message}); skipping its rows`);
    return;
  }
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES);
  url.pathname = `/${name}`;
  const db = await openDatabase({ url: url.toString(), poolSize: 10 });
  try {
    await migrate({ db, list: migrations });
    await fn(db);
  } finally {
    await db.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

async function main(): Promise<void> {
  console.log(`audit bench: node ${process.version}, ${os.cpus().length} cores, N=${N}, verify chain ${VERIFY_EVENTS}`);
  const embedded = await openDatabase({ url: 'memory://' });
  try {
    await migrate({ db: embedded, list: migrations });
    await appendBench('PGlite', embedded);
    await verifyBench('PGlite', embedded);
  } finally {
    await embedded.close();
  }
  await withPostgres(async (db) => {
    await appendBench('PostgreSQL', db);
    await verifyBench('PostgreSQL', db);
  });
  console.log('\n| database | measure | Rampart | baseline | ratio (time, Rampart / baseline) |\n|---|---|---|---|---|');
  for (const row of rows) console.log(`| ${row.database} | ${row.measure} | ${row.value} | ${row.baseline} | ${row.ratio} |`);
}

await main();
