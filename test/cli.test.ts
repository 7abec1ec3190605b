import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/index.js';
import { createLauncher, describeOutput, describeResult, freePort, httpGet, logMessages, probeTcp, STARTUP_TIMEOUT_MS, tlsHandshake, type RampartProcess } from './support/process.js';

/**
 * The real `rampart` executable, as an operator (or `npm start`) runs it: a child process in an
 * empty directory with a bare environment. Slow by nature (each run starts tsx; a first start runs
 * PGlite's initdb), so this file checks what only the process boundary shows: exit codes, what is
 * printed where, files on disk, signals, the real listener.
 */

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const LISTENING = /^Rampart (\S+) \((\w+)\) listening on (\S+)$/m;
const SLOW = { timeout: 180_000 };

const launcher = createLauncher();
afterEach(() => launcher.cleanup());

// A migrated `.rampart/` made once by `rampart migrate`, copied into the tests that need a working
// server but are not about first start, so each of them skips initdb.
const templates = createLauncher();
let migratedTemplate: Promise<string> | undefined;
afterAll(() => templates.cleanup());

function migratedTemplateDir(): Promise<string> {
  migratedTemplate ??= (async () => {
    const cwd = templates.tempDir('rampart-cli-template-');
    const result = await templates.run({ args: ['migrate'], cwd, timeoutMs: 3 * STARTUP_TIMEOUT_MS }); // initdb and every migration on a shared, loaded machine
    if (result.code !== 0) throw new Error(`building the migrated template failed\n${result.stdout}\n${result.stderr}`);
    return join(cwd, '.rampart');
  })();
  return migratedTemplate;
}

/** A fresh temp dir whose `.rampart/` is a copy of the migrated template. */
async function migratedDir(): Promise<string> {
  const source = await migratedTemplateDir();
  const cwd = launcher.tempDir();
  cpSync(source, join(cwd, '.rampart'), { recursive: true });
  return cwd;
}

async function startServer(cwd: string, args: string[] = [], env: Record<string, string> = {}): Promise<{ server: RampartProcess; url: URL }> {
  const server = launcher.start({ args: ['serve', '--host', '127.0.0.1', '--port', '0', ...args], cwd, env });
  const match = await server.waitForStdout(LISTENING);
  const url = new URL(match[3]!);
  // The listening line is printed before serve() installs its SIGTERM handler (see the `.fails` test
  // below); one answered request proves the synchronous code after the line, handlers included, has run.
  const health = await httpGet(new URL('/healthz', url).href);
  if (health.status !== 200) throw new Error(`GET /healthz answered ${health.status}\n${describeOutput(server)}`);
  return { server, url };
}

/** Every secret production refuses to start without, as files the way an orchestrator mounts them. */
function mountProductionSecrets(dir: string): string {
  mkdirSync(dir, { mode: 0o700 });
  const files = {
    master_key: `${randomBytes(32).toString('base64')}\n`,
    audit_signing_key: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    identity_pepper: `${randomBytes(32).toString('base64')}\n`,
  };
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content, { mode: 0o600 });
  return dir;
}

async function stop(server: RampartProcess) {
  server.child.kill('SIGTERM');
  return server.exited;
}

describe('rampart: usage', () => {
  it('--version prints the package.json version and exits 0', async () => {
    const result = await launcher.run({ args: ['--version'], cwd: launcher.tempDir() });
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(VERSION);
  });

  it('--help lists serve, migrate, config and jobs and exits 0', async () => {
    const result = await launcher.run({ args: ['--help'], cwd: launcher.tempDir() });
    expect(result.code).toBe(0);
    for (const command of ['serve', 'migrate', 'config', 'jobs']) expect(result.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
  });

  it('with no arguments prints the help on stderr and exits 2', async () => {
    const result = await launcher.run({ args: [], cwd: launcher.tempDir() });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^Usage: rampart/m);
    expect(result.stderr).toMatch(/^\s+serve\b/m);
  });

  it('an unknown command exits 2, names it and points to --help', async () => {
    const result = await launcher.run({ args: ['frobnicate'], cwd: launcher.tempDir() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
    expect(result.stderr).toContain('rampart --help');
    expect(result.stderr).not.toMatch(/^\s+at /m); // one readable line, no stack
  });
});

describe('rampart config check', () => {
  const check = (env: Record<string, string> = {}, args: string[] = [], cwd = launcher.tempDir()) => launcher.run({ args: ['config', 'check', ...args], cwd, env });

  it('prints the effective configuration as key = value lines and exits 0 when valid', async () => {
    const result = await check();
    expect(result.code).toBe(0);
    const lines = result.stdout.replace(/\n$/, '').split('\n');
    for (const line of lines) expect(line).toMatch(/^[\w.]+ = .*$/);
    expect(result.stdout).not.toContain('[object Object]');
    expect(lines).toContain('env = development');
    expect(lines).toContain('http.port = 3000');
    expect(lines).toContain('log.level = warn'); // RAMPART_LOG_LEVEL from the env reached the config
    expect(result.stderr).toContain('configuration is valid');
  });

  it('DE-1 masks the password of DATABASE_URL and never prints it', async () => {
    const result = await check({ DATABASE_URL: 'postgres://u:hunter2@127.0.0.1/db' });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('database.url = postgres://u:[redacted]@127.0.0.1/db');
    expect(result.stdout + result.stderr).not.toContain('hunter2');
  });

  // node-postgres also takes the password from a `?password=` query parameter.
  it('DE-1 masks a password given as ?password= in DATABASE_URL', async () => {
    const result = await check({ DATABASE_URL: 'postgres://u@127.0.0.1/db?password=hunter2' });
    expect(result.code).toBe(0);
    expect(result.stdout + result.stderr).not.toContain('hunter2');
  });

  it('DE-1 production refuses a DATABASE_URL with ?password=', async () => {
    const cwd = launcher.tempDir();
    mkdirSync(join(cwd, 'secrets'));
    const result = await check({ RAMPART_ENV: 'production', RAMPART_SECRETS_DIR: join(cwd, 'secrets'), DATABASE_URL: 'postgres://u@127.0.0.1/db?password=hunter2' }, [], cwd);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/DATABASE_URL \(env\): contains a password/);
  });

  // node-postgres accepts a raw '@' in the password (the last '@' ends the userinfo); none of it may show.
  it("DE-1 masks all of a password that contains '@'", async () => {
    const result = await check({ DATABASE_URL: 'postgres://u:hun@ter2@127.0.0.1/db' });
    expect(result.code).toBe(0);
    expect(result.stdout + result.stderr).not.toContain('ter2');
  });

  // Regression: sink URLs were once printed as given, credentials included.
  it('DE-1 masks credentials in an audit sink URL', async () => {
    const cwd = launcher.tempDir();
    writeFileSync(join(cwd, 'rampart.config.json'), JSON.stringify({ audit: { sinks: [{ type: 'http', name: 'siem', url: 'https://ingest:tok3n@siem.example/hec' }] } }));
    const result = await check({}, ['--json'], cwd);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('siem.example');
    expect(result.stdout + result.stderr).not.toContain('tok3n');
  });

  // Regression: lists once printed as `audit.sinks = [object Object]`.
  it('prints the settings of a configured audit sink, not [object Object]', async () => {
    const cwd = launcher.tempDir();
    writeFileSync(join(cwd, 'rampart.config.json'), JSON.stringify({ audit: { sinks: [{ type: 'file', name: 'archive', path: '/var/log/rampart-audit.ndjson' }] } }));
    const result = await check({}, [], cwd);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('[object Object]');
    expect(result.stdout).toContain('/var/log/rampart-audit.ndjson');
  });

  it('--json prints parseable JSON, password masked', async () => {
    const result = await check({ DATABASE_URL: 'postgres://u:hunter2@127.0.0.1/db' }, ['--json']);
    expect(result.code).toBe(0);
    const config = JSON.parse(result.stdout) as { env: string; http: { port: number }; database: { url: string } };
    expect(config.env).toBe('development');
    expect(config.http.port).toBe(3000);
    expect(config.database.url).toBe('postgres://u:[redacted]@127.0.0.1/db');
    expect(result.stdout + result.stderr).not.toContain('hunter2');
  });

  it('PORT=abc exits 2 and names PORT', async () => {
    const result = await check({ PORT: 'abc' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^\s+PORT \(env\): /m);
  });

  it('an unknown RAMPART_ variable (a typo) exits 2 and names it', async () => {
    const result = await check({ RAMPART_TYPO: '1' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^\s+RAMPART_TYPO \(env\): unknown setting/m);
  });

  it('an unknown key in rampart.config.json exits 2 and names the key', async () => {
    const cwd = launcher.tempDir();
    writeFileSync(join(cwd, 'rampart.config.json'), JSON.stringify({ http: { prot: 8080 } }));
    const result = await check({}, [], cwd);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^\s+http\.prot \(.*rampart\.config\.json\): /m);
  });

  it('DE-1 production refuses a plaintext secret in the environment, naming the variable and not printing the value', async () => {
    const cwd = launcher.tempDir();
    const secretsDir = join(cwd, 'secrets');
    mkdirSync(secretsDir);
    const secretValue = 'bm90LWEtcmVhbC1rZXktYnV0LW5ldmVyLXByaW50ZWQ=';
    const result = await check({ RAMPART_ENV: 'production', RAMPART_SECRETS_DIR: secretsDir, RAMPART_SECRET_MASTER_KEY: secretValue }, [], cwd);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/RAMPART_SECRET_MASTER_KEY \(env\): plaintext secret/);
    expect(result.stdout + result.stderr).not.toContain(secretValue);
  });
});

describe('rampart migrate and jobs', () => {
  it('migrate on a fresh directory applies 0001, a second run is up to date, --status lists it as applied', SLOW, async () => {
    const cwd = launcher.tempDir();
    const first = await launcher.run({ args: ['migrate'], cwd });
    expect(first.code, describeResult(first)).toBe(0);
    expect(first.stdout).toMatch(/^applied 0001 core \(\d+ ms\)$/m);
    expect(statSync(join(cwd, '.rampart', 'db')).isDirectory()).toBe(true);

    const second = await launcher.run({ args: ['migrate'], cwd });
    expect(second.code).toBe(0);
    expect(second.stdout.trim()).toBe('database is up to date');

    const status = await launcher.run({ args: ['migrate', '--status'], cwd });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^applied\s+0001 core\s+\d{4}-\d\d-\d\dT/m);
    expect(status.stdout).not.toMatch(/^pending/m);
  });

  it('jobs after migrate prints the counts line; --retry with a non-UUID exits 2', SLOW, async () => {
    const cwd = await migratedDir();
    const list = await launcher.run({ args: ['jobs'], cwd });
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^jobs: queued \d+, running \d+, succeeded \d+, dead \d+$/m);

    const retry = await launcher.run({ args: ['jobs', '--retry', 'not-a-uuid'], cwd });
    expect(retry.code).toBe(2);
    expect(retry.stderr).toContain('--retry takes a job id (UUID)');
  });
});

describe('rampart serve', () => {
  it('first start in an empty directory creates .rampart/, serves health checks and stops cleanly on SIGTERM; a second start reuses the data', SLOW, async () => {
    const cwd = launcher.tempDir();
    const env = { RAMPART_LOG_LEVEL: 'info' };

    const first = await startServer(cwd, [], env);
    expect(first.url.protocol).toBe('http:');
    expect(first.server.stdout()).toMatch(new RegExp(`^Rampart ${VERSION.replace(/\./g, '\\.')} \\(development\\) listening on http://127\\.0\\.0\\.1:\\d+$`, 'm'));
    await first.server.waitForStdout(/^ {2}demo tenant: "demo"$/m, 10_000);

    const secretsDir = join(cwd, '.rampart', 'secrets');
    const keyFile = join(secretsDir, 'master_key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    // Every generated development secret (master key, audit signing key, …) is owner-only.
    expect(statSync(secretsDir).mode & 0o777).toBe(0o700);
    for (const name of readdirSync(secretsDir)) expect({ name, mode: statSync(join(secretsDir, name)).mode & 0o777 }).toEqual({ name, mode: 0o600 });
    const key = readFileSync(keyFile, 'utf8');
    expect(Buffer.from(key.trim(), 'base64')).toHaveLength(32);
    expect(statSync(join(cwd, '.rampart', 'db')).isDirectory()).toBe(true);

    const health = await httpGet(new URL('/healthz', first.url).href);
    expect(health.status).toBe(200);
    expect(health.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' });
    expect((await httpGet(new URL('/readyz', first.url).href)).status).toBe(200);

    const firstMessages = logMessages(first.server.stdout());
    expect(firstMessages).toContain('migration applied');
    expect(firstMessages).toContain('seeded the demo tenant');

    const firstExit = await stop(first.server);
    expect(firstExit, describeOutput(first.server)).toEqual({ code: 0, signal: null });
    expect(logMessages(first.server.stdout())).toContain('shut down cleanly');

    const second = await startServer(cwd, [], env);
    const ready = await httpGet(new URL('/readyz', second.url).href);
    expect(ready.status).toBe(200);
    const secondMessages = logMessages(second.server.stdout());
    expect(secondMessages).not.toContain('migration applied');
    expect(secondMessages).not.toContain('seeded the demo tenant');
    expect(secondMessages.some((m) => m.includes('generated a development master key'))).toBe(false);
    expect(readFileSync(keyFile, 'utf8')).toBe(key);

    expect(await stop(second.server)).toEqual({ code: 0, signal: null });
  });

  it('SIGTERM stops accepting connections while a request is still open, then exits 0 once it is answered', SLOW, async () => {
    const cwd = await migratedDir();
    // The force-exit timer must not win on a slow machine: this test is about the clean path.
    const { server, url } = await startServer(cwd, [], { RAMPART_LOG_LEVEL: 'info', RAMPART_SHUTDOWN_TIMEOUT_MS: '60000' });
    const port = Number(url.port);

    // No public route is slow, so the in-flight request is one whose headers are not finished:
    // the server counts it as active and must wait for it rather than drop it.
    const open = net.connect({ port, host: url.hostname });
    let answer = '';
    open.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
    const openClosed = new Promise<void>((resolve) => open.once('close', () => resolve()));
    open.on('error', () => {});
    await new Promise<void>((resolve, reject) => open.once('connect', resolve).once('error', reject));
    open.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');

    server.child.kill('SIGTERM');
    await server.waitForStdout(/shutting down/, 10_000);
    let probe = await probeTcp(port, url.hostname);
    for (let attempt = 0; probe === 'connected' && attempt < 100; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      probe = await probeTcp(port, url.hostname);
    }
    expect(probe).toBe('ECONNREFUSED');
    expect(server.isRunning(), 'the process must still be draining the open request').toBe(true);

    open.write('\r\n');
    const exit = await server.exited;
    await openClosed;
    expect(exit, describeOutput(server)).toEqual({ code: 0, signal: null });
    // Answered, not reset. 503: headers completed after close began (fastify return503OnClosing).
    expect(answer).toMatch(/^HTTP\/1\.1 (200|503) /);
    expect(logMessages(server.stdout())).toContain('shut down cleanly');
  });

  // Regression: the signal handlers were once installed only after listen() and job scheduling, so an
  // early SIGTERM killed the process with open requests and the database not closed.
  it('SIGTERM as soon as the port accepts connections still shuts down cleanly', SLOW, async () => {
    const cwd = await migratedDir();
    const port = await freePort();
    const server = launcher.start({ args: ['serve', '--host', '127.0.0.1', '--port', String(port)], cwd, env: { RAMPART_LOG_LEVEL: 'info' } });
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    while ((await probeTcp(port, '127.0.0.1')) !== 'connected') {
      if (!server.isRunning() || Date.now() > deadline) throw new Error(`serve never listened on ${port}\n${describeOutput(server)}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    server.child.kill('SIGTERM');
    expect(await server.exited, describeOutput(server)).toEqual({ code: 0, signal: null });
    expect(logMessages(server.stdout())).toContain('shut down cleanly');
  });

  it('DA-3 with --tls-cert and --tls-key serves HTTPS with TLS 1.2 as the floor and sends HSTS', SLOW, async () => {
    const cwd = await migratedDir();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', 'key.pem', '-out', 'cert.pem'], { cwd, stdio: 'pipe' });
    const { server, url } = await startServer(cwd, ['--tls-cert', 'cert.pem', '--tls-key', 'key.pem']);
    expect(url.protocol).toBe('https:');
    const target = { host: url.hostname, port: Number(url.port), servername: 'localhost', rejectUnauthorized: false };

    const modern = await tlsHandshake({ ...target, maxVersion: 'TLSv1.2' });
    expect(modern).toEqual({ ok: true, protocol: 'TLSv1.2' });

    const legacyClient = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;
    // Control: this client does complete a TLS 1.0/1.1 handshake with a server that allows it, so
    // the refusal below comes from Rampart's floor, not from this machine's OpenSSL.
    const lenient = tls.createServer({ key: readFileSync(join(cwd, 'key.pem')), cert: readFileSync(join(cwd, 'cert.pem')), minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, (socket) => socket.end());
    await new Promise<void>((resolve) => lenient.listen(0, '127.0.0.1', resolve));
    try {
      const control = await tlsHandshake({ ...target, port: (lenient.address() as net.AddressInfo).port, ...legacyClient });
      expect(control).toMatchObject({ ok: true, protocol: expect.stringMatching(/^TLSv1(\.1)?$/) });
    } finally {
      await new Promise((resolve) => lenient.close(resolve));
    }
    const legacy = await tlsHandshake({ ...target, ...legacyClient });
    expect(legacy).toMatchObject({ ok: false, code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });

    const health = await httpGet(new URL('/healthz', url).href);
    expect(health.status).toBe(200);
    expect(health.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(server.isRunning()).toBe(true);
  });

  it('DA-3 --tls-cert without --tls-key exits 2 naming RAMPART_TLS_KEY', async () => {
    const cwd = launcher.tempDir();
    writeFileSync(join(cwd, 'cert.pem'), 'not read: the config is refused first');
    const result = await launcher.run({ args: ['serve', '--port', '0', '--tls-cert', 'cert.pem'], cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^\s+RAMPART_TLS_KEY \(config\): /m);
    expect(result.stdout).not.toMatch(LISTENING);
  });

  it('DE-1 production without a secrets directory refuses to start, naming RAMPART_SECRETS_DIR', async () => {
    const cwd = launcher.tempDir();
    const result = await launcher.run({ args: ['serve', '--port', '0'], cwd, env: { RAMPART_ENV: 'production' } });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toContain('RAMPART_SECRETS_DIR');
    expect(result.stdout).not.toMatch(LISTENING);
    expect(existsSync(join(cwd, '.rampart', 'secrets')), 'production never generates development secrets').toBe(false);
  });

  it('DE-1 production with a mounted master key but an unmigrated database exits 1 and asks for `rampart migrate`', SLOW, async () => {
    const cwd = launcher.tempDir();
    const secretsDir = mountProductionSecrets(join(cwd, 'secrets'));
    const env = { RAMPART_ENV: 'production', RAMPART_SECRETS_DIR: secretsDir, RAMPART_PUBLIC_URL: 'https://id.example.com' };

    const result = await launcher.run({ args: ['serve', '--port', '0'], cwd, env, timeoutMs: STARTUP_TIMEOUT_MS });
    expect(result.code, describeResult(result)).toBe(1);
    expect(result.stderr).toMatch(/pending migration/);
    expect(result.stderr).toContain('rampart migrate');
    expect(result.stdout).not.toMatch(LISTENING);
    expect(existsSync(join(cwd, '.rampart', 'secrets')), 'production never generates development secrets').toBe(false);

    // Production does not migrate at start: the database is still unmigrated.
    const status = await launcher.run({ args: ['migrate', '--status'], cwd, env });
    expect(status.stdout).toMatch(/^pending\s+0001 core$/m);
  });
});

describe('rampart keys', () => {
  it('ID-3 list only reads; rotate needs a justification, then retires and promotes, audited', async () => {
    const cwd = await migratedDir();
    const empty = await launcher.run({ args: ['keys', 'list', '--json'], cwd });
    expect(empty.code, describeResult(empty)).toBe(0);
    expect(JSON.parse(empty.stdout)).toEqual([]); // a read-only command creates nothing, not even missing keys
    const first = await launcher.run({ args: ['keys', 'rotate', '--justification', 'first keys of this install'], cwd });
    expect(first.code, describeResult(first)).toBe(0);
    const list = await launcher.run({ args: ['keys', 'list', '--json'], cwd });
    expect(list.code, describeResult(list)).toBe(0);
    const before = JSON.parse(list.stdout) as Array<{ kid: string; alg: string; status: string }>;
    expect(before.filter((k) => k.status === 'current').map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    const staged = before.filter((k) => k.status === 'next').map((k) => k.kid).sort();
    expect(staged).toHaveLength(2);

    const refused = await launcher.run({ args: ['keys', 'rotate', '--justification', 'short'], cwd });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/justification/);

    const rotated = await launcher.run({ args: ['keys', 'rotate', '--justification', 'quarterly rotation drill'], cwd });
    expect(rotated.code, describeResult(rotated)).toBe(0);
    const after = JSON.parse((await launcher.run({ args: ['keys', 'list', '--json'], cwd })).stdout) as Array<{ kid: string; status: string }>;
    expect(after.filter((k) => k.status === 'current').map((k) => k.kid).sort()).toEqual(staged);
    expect(after.filter((k) => k.status === 'retired')).toHaveLength(4);
    expect(after.filter((k) => k.status === 'next')).toHaveLength(2);
    const verify = await launcher.run({ args: ['audit', 'verify'], cwd });
    expect(verify.code, describeResult(verify)).toBe(0);
  }, 420_000);
});

describe('rampart billing', () => {
  it('BI-5 is a real subcommand: help lists it, verify-numbering on a fresh database exits 0, an unknown tenant exits 2', async () => {
    const cwd = await migratedDir();
    const help = await launcher.run({ args: ['billing', '--help'], cwd });
    expect(help.code, describeResult(help)).toBe(0);
    for (const command of ['customers', 'subscriptions', 'invoices', 'finalize', 'void', 'renew', 'verify-numbering']) expect(help.stdout).toContain(command);
    const verify = await launcher.run({ args: ['billing', 'verify-numbering'], cwd });
    expect(verify.code, describeResult(verify)).toBe(0);
    const unknown = await launcher.run({ args: ['billing', 'invoices', '--tenant', 'nope'], cwd });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no tenant with slug "nope"');
  }, 180_000);
});

describe('rampart CLI against a running server (one process per data directory)', () => {
  const SLOW = { timeout: 420_000 };
  const justification = 'drill: the CLI reaches the running server';

  it('DE-2 keys rotate and matrix set run in the server over the admin channel, take effect there at once, are audited as the CLI and survive shutdown', SLOW, async () => {
    const cwd = await migratedDir();
    const { server } = await startServer(cwd);
    await server.waitForStdout(/^ {2}demo tenant: "demo"$/m, 10_000);
    const pid = server.child.pid!;

    const before = await launcher.run({ args: ['keys', 'list', '--json'], cwd });
    expect(before.code, describeResult(before)).toBe(0);
    expect(before.stderr).toContain(`pid ${pid}`);
    const staged = (JSON.parse(before.stdout) as Array<{ kid: string; status: string }>).filter((k) => k.status === 'next').map((k) => k.kid).sort();

    const rotated = await launcher.run({ args: ['keys', 'rotate', '--justification', justification], cwd });
    expect(rotated.code, describeResult(rotated)).toBe(0);
    expect(rotated.stdout).toMatch(/^rotated: now signing with /m);
    expect(/now signing with ([^;]+);/.exec(rotated.stdout)![1]!.split(', ').sort()).toEqual(staged);

    const set = await launcher.run({ args: ['matrix', 'set', '--tenant', 'demo', '--role', 'viewer', '--resource', 'alert', '--actions', 'list,read', '--justification', justification], cwd });
    expect(set.code, describeResult(set)).toBe(0);
    expect(set.stdout).toMatch(/^change \S+: \+\d+ -\d+ grant\(s\)$/m);
    const shown = await launcher.run({ args: ['matrix', 'show', '--tenant', 'demo', '--json'], cwd });
    expect((JSON.parse(shown.stdout) as { matrix: Record<string, Record<string, string[]>> }).matrix.viewer?.alert?.sort()).toEqual(['list', 'read']);
    expect(server.isRunning(), describeOutput(server)).toBe(true);

    expect(await stop(server), describeOutput(server)).toEqual({ code: 0, signal: null });
    // Alone on the directory now, the CLI opens it itself and finds what the server wrote.
    const verify = await launcher.run({ args: ['audit', 'verify'], cwd });
    expect(verify.code, describeResult(verify)).toBe(0);
    const db = await openDatabase({ dataDir: join(cwd, '.rampart') });
    try {
      const events = await db.owner.selectFrom('audit_events').select(['action', 'actor_id']).where('actor_id', 'like', 'cli:%').orderBy('seq').execute();
      expect(events.map((e) => `${e.action} by ${e.actor_id}`).sort()).toEqual([`authz.matrix.updated by cli:${userInfo().username}`, `identity.signing_key.rotated by cli:${userInfo().username}`]);
      const current = await db.owner.selectFrom('oidc_signing_keys').select('kid').where('status', '=', 'current').execute();
      expect(current.map((k) => k.kid).sort()).toEqual(staged);
    } finally {
      await db.close();
    }
  });

  it('DE-2 every CLI write command against a live server runs in it or is refused naming its pid; the data directory is intact afterwards', SLOW, async () => {
    const cwd = await migratedDir();
    const { server, url } = await startServer(cwd);
    await server.waitForStdout(/^ {2}demo tenant: "demo"$/m, 10_000);
    const pid = server.child.pid!;
    const unknown = '01890000-0000-7000-8000-000000000000';
    writeFileSync(join(cwd, 'spec.json'), '{}');
    const forwarded: Array<[string[], number]> = [
      [['keys', 'rotate', '--justification', justification], 0],
      // The README's own example on the demo tenant, with an installed app's resource (issue 12: it failed with unknown resource).
      [['matrix', 'set', '--tenant', 'demo', '--role', 'viewer', '--resource', 'crm__company', '--actions', 'list', '--justification', justification], 0],
      [['platform', 'operators'], 0],
      [['platform', 'grant', '--tenant', 'demo', '--email', 'nobody@demo.test', '--justification', justification], 2],
      [['jobs', '--retry', unknown], 2],
      [['drift', '--tenant', 'demo'], 0],
      [['audit', 'checkpoint'], 0],
      [['app', 'approve', unknown, '--tenant', 'demo', '--justification', justification], 2],
      [['billing', 'finalize', unknown, '--tenant', 'demo'], 1],
      [['billing', 'void', unknown, '--tenant', 'demo', '--justification', justification], 1],
      [['billing', 'renew', '--tenant', 'demo'], 0],
    ];
    for (const [args, code] of forwarded) {
      const result = await launcher.run({ args, cwd });
      expect({ args, code: result.code, server: result.stderr.includes(`(run by the server holding`) }, describeResult(result)).toEqual({ args, code, server: true });
      expect(result.stderr).not.toMatch(/^\s+at /m);
    }
    const refused: string[][] = [['migrate'], ['app', 'plan', 'spec.json', '--tenant', 'demo'], ['serve', '--port', '0']];
    for (const args of refused) {
      const result = await launcher.run({ args, cwd });
      expect({ args, code: result.code }, describeResult(result)).toEqual({ args, code: 1 });
      expect(result.stderr).toContain(`pid ${pid}`);
      expect(result.stderr).toMatch(/dashboard|stop it/);
    }
    expect(server.isRunning(), describeOutput(server)).toBe(true);
    expect((await httpGet(new URL('/readyz', url).href)).status).toBe(200);
    expect(await stop(server), describeOutput(server)).toEqual({ code: 0, signal: null });
    const verify = await launcher.run({ args: ['audit', 'verify'], cwd });
    expect(verify.code, describeResult(verify)).toBe(0);
  });

  it('DE-2 the admin channel is owner-only and refuses a caller without the current token', SLOW, async () => {
    const cwd = await migratedDir();
    const { server } = await startServer(cwd);
    const dir = join(cwd, '.rampart');
    expect(statSync(join(dir, 'admin.sock')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'admin.token')).mode & 0o777).toBe(0o600);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(join(dir, 'admin.sock'));
      let text = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      socket.on('connect', () => socket.write(`${JSON.stringify({ token: 'guess', argv: ['keys', 'rotate', '--justification', justification], user: 'mallory' })}\n`));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(JSON.parse(answer)).toMatchObject({ code: 2, err: expect.stringContaining('not authorised') });
    expect(await stop(server)).toEqual({ code: 0, signal: null });
    expect(existsSync(join(dir, 'admin.sock'))).toBe(false);
    expect(existsSync(join(dir, 'rampart.lock'))).toBe(false);
  });

  it('a lock left by a dead process is taken over', SLOW, async () => {
    const cwd = await migratedDir();
    writeFileSync(join(cwd, '.rampart', 'rampart.lock'), JSON.stringify({ pid: 2 ** 22 + 1, started: '1', role: 'serve', since: new Date(0).toISOString() }));
    const result = await launcher.run({ args: ['jobs'], cwd });
    expect(result.code, describeResult(result)).toBe(0);
    expect(existsSync(join(cwd, '.rampart', 'rampart.lock'))).toBe(false);
  });
});
