/**
 * Shared pieces of the benchmark suite: options, load generation, fixtures' config, formatting.
 * Everything is bounded (fixed durations and counts) and stays on loopback.
 */
import type { AddressInfo } from 'node:net';
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
  const envPart = ['BENCH_DURATION', 'BENCH_N', 'BENCH_CLIENT']
    .filter((name) => env[name])
    .map((name) => `${name}=${env[name]} `)
    .join('');
  return {
    duration,
    warmup: Math.min(1, duration),
    iterations: Math.round(positive('BENCH_N', env.BENCH_N, 2000)),
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
export async function expectOk(url: string): Promise<unknown> {
  const response = await fetch(url);
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
};

type EluProbe = { start(): void; stop(): number };

export function eluProbe(read: (since?: EventLoopUtilization) => EventLoopUtilization): EluProbe {
  let since: EventLoopUtilization | undefined;
  return {
    start: () => void (since = read()),
    stop: () => read(since).utilization,
  };
}

const mainElu = eluProbe((since) => (since ? performance.eventLoopUtilization(since) : performance.eventLoopUtilization()));

export async function loadTest(url: string, options: BenchOptions, helper?: EluProbe): Promise<HttpMeasure> {
  await expectOk(url);
  const base = { url, connections: CONNECTIONS, pipelining: 1, ...(options.client === 'worker' ? { workers: 1 } : {}) };
  await autocannon({ ...base, duration: options.warmup });
  mainElu.start();
  helper?.start();
  const result: Result = await autocannon({ ...base, duration: options.duration });
  const elu = mainElu.stop();
  const helperElu = helper?.stop();
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    latencyAvg: result.latency.average,
    total: result.requests.total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    elu,
    ...(helperElu === undefined ? {} : { helperElu }),
  };
}

export type MicroMeasure = { opsPerSec: number; usPerOp: number; iterations: number };

/** `iterations` sequential awaited calls after a short warm-up. */
export async function micro(fn: () => Promise<unknown>, iterations: number): Promise<MicroMeasure> {
  const warmup = Math.max(50, Math.round(iterations / 10));
  for (let i = 0; i < warmup; i++) await fn();
  const started = performance.now();
  for (let i = 0; i < iterations; i++) await fn();
  const seconds = (performance.now() - started) / 1000;
  return { opsPerSec: iterations / seconds, usPerOp: (seconds * 1e6) / iterations, iterations };
}

// ---------------------------------------------------------------------------------------------
// Formatting

export const fmtInt = (value: number): string => Math.round(value).toLocaleString('en-US');
export const fmtMs = (value: number): string => (value >= 10 ? value.toFixed(0) : value.toFixed(value >= 1 ? 1 : 2));
export const fmtRatio = (value: number | undefined): string => (value === undefined ? '' : `${value.toFixed(2)}x`);
export const fmtElu = (measure: Pick<HttpMeasure, 'elu' | 'helperElu'>): string =>
  measure.helperElu === undefined ? measure.elu.toFixed(2) : `${measure.elu.toFixed(2)} / ${measure.helperElu.toFixed(2)}`;

/** A plain-text table for the console. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((row) => /^[\d.,x/ -]*$/.test(row[i] ?? '')));
  const line = (cells: string[]) => cells.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A GitHub-flavoured Markdown table. */
export function markdownTable(header: string[], rows: string[][]): string {
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((row) => /^[\d.,x/ -]*$/.test(row[i] ?? '')));
  return [
    `| ${header.join(' | ')} |`,
    `|${numeric.map((n) => (n ? '---:' : '---')).join('|')}|`,
    ...rows.map((row) => `| ${row.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`),
  ].join('\n');
}
