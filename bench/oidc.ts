/**
 * OIDC provider and throttle costs (issue 3, bench): token endpoint and JWKS throughput against
 * `/healthz` on the same server in the same run, and the throttle's added latency per sign-in
 * attempt against the password verification it guards.
 *
 *   npx tsx bench/oidc.ts                (BENCH_SECONDS=5 BENCH_CONCURRENCY=8 to change defaults)
 *
 * Embedded database (PGlite in memory), one process, loopback HTTP. The token endpoint is driven by
 * refresh-token grants: each of C concurrent clients follows its own rotation chain (a refresh
 * token is single use, so a client can never have two in flight). Baseline and subjects alternate
 * in slices (A B C A B C) so background load hits all alike.
 */
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { createRampart } from '../src/app.js';
import { loadConfig } from '../src/core/index.js';
import { withTenant } from '../src/db/index.js';
import { createClient, createInvitation, createThrottle, DEFAULT_ARGON2_PARAMS, hashPassword, totpCodeAt, totpStep, verifyPassword } from '../src/identity/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const SLICES = 3;
const PASSWORD = 'violet-harbour-lantern-88';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** Runs `worker(i)` in C loops for `ms`; returns completed calls. */
async function drive(ms: number, worker: (i: number) => Promise<void>): Promise<number> {
  let done = 0;
  const until = performance.now() + ms;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, i) => {
      while (performance.now() < until) {
        await worker(i);
        done++;
      }
    }),
  );
  return done;
}

async function main() {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const config = loadConfig({ env: {}, cwd: '/nonexistent', overrides: { env: 'test', database: { url: 'memory://' }, log: { level: 'silent' }, jobs: { enabled: false }, demo: { seed: false }, http: { host: '127.0.0.1', port, publicUrl: issuer } } });
  const rampart = await createRampart({ config, env: {} });
  await rampart.server.app.listen({ port, host: '127.0.0.1' });
  try {
    const tenant = await rampart.createTenant({ slug: 'bench', name: 'Bench' });
    const { token } = await createInvitation(rampart.identity.accounts, { tenantId: tenant.id, actor: { type: 'system', id: 'bench' }, email: 'b@bench.test', role: 'member', justification: 'benchmark account' });
    const post = (path: string, body: unknown, cookie = '') => fetch(`${issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) }, body: JSON.stringify(body) });
    const cookieOf = (r: Response) => r.headers.getSetCookie()[0]!.split(';')[0]!;
    await post('/api/v1/identity/bench/invitations/accept', { token, password: PASSWORD, displayName: 'Bench' });
    const pending = cookieOf(await post('/api/v1/identity/bench/sign-in', { email: 'b@bench.test', password: PASSWORD }));
    const { secret } = (await (await post('/api/v1/identity/totp/enroll', {}, pending)).json()) as { secret: string };
    const session = cookieOf(await post('/api/v1/identity/totp/confirm', { code: totpCodeAt({ secret, step: totpStep(new Date()) }) }, pending));
    let clientId = '';
    await withTenant(rampart.db, { tenantId: tenant.id, actor: { type: 'system', id: 'bench' } }, async (trx) => {
      clientId = (await createClient({ trx, tenantId: tenant.id, ring: rampart.keys.ring, audit: rampart.audit, actor: { type: 'system', id: 'bench' }, justification: 'benchmark client', context: {} }, { name: 'Bench', type: 'public', redirectUris: [`${issuer}/cb`], scopes: ['openid', 'offline_access', 'rampart:tenant:read'] })).client.clientId;
    });

    // One refresh chain per concurrent client, each from a real code + PKCE flow.
    const { createHash, randomBytes } = await import('node:crypto');
    const chains: string[] = [];
    for (let i = 0; i < CONCURRENCY; i++) {
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      let next = `${issuer}/oidc/auth?${new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: `${issuer}/cb`, scope: 'openid offline_access rampart:tenant:read', prompt: 'consent', code_challenge: challenge, code_challenge_method: 'S256' })}`;
      const jar = new Map<string, string>();
      let code = '';
      for (let hop = 0; hop < 12 && !code; hop++) {
        const r = await fetch(next, { redirect: 'manual', headers: { cookie: [...[...jar].map(([k, v]) => `${k}=${v}`), session].join('; ') } });
        for (const line of r.headers.getSetCookie()) {
          const [n, ...v] = line.split(';')[0]!.split('=');
          jar.set(n!, v.join('='));
        }
        const target = new URL(r.headers.get('location')!, next);
        if (target.pathname === '/cb') code = target.searchParams.get('code')!;
        next = target.toString();
      }
      const tokens = (await (await fetch(`${issuer}/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: `${issuer}/cb`, client_id: clientId, code_verifier: verifier }) })).json()) as { refresh_token: string };
      chains.push(tokens.refresh_token);
    }

    const subjects: Record<string, (i: number) => Promise<void>> = {
      'GET /healthz (baseline)': async () => void (await (await fetch(`${issuer}/healthz`)).arrayBuffer()),
      'GET /oidc/jwks': async () => void (await (await fetch(`${issuer}/oidc/jwks`)).arrayBuffer()),
      'POST /oidc/token (refresh grant, rotation)': async (i) => {
        const r = await fetch(`${issuer}/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: chains[i]!, client_id: clientId }) });
        const body = (await r.json()) as { refresh_token?: string; error?: string };
        if (!body.refresh_token) throw new Error(`refresh failed: ${body.error}`);
        chains[i] = body.refresh_token;
      },
    };
    const totals = Object.fromEntries(Object.keys(subjects).map((k) => [k, 0]));
    for (let slice = 0; slice < SLICES; slice++) for (const [name, fn] of Object.entries(subjects)) totals[name]! += await drive((SECONDS * 1000) / SLICES, fn);
    const rate = (name: string) => totals[name]! / SECONDS;
    const base = rate('GET /healthz (baseline)');
    console.log(`\nHTTP throughput, ${CONCURRENCY} concurrent fetch clients, ${SECONDS} s each in ${SLICES} interleaved slices`);
    for (const name of Object.keys(subjects)) console.log(`  ${name.padEnd(46)} ${rate(name).toFixed(0).padStart(7)} req/s   ${(rate(name) / base).toFixed(2)}x baseline`);
  } finally {
    await rampart.close();
  }

  // Throttle: the store round trips one sign-in attempt makes, against the argon2id verification.
  const stored = await hashPassword(PASSWORD, DEFAULT_ARGON2_PARAMS);
  const memory = createThrottle({ store: { kind: 'memory' }, keySecret: Buffer.alloc(32, 7) });
  let redis: Redis | undefined;
  try {
    redis = new Redis(process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  } catch {
    redis = undefined;
  }
  const variants: Array<[string, ReturnType<typeof createThrottle> | undefined]> = [['memory store', memory], ...(redis ? ([['Redis store', createThrottle({ store: { kind: 'redis', client: redis }, keySecret: Buffer.alloc(32, 7) })]] as Array<[string, ReturnType<typeof createThrottle>]>) : [])];
  const attempt = async (throttle: ReturnType<typeof createThrottle>, n: number) => {
    const subject = { ip: `10.0.${n % 250}.${(n >> 8) % 250}`, account: `user${n}@bench.test` };
    await throttle.needsChallenge(subject);
    await throttle.beforeAttempt(subject);
    await throttle.recordSuccess(subject);
  };
  const N = 2000;
  const verifyRuns = 8;
  let start = performance.now();
  for (let i = 0; i < verifyRuns; i++) await verifyPassword(stored, PASSWORD);
  const verifyMs = (performance.now() - start) / verifyRuns;
  console.log(`\nThrottle per sign-in attempt (needsChallenge + beforeAttempt + recordSuccess), N=${N}, against argon2id verify (${verifyMs.toFixed(1)} ms)`);
  for (const [name, throttle] of variants) {
    start = performance.now();
    for (let i = 0; i < N; i++) await attempt(throttle!, i);
    const perAttemptMs = (performance.now() - start) / N;
    console.log(`  ${name.padEnd(14)} ${(perAttemptMs * 1000).toFixed(0).padStart(6)} µs per attempt   sign-in with/without throttle: ${((verifyMs + perAttemptMs) / verifyMs).toFixed(3)}x`);
  }
  if (redis) {
    await redis.flushdb().catch(() => undefined);
    redis.disconnect();
  }
}

void main().catch((error) => {
  console.error(error);
  process.exit(1);
});
