/**
 * Shared pieces of the benchmark suite: options, load generation, fixtures' config, formatting.
 * Everything is bounded (fixed durations and counts) and stays on loopback.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import autocannon, { type Result } from 'autocannon';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type RampartConfig } from '../src/core/index.js';

export const HOST = '127.0.0.1';
export const CONNECTIONS = 20;

export type BenchOptions = {
  /** Seconds per measured HTTP run. */
  duration: number;
  /** Seconds of unrecorded load before each measured HTTP run. */
  warmup: number;
  /** Sequential calls per micro-benchmark variant. */
  iterations: number;
  /** Measured slices per target, run in turn across a group (A B A B ...). */
  rounds: number;
  /** `worker`: autocannon runs in its own worker thread (default); `inline`: on the server's event loop. */
  client: 'worker' | 'inline';
  only: string[];
  postgresAdminUrl: string;
  command: string;
};

const positive = (name: string, raw: string | undefined, fallback: number): number => {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
};

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const only: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--only') {
      const value = argv[++i];
      if (!value) throw new Error('--only needs a case name');
      only.push(...value.split(',').filter(Boolean));
    } else if (arg.startsWith('--only=')) {
      only.push(...arg.slice('--only='.length).split(',').filter(Boolean));
    } else {
      throw new Error(`unknown argument "${arg}" (usage: npm run bench [-- --only <name>[,<name>]])`);
    }
  }
  const duration = positive('BENCH_DURATION', env.BENCH_DURATION, 5);
  const client = env.BENCH_CLIENT ?? 'worker';
  if (client !== 'worker' && client !== 'inline') throw new Error(`BENCH_CLIENT must be worker or inline, got "${client}"`);
  const envPart = ['BENCH_DURATION', 'BENCH_N', 'BENCH_ROUNDS', 'BENCH_CLIENT']
    .filter((name) => env[name])
    .map((name) => `${name}=${env[name]} `)
    .join('');
  return {
    duration,
    warmup: Math.min(1, duration),
    iterations: Math.round(positive('BENCH_N', env.BENCH_N, 2000)),
    rounds: Math.round(positive('BENCH_ROUNDS', env.BENCH_ROUNDS, 2)),
    client,
    only,
    postgresAdminUrl: env.BENCH_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    command: `${envPart}npm run bench${only.length ? ` -- --only ${only.join(',')}` : ''}`,
  };
}

/** The config a bench server runs with: in-memory or the given database, silent, no jobs, no demo seed. */
export function benchConfig(databaseUrl: string): RampartConfig {
  return loadConfig({
    env: {},
    // No rampart.config.json is read from here.
    cwd: '/nonexistent-rampart-bench-dir',
    overrides: {
      env: 'test',
      database: { url: databaseUrl },
      http: { host: HOST, port: 0 },
      log: { level: 'silent' },
      jobs: { enabled: false },
      demo: { seed: false },
    },
  });
}

export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: HOST, port: 0 });
  const address = app.server.address() as AddressInfo;
  return `http://${HOST}:${address.port}`;
}

/** One request before the load: the route must answer 200, or the run would measure errors. */
export async function expectOk(url: string, headers?: Record<string, string>): Promise<unknown> {
  const response = await fetch(url, headers ? { headers } : {});
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}

export type HttpMeasure = {
  rps: number;
  p50: number;
  p99: number;
  latencyAvg: number;
  total: number;
  errors: number;
  non2xx: number;
  /** Event-loop utilisation of the main thread (HTTP server, and PGlite when it runs there). */
  elu: number;
  /** Event-loop utilisation of a helper thread (the PGlite worker), when there is one. */
  helperElu?: number;
  /** Cores busy outside this process during the run (other processes, PostgreSQL backends, steal); undefined off Linux. */
  otherCpu?: number;
};

export type EluProbe = { start(): void; stop(): number };

export function eluProbe(read: (since?: EventLoopUtilization) => EventLoopUtilization): EluProbe {
  let since: EventLoopUtilization | undefined;
  return {
    start: () => void (since = read()),
    stop: () => read(since).utilization,
  };
}

const mainElu = eluProbe((since) => (since ? performance.eventLoopUtilization(since) : performance.eventLoopUtilization()));

type ProcStat = { busy: number; total: number };

function readProcStat(): ProcStat | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    return { busy: user + nice + system + irq + softirq + steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
  } catch {
    return undefined;
  }
}

/** How many cores other processes keep busy, measured from /proc/stat minus this process's own CPU time. */
export function cpuProbe(): { stop(): number | undefined } {
  const stat = readProcStat();
  const own = process.cpuUsage();
  const wall = performance.now();
  return {
    stop() {
      const after = readProcStat();
      if (!stat || !after || after.total === stat.total) return undefined;
      const machineCores = ((after.busy - stat.busy) / (after.total - stat.total)) * availableParallelism();
      const used = process.cpuUsage(own);
      const ownCores = (used.user + used.system) / 1000 / (performance.now() - wall);
      return Math.max(0, machineCores - ownCores);
    },
  };
}

/** Samples the background load for `ms`: cores busy outside this process. */
export async function backgroundCpu(ms = 1000): Promise<number | undefined> {
  const probe = cpuProbe();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return probe.stop();
}

/** Other processes' CPU above this (in cores) counts as a busy machine. */
export const QUIET_CORES = 0.3;
let quietBudgetMs = 10_000;

/**
 * Before a measurement: if other processes keep the machine busy, wait for a quieter moment,
 * sampling every second, out of a budget of 10 s for the whole run. Returns the last sample.
 */
export async function settle(limitMs = quietBudgetMs): Promise<number | undefined> {
  let busy = await backgroundCpu(500);
  const started = performance.now();
  const limit = Math.min(limitMs, quietBudgetMs);
  while (busy !== undefined && busy > QUIET_CORES && performance.now() - started < limit) busy = await backgroundCpu(1000);
  quietBudgetMs = Math.max(0, quietBudgetMs - (performance.now() - started));
  return busy;
}

/** `headers` go with every request (e.g. a session cookie for an authenticated route). */
export type Target = { url: string; headers?: Record<string, string>; helper?: EluProbe };

type Slice = { requests: number; seconds: number; p50: number; p99: number; latencyAvg: number; errors: number; non2xx: number; elu: number; helperElu?: number; otherCpu?: number };

async function slice(target: Target, options: BenchOptions, seconds: number): Promise<Slice> {
  const run = autocannon({ url: target.url, ...(target.headers ? { headers: target.headers } : {}), connections: CONNECTIONS, pipelining: 1, duration: seconds, ...(options.client === 'worker' ? { workers: 1 } : {}) });
  mainElu.start();
  target.helper?.start();
  const cpu = cpuProbe();
  const result: Result = await run;
  const otherCpu = cpu.stop();
  const elu = mainElu.stop();
  const helperElu = target.helper?.stop();
  return {
    requests: result.requests.total,
    seconds: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    latencyAvg: result.latency.average,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    elu,
    ...(helperElu === undefined ? {} : { helperElu }),
    ...(otherCpu === undefined ? {} : { otherCpu }),
  };
}

/**
 * Load-tests a group of targets (a baseline and its subjects) with autocannon -c 20. After a
 * warm-up of each, the measured time is cut into `rounds` slices run in turn (A B A B ...), so a
 * change in background load during the group hits every target alike. req/s is completed requests
 * over measured seconds; with more than one round, p50/p99 are the request-weighted means of the
 * slices' percentiles and ELU/other CPU the time-weighted means.
 */
export async function loadTestGroup(targets: Target[], options: BenchOptions): Promise<HttpMeasure[]> {
  for (const target of targets) await expectOk(target.url, target.headers);
  await settle();
  for (const target of targets) await autocannon({ url: target.url, ...(target.headers ? { headers: target.headers } : {}), connections: CONNECTIONS, duration: options.warmup, ...(options.client === 'worker' ? { workers: 1 } : {}) });
  const slices: Slice[][] = targets.map(() => []);
  const seconds = options.duration / options.rounds;
  for (let round = 0; round < options.rounds; round++) {
    for (const [index, target] of targets.entries()) slices[index]!.push(await slice(target, options, seconds));
  }
  return slices.map(aggregate);
}

function aggregate(slices: Slice[]): HttpMeasure {
  const sum = (pick: (slice: Slice) => number) => slices.reduce((total, slice) => total + pick(slice), 0);
  const requests = sum((s) => s.requests);
  const seconds = sum((s) => s.seconds);
  const byRequests = (pick: (slice: Slice) => number) => (requests ? sum((s) => pick(s) * s.requests) / requests : 0);
  const byTime = (pick: (slice: Slice) => number | undefined) => (slices.every((s) => pick(s) !== undefined) ? sum((s) => pick(s)! * s.seconds) / seconds : undefined);
  const helperElu = byTime((s) => s.helperElu);
  const otherCpu = byTime((s) => s.otherCpu);
  return {
    rps: requests / seconds,
    p50: byRequests((s) => s.p50),
    p99: byRequests((s) => s.p99),
    latencyAvg: byRequests((s) => s.latencyAvg),
    total: requests,
    errors: sum((s) => s.errors),
    non2xx: sum((s) => s.non2xx),
    elu: byTime((s) => s.elu)!,
    ...(helperElu === undefined ? {} : { helperElu }),
    ...(otherCpu === undefined ? {} : { otherCpu }),
  };
}

export type MicroMeasure = { opsPerSec: number; usPerOp: number; iterations: number; otherCpu?: number };

/**
 * `iterations` sequential awaited calls of each function, after a warm-up of a tenth of that, cut
 * into `rounds` slices run in turn (A B A B ...) like the HTTP groups.
 */
export async function microGroup(fns: Array<() => Promise<unknown>>, iterations: number, rounds: number): Promise<MicroMeasure[]> {
  const warmup = Math.max(50, Math.round(iterations / 10));
  await settle();
  for (const fn of fns) for (let i = 0; i < warmup; i++) await fn();
  const spent = fns.map(() => ({ ms: 0, calls: 0, otherCpuMs: 0, otherKnown: true }));
  for (let round = 0; round < rounds; round++) {
    const calls = Math.round(((round + 1) * iterations) / rounds) - Math.round((round * iterations) / rounds);
    for (const [index, fn] of fns.entries()) {
      const cpu = cpuProbe();
      const started = performance.now();
      for (let i = 0; i < calls; i++) await fn();
      const ms = performance.now() - started;
      const other = cpu.stop();
      const total = spent[index]!;
      total.ms += ms;
      total.calls += calls;
      if (other === undefined) total.otherKnown = false;
      else total.otherCpuMs += other * ms;
    }
  }
  return spent.map(({ ms, calls, otherCpuMs, otherKnown }) => ({
    opsPerSec: calls / (ms / 1000),
    usPerOp: (ms * 1000) / calls,
    iterations: calls,
    ...(otherKnown ? { otherCpu: otherCpuMs / ms } : {}),
  }));
}

// ---------------------------------------------------------------------------------------------
// Formatting

export const fmtInt = (value: number): string => Math.round(value).toLocaleString('en-US');
/** Latency in ms; autocannon's histogram has 1 ms resolution, so 0 means under 1 ms. */
export const fmtMs = (value: number): string => (value === 0 ? '<1' : value >= 10 ? value.toFixed(0) : value.toFixed(1));
export const fmtRatio = (value: number | undefined): string => (value === undefined ? '' : `${value.toFixed(2)}x`);
export const fmtElu = (measure: Pick<HttpMeasure, 'elu' | 'helperElu'>): string =>
  measure.helperElu === undefined ? measure.elu.toFixed(2) : `${measure.elu.toFixed(2)} / ${measure.helperElu.toFixed(2)}`;

export const fmtCpu = (cores: number | undefined): string => (cores === undefined ? '' : cores.toFixed(2));

/** A plain-text table for the console. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((row) => /^[\d.,x/ <-]*$/.test(row[i] ?? '')));
  const line = (cells: string[]) => cells.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A GitHub-flavoured Markdown table. */
export function markdownTable(header: string[], rows: string[][]): string {
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((row) => /^[\d.,x/ <-]*$/.test(row[i] ?? '')));
  return [
    `| ${header.join(' | ')} |`,
    `|${numeric.map((n) => (n ? '---:' : '---')).join('|')}|`,
    ...rows.map((row) => `| ${row.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`),
  ].join('\n');
}
