/**
 * Writes the results into docs/benchmarks.md. The file is made of generated blocks between
 * `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; a run replaces the blocks of the cases it ran and
 * leaves every other block, and any text outside the blocks, as it was. So `--only` updates one
 * section, and notes written by hand outside the markers survive.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { BenchCase, CaseResult, HttpRow, MicroRow } from './cases.js';
import { fmtCpu, fmtElu, fmtInt, fmtMs, fmtRatio, markdownTable, type BenchOptions } from './support.js';

export type CaseOutcome = { benchCase: BenchCase; result: CaseResult };

export type Machine = { nproc: number; cpu: string; node: string; kernel: string; memoryGiB: number; summary: string };

export function machine(): Machine {
  const nproc = availableParallelism();
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const memoryGiB = Math.round(totalmem() / 2 ** 30);
  const kernel = `${process.platform} ${release()}`;
  return { nproc, cpu, node: process.version, kernel, memoryGiB, summary: `nproc ${nproc} (${cpu}), ${memoryGiB} GiB, Node ${process.version}, ${kernel}` };
}

export const DOCS_FILE = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));

/** Block order in a new file; blocks missing from an existing file are appended in this order. */
const BLOCKS = ['run', 'healthz', 'tenant-read-pglite', 'tenant-read-postgres', 'withtenant-overhead', 'pglite-worker', 'apps-data-pglite', 'apps-data-postgres'];

const INTRO = `# Benchmarks

Measured by \`npm run bench\` (\`bench/run.ts\`). Each case measures its baseline in the same run and
the same process, interleaved with its subjects, and reports the ratio subject/baseline: ratios
carry over between machines far better than absolute numbers. The sections below are rewritten by the
runner (between the \`bench:\` markers; a \`--only\` run rewrites only its own sections, so sections
can come from different runs: each states its date). Text outside the markers is kept.
`;

type WriteInput = { outcomes: CaseOutcome[]; options: BenchOptions; startedAt: Date; finishedAt: Date; machine: Machine; background: number | undefined };

export async function writeDocs(input: WriteInput): Promise<string> {
  let text = await readFile(DOCS_FILE, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return INTRO;
    throw error;
  });
  const blocks = new Map<string, string>([['run', runBlock(input)]]);
  for (const outcome of input.outcomes) {
    const body = caseBlock(outcome, input);
    if (body) blocks.set(outcome.benchCase.name, body);
  }
  for (const name of BLOCKS) {
    const body = blocks.get(name);
    const start = `<!-- bench:${name} -->`;
    const end = `<!-- /bench:${name} -->`;
    const from = text.indexOf(start);
    const to = text.indexOf(end);
    if (from >= 0 && to > from) {
      if (body !== undefined) text = `${text.slice(0, from)}${start}\n${body.trim()}\n${text.slice(to)}`;
    } else {
      const placeholder = `## ${name}\n\nNot measured yet: run \`npm run bench -- --only ${name}\`.`;
      text = `${text.trimEnd()}\n\n${start}\n${(body ?? placeholder).trim()}\n${end}\n`;
    }
  }
  await writeFile(DOCS_FILE, text.endsWith('\n') ? text : `${text}\n`);
  return DOCS_FILE;
}

const stamp = (date: Date) => `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function runBlock(input: WriteInput): string {
  const { options, startedAt, finishedAt, machine: m, outcomes } = input;
  const seconds = Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000);
  return `## Last run

- **Date:** ${stamp(startedAt)} (${seconds} s in all)
- **Command:** \`${options.command}\`
- **Cases run:** ${outcomes.map((o) => `${o.benchCase.name}${o.result.status === 'skipped' ? ' (skipped)' : ''}`).join(', ') || 'none'}
- **Machine:** nproc ${m.nproc} (${m.cpu}), ${m.memoryGiB} GiB RAM, ${m.kernel}
- **Node:** ${m.node}
- **Background load before the run:** ${input.background === undefined ? 'not measured (no /proc/stat)' : `${input.background.toFixed(2)} cores busy outside the bench`}

How the HTTP cases measure: servers are built in the bench process and listen on 127.0.0.1 with
port 0; autocannon 8 drives them with 20 connections, no pipelining, ${options.client === 'worker' ? 'from its own worker thread (`workers: 1`), so the load generator does not run on the server\'s event loop but does share the machine\'s cores with the server (and with PostgreSQL)' : 'on the server\'s own event loop (`BENCH_CLIENT=inline`), so client and server share one thread'}.
A baseline and its subjects are measured together: ${options.warmup} s of warm-up each, then ${options.duration} s each cut
into ${options.rounds} slice(s) run in turn (A B A B ...), so a change in background load hits them alike.
req/s is completed requests over measured seconds. p50/p99 come from autocannon (1 ms
resolution)${options.rounds > 1 ? '; over several slices they are the request-weighted mean of the slices\' percentiles' : ''}.
ELU is the event-loop utilisation of the server's thread during the measured runs (1.00 means the
thread never waited), and of the PGlite worker where there is one. "other CPU" is how many cores
were busy outside the bench process during the runs (from /proc/stat): PostgreSQL's backends in the
PostgreSQL cases, and otherwise other processes on the machine. A value much above 0 in a PGlite or healthz row means the run shared the machine and its numbers are low.`;
}

function caseBlock({ benchCase, result }: CaseOutcome, input: WriteInput): string | undefined {
  const heading = `## ${benchCase.name}: ${benchCase.title.replace(/^[^:]*: /, '')}`;
  if (result.status === 'skipped') {
    // Keep an earlier measurement rather than overwrite it with a skip notice.
    return undefined;
  }
  const database = result.facts.database ? `, ${result.facts.database}` : '';
  const measured = `Measured ${stamp(input.startedAt)} with \`${input.options.command}\`, ${input.machine.summary}${database}.`;
  const table = result.kind === 'http' ? httpTable(result.rows) + (result.calibration?.length ? `\n\nSequential, no HTTP (N = ${input.options.iterations}):\n\n${microTable(result.calibration)}` : '') : microTable(result.rows);
  const notes = NOTES[benchCase.name]?.(result, input) ?? '';
  return `${heading}\n\n${measured}\n\n${table}\n\n${notes}`;
}

function httpTable(rows: HttpRow[]): string {
  return markdownTable(
    ['variant', 'detail', 'req/s', 'p50 ms', 'p99 ms', 'ELU', 'other CPU', 'ratio'],
    rows.map((row) => [
      row.variant + (row.measure.errors || row.measure.non2xx ? ` (errors ${row.measure.errors}, non-2xx ${row.measure.non2xx})` : ''),
      row.detail,
      fmtInt(row.measure.rps),
      fmtMs(row.measure.p50),
      fmtMs(row.measure.p99),
      fmtElu(row.measure),
      fmtCpu(row.measure.otherCpu),
      row.baseline ? 'baseline' : fmtRatio(row.ratio),
    ]),
  );
}

function microTable(rows: MicroRow[]): string {
  return markdownTable(
    ['database', 'variant', 'detail', 'ops/s', 'µs/op', 'other CPU', 'ratio'],
    rows.map((row) => [row.db, row.variant, row.detail, fmtInt(row.measure.opsPerSec), row.measure.usPerOp.toFixed(0), fmtCpu(row.measure.otherCpu), row.baseline ? 'baseline' : fmtRatio(row.ratio)]),
  );
}

// ---------------------------------------------------------------------------------------------
// Per-case reference figures and interpretation. Every number and every comparative claim below is
// computed from the rows of this run; the fixed sentences describe what the code does.

type Done = Extract<CaseResult, { status: 'done' }>;
const httpRows = (result: Done) => (result.kind === 'http' ? result.rows : []);
const microRows = (result: Done) => (result.kind === 'micro' ? result.rows : []);
const find = <R extends { variant: string }>(rows: R[], prefix: string) => rows.find((row) => row.variant.startsWith(prefix));
const pct = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? '?' : `${Math.round(value * 100)} %`);
const rps = (row: HttpRow | undefined) => fmtInt(row?.measure.rps ?? 0);
const ratioOf = (a: HttpRow | undefined, b: HttpRow | undefined) => (a && b && b.measure.rps > 0 ? a.measure.rps / b.measure.rps : undefined);

/** A caution when other processes were busy during the runs (not counting PostgreSQL's own backends). */
function caution(measures: Array<{ otherCpu?: number }>, exempt = false): string {
  const worst = Math.max(0, ...measures.map((m) => m.otherCpu ?? 0));
  if (exempt || worst <= 0.5) return '';
  return `\n\n**Caution:** up to ${worst.toFixed(2)} cores were busy outside the bench during these runs (other processes on the machine): absolute numbers are low and ratios noisy. Re-run on a quiet machine before drawing conclusions.`;
}

const saturation = (elu: number | undefined) => (elu === undefined ? 'unknown' : elu >= 0.9 ? 'saturated' : elu >= 0.7 ? 'mostly busy' : 'not saturated');

/** Issue 5: the data API against a bare Fastify route; goal: the secured path keeps at least 60 %. */
function appsDataNotes(result: Done): string {
  const rows = httpRows(result);
  const calibration = result.kind === 'http' ? (result.calibration ?? []) : [];
  const line = (kind: 'read' | 'list') => {
    const group = rows.filter((row) => row.group === kind);
    const bare = group.find((row) => row.baseline);
    const own = group.find((row) => row.variant.includes('principal resolved'));
    const full = group.find((row) => !row.baseline && row !== own);
    const verdict = (full?.ratio ?? 0) >= 0.6 ? 'meets' : 'misses';
    return `- ${kind}: bare ${rps(bare)} req/s; data API ${rps(full)} req/s (**${fmtRatio(full?.ratio)}**, ${verdict} the 60 % goal); with the principal resolved up front ${rps(own)} req/s (${fmtRatio(own?.ratio)}).`;
  };
  const us = (prefix: string) => calibration.find((row) => row.variant.startsWith(prefix))?.measure.usPerOp;
  const owner = us('owner select');
  const lookup = us('session lookup');
  const rls = us('withTenant');
  const batched = us('readAsTenant');
  const fmtUs = (value: number | undefined) => (value === undefined ? '?' : `${value.toFixed(0)} µs`);
  return `The secured rows are the product path end to end: a real session cookie (invitation, password,
TOTP), the pipeline (authenticate, the engine's decision on \`crm__contact\`, validation), the
installed spec (concurrent misses share one load) and the tenant's policy set, both cached per
node for 2 s, the SELECT as \`rampart_app\` under RLS (a read sends the tenant scope and the SELECT
as one unit, db's \`readAsTenant\`; a list runs one read-only \`withTenant\` transaction), the
compiled constraint in SQL (\`true\` for a sales manager), the per-record decision for \`read_pii\` and the JSON shaping of
each value. The bare route is plain Fastify running the same SELECT on the owner role (PostgreSQL:
a pool as large as the app pool; until 2026-11-30 it ran on Rampart's owner pool of 3 connections,
which held the baseline down, so older PostgreSQL ratios here flattered the secured path). The
"principal resolved" rows skip only the session lookup (a bench-only header on the bench's own
server maps to the same principal), so they show the data API's own cost.

**Interpretation.**

${line('read')}
${line('list')}

One call at a time, no HTTP: the bare SELECT costs ${fmtUs(owner)}; the data API's read of the same
record ${fmtUs(batched)} (db's \`readAsTenant\`: the role and tenant settings and the SELECT go out
together, in the one implicit transaction of a single Sync, read only: one call embedded, one round
trip on PostgreSQL); the same SELECT in a \`withTenant\` transaction ${fmtUs(rls)} (begin, settings,
select, commit: two calls embedded, four round trips on PostgreSQL). A session lookup from the database costs ${fmtUs(lookup)} (session by token hash, user and roles
in one joined SELECT sent the same way; a session due its once-a-minute slide takes a tenant
transaction instead, to write it); signed-in requests pay it once per \`sessions.cacheMs\` (2 s)
per node, because the node keeps sessions it validated (identity's session cache, forgotten on
every session change), so the cookie rows and the "principal resolved" rows are now close. What
separates the secured read from the bare one is the tenant scope (one more statement in the same
call, and the RLS predicate), Rampart's HTTP stack (security headers, request id, the pipeline) and
the data API's own work (engine decisions, the per-record masking decision, value
shaping): each is a fraction of a millisecond, and a single-record read has nothing else to hide
them behind. A list of 50 spends most of its time in the SELECT and the rows that both routes
produce, so the fixed cost weighs less.${caution([...rows.map((row) => row.measure), ...calibration.map((row) => row.measure)], result.facts.database?.startsWith('PostgreSQL'))}`;
}

const NOTES: Record<string, (result: Done, input: WriteInput) => string> = {
  'apps-data-pglite': appsDataNotes,
  'apps-data-postgres': appsDataNotes,
  healthz(result, input) {
    const rows = httpRows(result);
    const bare = find(rows, 'bare');
    const rampart = rows.find((row) => row.variant === 'Rampart /healthz');
    const logged = find(rows, 'Rampart /healthz, log info');
    const logCost = ratioOf(logged, rampart);
    const logLine = logged
      ? `With the log level at \`info\`, what a deployment runs (Fastify logs two lines per request, here
into /dev/null), the same route serves ${rps(logged)} req/s: ${pct(logCost)} of the silent Rampart figure${logCost !== undefined && logCost < 0.9 ? ', so request logging is a cost of its own on top of the security stack' : logCost !== undefined && logCost > 1.1 ? ' (faster than silent: noise, see the other-CPU column)' : ', i.e. no measurable cost at this load'}. The other cases run with the log silent.`
      : '';
    return `**DESIGN.md reference:** Fastify hello world ~37k req/s (autocannon -c20 on the same 2-core machine).

**Interpretation.** Rampart's \`/healthz\` serves ${rps(rampart)} req/s, ${fmtRatio(rampart?.ratio)} a bare Fastify hello world
(${rps(bare)} req/s). The handler is trivial in both; the difference is Rampart's per-request stack:
the security headers (computed once at start-up and copied onto each reply, ADR 0001; until
2026-11-30 @fastify/helmet rebuilt them on every request), the \`onSend\` hook (x-request-id, permissions-policy,
cache-control), request-id generation from the \`x-request-id\` header, the route pipeline
(authenticate, then parse params/query/body) and the bigint-aware JSON serialiser. Server thread:
${saturation(bare?.measure.elu)} for bare (ELU ${bare?.measure.elu.toFixed(2) ?? '?'}), ${saturation(rampart?.measure.elu)} for Rampart (ELU ${rampart?.measure.elu.toFixed(2) ?? '?'}).
The bare server reaches ${pct((bare?.measure.rps ?? 0) / 37_000)} of the DESIGN.md figure: ${input.options.client === 'worker' ? 'here the load generator runs in the same process, on its own thread, and needs most of a core itself, so server and client split the 2 cores' : 'here the load generator runs on the server\'s own event loop (BENCH_CLIENT=inline), so server and client share one thread'}${(bare?.measure.otherCpu ?? 0) > 0.3 ? ', and other processes took a share of them too' : ''}.

${logLine}${caution(rows.map((row) => row.measure))}`;
  },

  'tenant-read-pglite'(result) {
    const rows = httpRows(result);
    const owner = find(rows, 'db.owner');
    const rls = find(rows, 'withTenant');
    return `**DESIGN.md reference:** a PGlite read over HTTP ~2.2k req/s; the same read in an RLS transaction as
\`rampart_app\` ~1.3k req/s (ratio ~0.59).

**Interpretation.** The RLS read serves ${rps(rls)} req/s, ${fmtRatio(rls?.ratio)} the owner read (${rps(owner)} req/s),
against ~0.59 in DESIGN.md. \`withTenant\` runs four statements where the owner read runs one:
\`begin\`, one select of \`set_config\` calls (role \`rampart_app\` and the tenant scope), the select, then
\`commit\`. The embedded driver sends the first three in one call into PGlite and the commit in a
second (PGlite's own \`query()\` would make six calls per statement), and keeps the select prepared.
Each call is PGlite WASM work on the event-loop thread, and all requests queue for the one session
(the dialect's FIFO lock), so 20 concurrent clients become a queue: p50 is
${fmtMs(owner?.measure.p50 ?? 0)} ms and ${fmtMs(rls?.measure.p50 ?? 0)} ms. Server thread ELU ${owner?.measure.elu.toFixed(2) ?? '?'} and ${rls?.measure.elu.toFixed(2) ?? '?'} (${saturation(rls?.measure.elu)}).
What remains is the second call, the role switch and the RLS predicate. For the
same transaction on PGlite's API, without Kysely and without per-query options, compare "RLS read
tx, PGlite on the main thread" with "PK read, PGlite on the main thread" in the pglite-worker case.${caution(rows.map((row) => row.measure))}`;
  },

  'tenant-read-postgres'(result) {
    const rows = httpRows(result);
    const owner = find(rows, 'db.owner');
    const rls = find(rows, 'withTenant');
    const peer = find(rows, 'owner select by id, pool of 10');
    return `**DESIGN.md reference:** native PostgreSQL via \`pg\` ~3.6k queries/s sequential, ~8.6k/s with 8 in flight
(DESIGN.md has no HTTP figure for PostgreSQL).

**Interpretation.** The RLS read serves ${rps(rls)} req/s, ${fmtRatio(rls?.ratio)} the \`db.owner\` read (${rps(owner)} req/s).
That baseline is not quite like for like: \`openDatabase\` sizes the owner pool at a quarter of
\`poolSize\` (3 connections for the default 10) and the app pool at \`poolSize\` (10), so with 20
clients the owner read queues for 3 connections while the RLS read has 10. The reference row, an
owner-role pool of 10 built for the bench, serves ${rps(peer)} req/s (${fmtRatio(peer?.ratio)} the 3-connection owner pool${peer && peer.ratio !== undefined && peer.ratio < 1 ? ': more connections did not help here' : ''}); against it the RLS read runs at
${fmtRatio(ratioOf(rls, peer))}. What \`withTenant\` adds per request is 3 round trips (\`begin\`, \`set_config\`, \`commit\`; no
\`SET ROLE\`, the app pool logs in as \`rampart_app\`). Server thread ELU ${rls?.measure.elu.toFixed(2) ?? '?'} (${saturation(rls?.measure.elu)});
other CPU, i.e. PostgreSQL's backends plus anything else running, was ${fmtCpu(rls?.measure.otherCpu)} cores of the machine's 2.`;
  },

  'withtenant-overhead'(result, input) {
    const rows = microRows(result);
    const lines = ['PGlite', 'PostgreSQL'].flatMap((db) => {
      const owner = rows.find((row) => row.db === db && row.baseline);
      const rls = rows.find((row) => row.db === db && !row.baseline);
      if (!owner || !rls) return [];
      const extra = db === 'PGlite' ? 4 : 3;
      const added = rls.measure.usPerOp - owner.measure.usPerOp;
      return [
        `- ${db}: ${fmtInt(owner.measure.opsPerSec)} owner reads/s (${owner.measure.usPerOp.toFixed(0)} µs) vs ${fmtInt(rls.measure.opsPerSec)} withTenant reads/s (${rls.measure.usPerOp.toFixed(0)} µs), ratio ${fmtRatio(rls.ratio)}: withTenant adds ${added.toFixed(0)} µs per call, ${(added / extra).toFixed(0)} µs for each of its ${extra} extra statements.`,
      ];
    });
    const skipped = result.facts.skipped ? `\n\nPostgreSQL was not measured in this run: ${result.facts.skipped}.` : '';
    return `N = ${input.options.iterations} sequential awaited calls per variant after N/10 warm-up calls, through Kysely as the app does.

**DESIGN.md reference:** PGlite's own API ~6k simple queries/s sequential (its node-postgres adapter ~3x
slower); native PostgreSQL via \`pg\` ~3.6k/s sequential.

**Interpretation.**

${lines.join('\n')}

The cost of \`withTenant\` is its extra statements (begin, set role on PGlite, set_config, commit), each
a full trip through the driver: WASM time on the calling thread on PGlite, a loopback round trip to a
backend on PostgreSQL. Sequential, without HTTP, this is the floor of what one request pays.${skipped}${caution(rows.filter((row) => row.db === 'PGlite').map((row) => row.measure))}`;
  },

  'pglite-worker'(result) {
    const rows = httpRows(result);
    const pkMain = find(rows, 'PK read, PGlite on the main');
    const pkWorker = find(rows, 'PK read, PGlite in a worker');
    const rlsMain = find(rows, 'RLS read tx, PGlite on the main');
    const rlsStatement = find(rows, 'RLS read tx, worker, 1 message per statement');
    const rlsTx = find(rows, 'RLS read tx, worker, whole tx');
    const calibration = result.kind === 'http' ? (result.calibration ?? []) : [];
    const direct = calibration.find((row) => row.variant === 'PK query on the main thread');
    const dialect = calibration.find((row) => row.variant === 'PK query on the main thread, per-query parsers');
    const hop = calibration.find((row) => row.variant === 'PK query through the worker');
    const pk = pkWorker?.ratio ?? 0;
    const perStatement = rlsStatement?.ratio ?? 0;
    const wholeTx = rlsTx?.ratio ?? 0;
    // Rampart's hot path is a withTenant transaction per tenant request, so the transaction rows
    // decide; the PK row only says what single statements would gain.
    const verdict =
      perStatement >= 1.2
        ? `worth pursuing: even with one message per statement, which is what a drop-in Kysely driver does for \`withTenant\`, the worker wins (${fmtRatio(perStatement)}; single-statement reads ${fmtRatio(pk)}).`
        : wholeTx >= 1.2
          ? `not worth it as a drop-in driver: with one message per statement \`withTenant\` transactions run at ${fmtRatio(perStatement)}. Only shipping the transaction's statements together gains (${fmtRatio(wholeTx)}), and \`withTenant\`'s interactive transactions can only partly be batched (see below). Single-statement reads gain ${fmtRatio(pk)}.`
          : `not worth it for Rampart's request shape: every tenant request is a \`withTenant\` transaction, and there the worker loses with one message per statement (${fmtRatio(perStatement)}) and does no better than ${fmtRatio(wholeTx)} even with the whole transaction in one message; only single-statement reads gain (${fmtRatio(pk)}).`;
    return `A bench-only prototype (\`bench/pglite-worker.ts\`): a \`worker_threads\` Worker owns a PGlite instance and
answers \`{ sql, params }\` messages (and, as a variant, whole transactions); the main thread runs
Rampart's HTTP stack (\`buildServer\`, \`defineRoute\`). Both PGlite instances get the same schema: a
1000-row table with FORCE'd row-level security for a \`rampart_app\` role. The RLS variants run the
statements \`withTenant\` runs on the embedded database (begin, \`SET LOCAL ROLE\`, \`set_config\`, select,
commit), on both sides without Kysely.

**DESIGN.md reference:** "PGlite runs WASM on the calling thread, so SQL and HTTP share one core unless
PGlite lives in a worker thread."

**Interpretation.**

- PK read over HTTP: ${rps(pkWorker)} req/s through the worker vs ${rps(pkMain)} on the main thread, **${fmtRatio(pkWorker?.ratio)}**.
- RLS read transaction over HTTP: ${rps(rlsMain)} req/s on the main thread; through the worker ${rps(rlsStatement)} req/s with one
  message per statement (**${fmtRatio(rlsStatement?.ratio)}**) and ${rps(rlsTx)} req/s with the whole transaction in one message (**${fmtRatio(rlsTx?.ratio)}**).
- Sequential, no HTTP: ${fmtInt(direct?.measure.opsPerSec ?? 0)} PK queries/s on the main thread (${direct?.measure.usPerOp.toFixed(0) ?? '?'} µs), ${fmtInt(hop?.measure.opsPerSec ?? 0)}/s through
  the worker (${hop?.measure.usPerOp.toFixed(0) ?? '?'} µs): a message round trip adds ~${hop && direct ? (hop.measure.usPerOp - direct.measure.usPerOp).toFixed(0) : '?'} µs when nothing overlaps.
- Side finding: the same query with the options \`PGliteDialect\` passes on every call (\`{ rowMode: 'object',
  parsers }\`) runs at ${fmtRatio(dialect?.ratio)} (${dialect?.measure.usPerOp.toFixed(0) ?? '?'} µs). PGlite merges a per-query \`parsers\` map into its full
  parser table (\`{ ...parsers, ...options.parsers }\`) on every query; giving \`parsers\` once to
  \`PGlite.create\` would avoid it.

The worker can only win by overlapping HTTP work (main thread) with SQL work (worker thread); PGlite
still runs one statement at a time. The ELU column shows the split (main / worker). One message per
statement serialises the transaction's round trips while the session is held, so the worker sits
idle between statements; a whole transaction per message keeps it busy. On this 2-core machine the
load generator's thread takes a core too, so three busy threads share two cores: a machine with spare
cores (or a remote client) would likely favour the worker more than this run shows.

**Verdict (for the lead to decide):** on this run, moving the embedded database into a worker is ${verdict}

What it would take: \`withTenant\` runs caller code between its statements, so a whole transaction
cannot be shipped to the worker as such. A worker driver would have to batch what it can: the
preamble (\`begin\`, \`SET LOCAL ROLE\`, \`set_config\`) sent with the first statement, and \`commit\` as
a round trip of its own after the caller's code returns: one round trip per statement the caller
awaits plus the commit (two instead of five for the read above); a single-statement read outside a
transaction is one message, like the PK row above. Each message costs a structured clone of
parameters and rows and a thread wake-up (the sequential calibration shows its price when nothing
overlaps), and the worker must refuse statements from other requests while a transaction is open
(the bench's client does this with a lock).${caution([...rows.map((row) => row.measure), ...calibration.map((row) => row.measure)])}`;
  },
};
