/**
 * `npm run bench`: runs each benchmark with its baseline in the same process, prints a table of
 * results and ratios, and updates docs/benchmarks.md.
 *
 *   BENCH_DURATION=5        seconds per measured HTTP run (default 5; plus 1 s of warm-up)
 *   BENCH_N=2000            sequential calls per micro-benchmark variant
 *   BENCH_ROUNDS=2          slices each measurement is cut into, run in turn across a baseline and
 *                           its subjects (A B A B), so background load hits all alike
 *   BENCH_CLIENT=worker     autocannon in its own worker thread (default) or `inline` on the server's loop
 *   BENCH_POSTGRES_URL=...  admin URL of the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres)
 *   npm run bench -- --only healthz,pglite-worker   (a name or a prefix: --only tenant-read)
 *
 * Servers listen on 127.0.0.1 with port 0; every run is bounded by BENCH_DURATION or BENCH_N.
 */
import { CASES, Context, type BenchCase, type CaseResult, type MicroRow } from './cases.js';
import { APPS_CASES } from './apps.js';
import { machine, writeDocs, type CaseOutcome } from './docs.js';
import { backgroundCpu, QUIET_CORES, settle, fmtCpu, fmtElu, fmtInt, fmtMs, fmtRatio, parseOptions, textTable } from './support.js';

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env);
  const selected = select([...CASES, ...APPS_CASES], options.only);
  const context = new Context(options);
  const startedAt = new Date();
  const info = machine();
  console.log(`Rampart benchmarks: ${selected.map((c) => c.name).join(', ')}`);
  console.log(`${info.summary}; ${options.duration} s per HTTP run after ${options.warmup} s warm-up, autocannon -c 20 (${options.client === 'worker' ? 'in a worker thread' : 'inline'}), N=${options.iterations}, ${options.rounds} interleaved round(s)`);
  const background = await waitForQuiet();
  console.log('');

  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error('\ninterrupted: closing fixtures (the PostgreSQL bench database is dropped) ...');
    void context.close().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const outcomes: CaseOutcome[] = [];
  let failed = false;
  try {
    for (const benchCase of selected) {
      console.log(`> ${benchCase.name}: ${benchCase.title}`);
      const started = performance.now();
      let result: CaseResult;
      try {
        result = await benchCase.run(context);
      } catch (error) {
        failed = true;
        console.error(`  FAILED: ${(error as Error).stack ?? String(error)}`);
        continue;
      }
      if (result.status === 'skipped') console.log(`  (skip) ${result.reason}`);
      console.log(`  (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
      outcomes.push({ benchCase, result });
    }
  } finally {
    await context.close();
  }

  printResults(outcomes);
  const finishedAt = new Date();
  const file = await writeDocs({ outcomes, options, startedAt, finishedAt, machine: info, background });
  console.log(`\nwrote ${file} (${((finishedAt.getTime() - startedAt.getTime()) / 1000).toFixed(0)} s in all)`);
  if (failed) process.exitCode = 1;
}

/** Other processes on the machine skew every number; wait a little for them (bounded), then say so. */
async function waitForQuiet(): Promise<number | undefined> {
  const limitMs = 10_000;
  let busy = await backgroundCpu();
  if (busy !== undefined && busy > QUIET_CORES) {
    console.log(`machine busy: other processes use ${busy.toFixed(2)} cores; waiting up to ${limitMs / 1000} s for them ...`);
    busy = await settle(limitMs);
  }
  console.log(
    busy === undefined || busy <= QUIET_CORES
      ? `background load before the run: ${fmtCpu(busy)} cores`
      : `WARNING: still ${busy.toFixed(2)} cores busy outside the bench: absolute numbers will be low and ratios noisy (see the "other CPU" column); each measurement waits briefly for a quieter moment`,
  );
  return busy;
}

function select(cases: BenchCase[], only: string[]): BenchCase[] {
  if (!only.length) return cases;
  const wanted = only.map((name) => name.toLowerCase());
  const unknown = wanted.filter((name) => !cases.some((c) => c.name.startsWith(name)));
  if (unknown.length) throw new Error(`unknown case(s) ${unknown.join(', ')}; cases: ${cases.map((c) => c.name).join(', ')}`);
  return cases.filter((c) => wanted.some((name) => c.name.startsWith(name)));
}

function printResults(outcomes: CaseOutcome[]): void {
  const http: string[][] = [];
  const micro: string[][] = [];
  const skipped: string[] = [];
  for (const { benchCase, result } of outcomes) {
    if (result.status === 'skipped') {
      http.push([benchCase.name, `skipped: ${result.reason}`, '', '', '', '', '', '']);
      continue;
    }
    if (result.kind === 'http') {
      for (const row of result.rows) {
        const problems = row.measure.errors + row.measure.non2xx;
        http.push([
          benchCase.name,
          row.variant,
          fmtInt(row.measure.rps),
          fmtMs(row.measure.p50),
          fmtMs(row.measure.p99),
          fmtElu(row.measure),
          fmtCpu(row.measure.otherCpu),
          row.baseline ? 'baseline' : fmtRatio(row.ratio),
          problems ? String(problems) : '0',
        ]);
      }
      for (const row of result.calibration ?? []) micro.push(microLine(benchCase.name, row));
    } else {
      for (const row of result.rows) micro.push(microLine(benchCase.name, row));
    }
  }
  if (http.length) {
    console.log('HTTP (autocannon -c 20; ratio = req/s against the baseline of the same group; ELU = event-loop utilisation, main / PGlite worker)');
    console.log('other CPU = cores busy outside the bench process during the run (PostgreSQL backends, other processes, steal)');
    console.log(textTable(['case', 'variant', 'req/s', 'p50 ms', 'p99 ms', 'ELU', 'other CPU', 'ratio', 'errors'], http));
  }
  if (micro.length) {
    console.log('\nSequential calls, no HTTP');
    console.log(textTable(['case', 'db', 'variant', 'ops/s', 'us/op', 'other CPU', 'ratio'], micro));
  }
  if (skipped.length) console.log(`\n${skipped.join('\n')}`);
}

const microLine = (name: string, row: MicroRow): string[] => [
  name,
  row.db,
  row.variant,
  fmtInt(row.measure.opsPerSec),
  row.measure.usPerOp.toFixed(0),
  fmtCpu(row.measure.otherCpu),
  row.baseline ? 'baseline' : fmtRatio(row.ratio),
];

await main().catch((error: Error) => {
  console.error(`bench: ${error.message}`);
  process.exitCode = 1;
});
// pg pools, PGlite and worker threads are closed above; do not hang on a stray handle.
setTimeout(() => process.exit(), 2_000).unref();
