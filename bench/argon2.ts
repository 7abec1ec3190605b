/**
 * argon2id cost per hash and per verification for three parameter sets, against a SHA-256 baseline
 * in the same run (issue 3, bench: "argon2id parameters and their cost per verification").
 *
 *   npx tsx bench/argon2.ts            (BENCH_ROUNDS=5 BENCH_N=8 to change the defaults)
 *
 * Each round measures every variant in turn (the order rotates, so drift in machine load spreads
 * over all of them); the figures are medians over rounds of the mean per call. "verifies/s, 4 at
 * once" runs four verifications concurrently on the libuv pool (UV_THREADPOOL_SIZE, default 4):
 * the ceiling of one node on this machine, bounded by its cores.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { DEFAULT_ARGON2_PARAMS, OWASP_MINIMUM_ARGON2_PARAMS, hashPassword, verifyPassword, type Argon2Params } from '../src/identity/credentials/index.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const N = Number(process.env.BENCH_N ?? 8);
const PASSWORD = 'violet kettle marathon 42';

type Variant = { name: string; detail: string; params: Argon2Params; stored?: string };

const variants: Variant[] = [
  { name: 'OWASP floor', detail: 'm=19 MiB, t=2, p=1', params: OWASP_MINIMUM_ARGON2_PARAMS },
  { name: 'Rampart default', detail: 'm=64 MiB, t=3, p=1 (chosen)', params: DEFAULT_ARGON2_PARAMS },
  { name: 'RFC 9106 2nd choice', detail: 'm=64 MiB, t=3, p=4', params: { memoryCost: 65_536, timeCost: 3, parallelism: 4 } },
];

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function meanMs(n: number, fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - start) / n;
}

function sha256Ms(): number {
  const n = 20_000;
  const start = performance.now();
  for (let i = 0; i < n; i++) createHash('sha256').update(PASSWORD).digest();
  return (performance.now() - start) / n;
}

function busyTicks(): number | undefined {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
    return fields.reduce((sum, value) => sum + value, 0) - (fields[3] ?? 0) - (fields[4] ?? 0);
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  for (const variant of variants) {
    variant.stored = await hashPassword(PASSWORD, variant.params);
    const check = await verifyPassword(variant.stored, PASSWORD, { current: variant.params });
    if (!check.ok) throw new Error(`${variant.name}: hash does not verify`);
  }
  sha256Ms(); // warm-up

  const samples = new Map(variants.map((v) => [v.name, { hash: [] as number[], verify: [] as number[], parallel: [] as number[] }]));
  const sha: number[] = [];
  const ticksBefore = busyTicks();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    sha.push(sha256Ms());
    for (let offset = 0; offset < variants.length; offset++) {
      const variant = variants[(round + offset) % variants.length]!;
      const s = samples.get(variant.name)!;
      s.hash.push(await meanMs(N, () => hashPassword(PASSWORD, variant.params)));
      s.verify.push(await meanMs(N, () => verifyPassword(variant.stored!, PASSWORD, { current: variant.params })));
      const t = performance.now();
      await Promise.all(Array.from({ length: 4 * N }, () => verifyPassword(variant.stored!, PASSWORD, { current: variant.params })));
      s.parallel.push((4 * N * 1000) / (performance.now() - t));
    }
  }
  const wall = (performance.now() - started) / 1000;
  const own = (process.cpuUsage(cpuBefore).user + process.cpuUsage(cpuBefore).system) / 1e6;
  const ticksAfter = busyTicks();
  const otherCores = ticksBefore === undefined || ticksAfter === undefined ? undefined : Math.max(0, ((ticksAfter - ticksBefore) / 100 - own) / wall);

  const shaMs = median(sha);
  const cpu = os.cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU';
  console.log(`Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npx tsx bench/argon2.ts\`: nproc ${os.cpus().length} (${cpu}), Node ${process.version}, @node-rs/argon2 2.2.1, ${ROUNDS} rounds x ${N} calls; cores busy outside the bench during the run: ${otherCores === undefined ? 'n/a' : otherCores.toFixed(2)}.\n`);
  console.log('| variant | parameters | ms/hash | ms/verify | verifies/s, 1 at a time | verifies/s, 4 at once | verify vs SHA-256 |');
  console.log('|---|---|---:|---:|---:|---:|---:|');
  console.log(`| SHA-256 (baseline) | one digest of the password, no salt, no stretching | ${(shaMs * 1000).toFixed(2)} µs | ${(shaMs * 1000).toFixed(2)} µs | ${Math.round(1000 / shaMs).toLocaleString('en-US')} | n/a | 1x |`);
  for (const variant of variants) {
    const s = samples.get(variant.name)!;
    const verifyMs = median(s.verify);
    console.log(
      `| ${variant.name} | ${variant.detail} | ${median(s.hash).toFixed(1)} | ${verifyMs.toFixed(1)} | ${Math.round(1000 / verifyMs)} | ${Math.round(median(s.parallel))} | ${Math.round(verifyMs / shaMs).toLocaleString('en-US')}x |`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
