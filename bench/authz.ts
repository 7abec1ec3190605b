/**
 * Authorization decision latency, per request as the engine is used on the hot path (control AZ-2;
 * issue 4: "no slower than Casbin on the same RBAC matrix, in the same run").
 *
 *   npx tsx bench/authz.ts            (BENCH_ROUNDS=7 BENCH_REQUESTS=400 to change the defaults)
 *
 * Every variant decides the same list of requests, in the same process, in interleaved rounds
 * (the order rotates each round, so drift in machine load spreads over all variants); the figure is
 * the median over rounds of µs per decision. Cedar variants include building the entity JSON, as
 * `decide` does per request. Ratios are against Casbin's enforceSync on the same matrix.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { newEnforcer, newModelFromString, StringAdapter } from 'casbin';
import { compilePolicySet, decide, decideWithCedar, type AuthzRequest } from '../src/authz/index.js';
import { sampleMatrix, samplePolicySet } from '../src/authz/sample.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 400);

/** A deterministic request mix over the sample catalog: 1-2 roles, attributes drawn from small sets. */
function requests(count: number): AuthzRequest[] {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const pick = <T>(list: readonly T[]): T => list[next() % list.length] as T;
  const roles = ['admin', 'finance', 'member', 'viewer', 'dpo'];
  const resources = samplePolicySet.resources;
  return Array.from({ length: count }, (_, index) => {
    const resource = pick(resources);
    const userRoles = [...new Set([pick(roles), ...(next() % 3 === 0 ? [pick(roles)] : [])])];
    return {
      principal: { id: `u${index}`, tenantId: 't1', roles: userRoles, department: pick(['sales', 'ops', undefined]), region: pick(['eu', 'us', undefined]) },
      action: pick(resource.actions),
      resource: { type: resource.name, id: `r${index}`, attributes: { owner: pick([`u${index}`, 'u-other', undefined]), region: pick(['eu', 'us', undefined]), sensitivity: pick(['public', 'pii', undefined]) } },
    };
  });
}

async function casbinEnforcer(list: AuthzRequest[]) {
  const model = newModelFromString(`
[request_definition]
r = sub, obj, act
[policy_definition]
p = sub, obj, act
[role_definition]
g = _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act`);
  const lines: string[] = [];
  for (const [role, grants] of Object.entries(sampleMatrix)) {
    for (const [resource, actions] of Object.entries(grants)) for (const action of actions) lines.push(`p, ${role}, ${resource}, ${action}`);
  }
  // One user per request (ids are unique), holding that request's roles.
  for (const request of list) for (const role of request.principal.roles) lines.push(`g, ${request.principal.id}, ${role}`);
  return newEnforcer(model, new StringAdapter(lines.join('\n')));
}

type Variant = { name: string; detail: string; run: (request: AuthzRequest) => boolean; repeat: number };

function measure(variant: Variant, list: AuthzRequest[]): number {
  const start = process.hrtime.bigint();
  let allowed = 0;
  for (let repeat = 0; repeat < variant.repeat; repeat += 1) for (const request of list) if (variant.run(request)) allowed += 1;
  const elapsed = Number(process.hrtime.bigint() - start) / 1e3;
  if (allowed < 0) throw new Error('unreachable');
  return elapsed / (variant.repeat * list.length);
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

/** Cores busy outside this process during `fn` (from /proc/stat), to flag a shared machine. */
function busyElsewhere<T>(fn: () => T): { result: T; otherCores?: number } {
  const read = () => {
    try {
      const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
      const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
      return { busy: fields.reduce((sum, value) => sum + value, 0) - idle };
    } catch {
      return undefined;
    }
  };
  const before = read();
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const result = fn();
  const after = read();
  const ownSeconds = (process.cpuUsage(cpu).user + process.cpuUsage(cpu).system) / 1e6;
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  if (!before || !after) return { result };
  const ticks = 100; // USER_HZ
  return { result, otherCores: Math.max(0, ((after.busy - before.busy) / ticks - ownSeconds) / wall) };
}

async function main(): Promise<void> {
  const list = requests(REQUESTS);
  const full = compilePolicySet(samplePolicySet);
  const matrixOnly = compilePolicySet({ ...samplePolicySet, rules: [] });
  const casbin = await casbinEnforcer(list);

  // Same matrix, same answers: the comparison is only fair if the engines agree.
  const disagreements = list.filter((request) => decide(matrixOnly, request).allowed !== casbin.enforceSync(request.principal.id, request.resource.type, request.action));
  if (disagreements.length) throw new Error(`compiled matrix and Casbin disagree on ${disagreements.length} requests`);
  const cedarDisagreements = list.filter((request) => decide(full, request).allowed !== decideWithCedar(full, request).allowed);
  if (cedarDisagreements.length) throw new Error(`compiled path and Cedar disagree on ${cedarDisagreements.length} requests`);

  const variants: Variant[] = [
    { name: 'Casbin enforceSync', detail: 'casbin 5.51.1, RBAC model, same matrix (baseline)', run: (r) => casbin.enforceSync(r.principal.id, r.resource.type, r.action), repeat: 20 },
    { name: 'compiled, matrix only', detail: 'decide(), same matrix, no attribute rules', run: (r) => decide(matrixOnly, r).allowed, repeat: 50 },
    { name: 'compiled, matrix + rules', detail: 'decide(), sample matrix + 3 ABAC rules', run: (r) => decide(full, r).allowed, repeat: 50 },
    { name: 'Cedar pre-parsed', detail: 'statefulIsAuthorized, schema-validated request', run: (r) => decideWithCedar(full, r).allowed, repeat: 1 },
    { name: 'Cedar pre-parsed, no request validation', detail: 'statefulIsAuthorized (what decide() uses for custom policies)', run: (r) => decideWithCedar(full, r, { validateRequest: false }).allowed, repeat: 1 },
    { name: 'Cedar stateless', detail: 'isAuthorized, policies sent per call, no schema', run: (r) => decideWithCedar(full, r, { api: 'stateless', validateRequest: false }).allowed, repeat: 1 },
    { name: 'Cedar stateless + schema', detail: 'isAuthorized, policies and schema sent per call', run: (r) => decideWithCedar(full, r, { api: 'stateless' }).allowed, repeat: 1 },
  ];
  const slowList = list.slice(0, Math.max(20, Math.floor(list.length / 10)));
  const listFor = (variant: Variant) => (variant.name === 'Cedar stateless + schema' ? slowList : list);

  for (const variant of variants) measure(variant, listFor(variant)); // warm-up (JIT, wasm tier-up)
  const samples = new Map<string, number[]>(variants.map((variant) => [variant.name, []]));
  const { otherCores } = busyElsewhere(() => {
    for (let round = 0; round < ROUNDS; round += 1) {
      for (let offset = 0; offset < variants.length; offset += 1) {
        const variant = variants[(round + offset) % variants.length]!;
        samples.get(variant.name)!.push(measure(variant, listFor(variant)));
      }
    }
  });

  const baseline = median(samples.get('Casbin enforceSync')!);
  const cpu = os.cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU';
  console.log(`Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npx tsx bench/authz.ts\`: nproc ${os.cpus().length} (${cpu}), Node ${process.version}, ${ROUNDS} rounds x ${list.length} requests; cores busy outside the bench during the run: ${otherCores === undefined ? 'n/a' : otherCores.toFixed(2)}.\n`);
  console.log('| variant | detail | µs/decision | decisions/s | vs Casbin |');
  console.log('|---|---|---:|---:|---:|');
  for (const variant of variants) {
    const us = median(samples.get(variant.name)!);
    const ratio = variant.name === 'Casbin enforceSync' ? 'baseline' : us <= baseline ? `${(baseline / us).toFixed(1)}x faster` : `${(us / baseline).toFixed(1)}x slower`;
    console.log(`| ${variant.name} | ${variant.detail} | ${us >= 10 ? us.toFixed(0) : us.toFixed(2)} | ${Math.round(1e6 / us).toLocaleString('en-US')} | ${ratio} |`);
  }
}

await main();
