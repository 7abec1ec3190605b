import { readFile } from 'node:fs/promises';
import { Command, CommanderError, Option } from 'commander';
import { createRampart, scheduleRecurringJobs, secretsProviderFor, VERSION } from '../app.js';
import { userInfo } from 'node:os';
import { createAuthz, runDrift, runDriftForAllTenants, toMatrix } from '../authz/index.js';
import { createAuditLog, loadCheckpointSigner, signerFromPem, verifierFor, verifyAuditLog, writeCheckpoints, type VerifyReport } from '../audit/index.js';
import { ConfigError, createLogger, developmentSecretFile, isUuid, RampartError, loadConfig, productionProblems, redactConfig, tlsConfigProblems, type RampartConfig, type RampartConfigInput } from '../core/index.js';
import { installedResources } from '../apps/index.js';
import { registerAppCommands } from './apps.js';
import { registerKeyCommands } from './keys.js';
import { registerPlatformCommands } from './platform.js';
import { registerBillingCommands } from './billing.js';
import { type Actor, createJobQueue, DataDirLockedError, findTenantBySlug, migrate, migrationStatus, migrations, MigrationError, openDatabase, type Database } from '../db/index.js';
import type { Logger, SecretsProvider } from '../core/index.js';
import { openAdminChannel, type AdminChannel, type AdminRequest, type AdminResponse } from './admin-channel.js';
import { commandPath, forwardToServer, isForwardable } from './remote.js';

/**
 * `rampart` — exit codes: 0 success, 1 the command failed, 2 invalid usage or configuration.
 * Errors are one readable line (two for config: each bad key on its own line), never a stack.
 */

export type CliIo = { out: (text: string) => void; err: (text: string) => void; env: NodeJS.ProcessEnv; cwd: string; host?: CliHost };

type Opened = { db: Database; log: Logger; secrets: SecretsProvider };

/**
 * Set when a running server runs the command for a CLI over its admin channel: its configuration,
 * its open database (never closed by the command) and the OS user who sent the command.
 */
export type CliHost = { config: RampartConfig; user: string; open(): Promise<Opened> };

const defaultIo: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), env: process.env, cwd: process.cwd() };

class UsageError extends Error {}

function configFrom(io: CliIo, overrides: RampartConfigInput = {}): RampartConfig {
  if (io.host) return io.host.config;
  return loadConfig({ env: io.env, cwd: io.cwd, overrides });
}

async function openForCli(io: CliIo, config: RampartConfig): Promise<Opened> {
  if (io.host) return io.host.open();
  const { env } = io;
  // Command output owns stdout (it may be JSON for a script); the CLI's own log lines go to stderr.
  const log = createLogger({ level: config.log.level === 'info' ? 'warn' : config.log.level, destination: { write: (line: string) => void process.stderr.write(line) } });
  const secrets = secretsProviderFor(config, env);
  const db = await openDatabase({ url: config.database.url, dataDir: config.dataDir, appUrl: config.database.appUrl, poolSize: 2, secrets, log, lockRole: 'cli' });
  return { db, log, secrets };
}

async function serve(io: CliIo, flags: { port?: string; host?: string; tlsCert?: string; tlsKey?: string }): Promise<number> {
  const overrides: RampartConfigInput = { http: {} as NonNullable<RampartConfigInput['http']> };
  const http = overrides.http as Record<string, unknown>;
  if (flags.port !== undefined) http.port = flags.port;
  if (flags.host !== undefined) http.host = flags.host;
  if (flags.tlsCert || flags.tlsKey) http.tls = { ...(flags.tlsCert ? { certFile: flags.tlsCert } : {}), ...(flags.tlsKey ? { keyFile: flags.tlsKey } : {}) };
  const config = configFrom(io, overrides);
  const { certFile, keyFile } = config.http.tls;
  const tls = certFile && keyFile ? { cert: await readFile(certFile), key: await readFile(keyFile) } : undefined;
  const rampart = await createRampart({ config, env: io.env, ...(tls ? { tls } : {}) });
  const { app } = rampart.server;

  // Signal handlers go in before the port opens: a SIGTERM at any moment from here on drains
  // requests and closes the database instead of killing the process mid-write.
  let stopping = false;
  let startup: Promise<unknown> = Promise.resolve();
  let channel: AdminChannel | undefined;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    rampart.log.info({ signal }, 'shutting down: no new connections, draining in-flight requests');
    const force = setTimeout(() => {
      rampart.log.error('shutdown timed out; exiting with requests still open');
      process.exit(1);
    }, config.http.shutdownTimeoutMs);
    force.unref();
    startup
      .catch(() => undefined)
      .then(() => channel?.close())
      .then(() => rampart.close())
      .then(
        () => {
          rampart.log.info('shut down cleanly');
          process.exit(0);
        },
        (error: unknown) => {
          rampart.log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));

  let address = '';
  startup = (async () => {
    address = await app.listen({ host: config.http.host, port: config.http.port });
    // Embedded, this process holds the data directory; CLI commands reach it through the channel.
    if (config.database.url === undefined && !stopping) {
      channel = await openAdminChannel({ dataDir: config.dataDir, log: rampart.log, handle: (request) => runForCli(request, io, rampart) }).catch((error: unknown) => {
        rampart.log.warn({ err: error }, 'the admin channel could not open; CLI commands are refused while the server runs');
        return undefined;
      });
    }
    if (config.jobs.enabled && !stopping) {
      await scheduleRecurringJobs(rampart);
      if (!stopping) rampart.jobs.start();
    }
  })();
  await startup;
  if (!stopping) {
    io.out(`Rampart ${VERSION} (${config.env}) listening on ${address}\n`);
    io.out(`  database: ${rampart.db.description}\n`);
    if (config.demo.seed) io.out(`  demo tenant: "demo"\n`);
  }
  return new Promise<number>(() => {}); // runs until a signal
}

/** A CLI command sent over the admin channel: the same command code, on this server's database. */
async function runForCli(request: AdminRequest, io: CliIo, rampart: Awaited<ReturnType<typeof createRampart>>): Promise<AdminResponse> {
  const command = commandPath(request.argv);
  if (!isForwardable(request.argv)) return { code: 2, out: '', err: `error: \`rampart ${command}\` does not run through a running server\n` };
  let out = '';
  let err = '';
  const host: CliHost = { config: rampart.config, user: request.user, open: async () => ({ db: { ...rampart.db, close: async () => {} }, log: rampart.log, secrets: rampart.secrets }) };
  const code = await run(request.argv, { out: (t) => void (out += t), err: (t) => void (err += t), env: io.env, cwd: io.cwd, host });
  rampart.log.info({ command, user: request.user, code }, 'ran a CLI command sent over the admin channel');
  // A rotation signs from now on, not after the next periodic reload.
  if (command.startsWith('keys ')) await rampart.oidc.refreshKeys().catch((error: unknown) => rampart.log.warn({ err: error }, 'oidc key refresh failed'));
  return { code, out, err };
}

async function migrateCommand(io: CliIo, flags: { status?: boolean }): Promise<number> {
  const config = configFrom(io);
  const { db, log, secrets } = await openForCli(io, config);
  try {
    if (flags.status) {
      const status = await migrationStatus(db, migrations);
      for (const row of status.applied) io.out(`applied  ${String(row.version).padStart(4, '0')} ${row.name}  ${row.applied_at.toISOString()}\n`);
      for (const m of status.pending) io.out(`pending  ${String(m.version).padStart(4, '0')} ${m.name}\n`);
      for (const p of status.problems) io.err(`problem  ${p}\n`);
      return status.problems.length ? 1 : 0;
    }
    const result = await migrate({ db, list: migrations, log, secrets });
    if (!result.applied.length) io.out('database is up to date\n');
    for (const m of result.applied) io.out(`applied ${String(m.version).padStart(4, '0')} ${m.name} (${m.durationMs} ms)\n`);
    return 0;
  } finally {
    await db.close();
  }
}

async function configCheck(io: CliIo, flags: { json?: boolean }): Promise<number> {
  const config = configFrom(io);
  const problems = [...tlsConfigProblems(config), ...productionProblems(config, io.env)];
  const shown = redactConfig(config);
  io.out(flags.json ? `${JSON.stringify(shown, null, 2)}\n` : flatten(shown).map(([key, value]) => `${key} = ${value}\n`).join(''));
  if (problems.length) {
    for (const p of problems) io.err(`invalid: ${p.key} (${p.source}): ${p.message}\n`);
    return 2;
  }
  io.err('configuration is valid\n');
  return 0;
}

function flatten(value: unknown, prefix = ''): Array<[string, string]> {
  if (Array.isArray(value)) return [[prefix, JSON.stringify(value)]];
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, inner]) => flatten(inner, prefix ? `${prefix}.${key}` : key));
  }
  return [[prefix, value === undefined ? '(unset)' : String(value)]];
}

async function jobsCommand(io: CliIo, flags: { status?: string; limit?: string; retry?: string }): Promise<number> {
  const config = configFrom(io);
  const { db, log } = await openForCli(io, config);
  try {
    const status = await migrationStatus(db, migrations);
    if (status.pending.length) throw new UsageError('the database is not migrated yet: run `rampart migrate`');
    const jobs = createJobQueue({ db, log });
    if (flags.retry) {
      if (!isUuid(flags.retry)) throw new UsageError('--retry takes a job id (UUID)');
      const job = await jobs.retry(flags.retry);
      io.out(`re-queued ${job.id} (${job.kind})\n`);
      return 0;
    }
    const allowed = ['queued', 'running', 'succeeded', 'dead'];
    if (flags.status && !allowed.includes(flags.status)) throw new UsageError(`--status must be one of ${allowed.join(', ')}`);
    const limit = flags.limit ? Number(flags.limit) : 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new UsageError('--limit must be a whole number from 1 to 200');
    const counts = await jobs.counts();
    io.out(`jobs: ${allowed.map((s) => `${s} ${counts[s] ?? 0}`).join(', ')}\n`);
    const list = await jobs.list({ ...(flags.status ? { status: flags.status as 'queued' } : {}), limit });
    for (const job of list) {
      const schedule = job.interval_seconds ? ` every ${job.interval_seconds}s` : '';
      io.out(`${job.id}  ${job.status.padEnd(9)} ${job.kind}${schedule}  attempts ${job.attempts}/${job.max_attempts}  run_at ${job.run_at.toISOString()}${job.last_error ? `  last error: ${job.last_error.split('\n')[0]}` : ''}\n`);
    }
    return 0;
  } finally {
    await db.close();
  }
}

async function auditCommand(io: CliIo, sub: 'verify' | 'checkpoint', flags: { json?: boolean; tenant?: string }): Promise<number> {
  const config = configFrom(io);
  const { db, log, secrets } = await openForCli(io, config);
  try {
    const status = await migrationStatus(db, migrations);
    if (status.pending.length) throw new UsageError('the database is not migrated yet: run `rampart migrate`');
    const signer = await loadCheckpointSigner({ secrets, production: config.env === 'production', devFile: developmentSecretFile(config, 'audit_signing_key') });
    if (sub === 'checkpoint') {
      const written = await writeCheckpoints({ db, signer, log });
      io.out(`${written.length} checkpoint(s) written\n`);
      return 0;
    }
    const previous = await secrets.get('audit_signing_key.previous');
    const verifier = verifierFor(signer.publicKey, ...(previous ? [signerFromPem(previous.reveal()).publicKey] : []));
    let chains: string[] | undefined;
    if (flags.tenant) {
      const tenant = await findTenantBySlug(db, flags.tenant);
      if (!tenant) throw new UsageError(`no tenant with slug "${flags.tenant}"`);
      chains = [tenant.id];
    }
    const report = await verifyAuditLog({ db, verifier, ...(chains ? { chains } : {}) });
    io.out(flags.json ? `${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n` : renderVerifyReport(report));
    return report.ok ? 0 : 1;
  } finally {
    await db.close();
  }
}

function renderVerifyReport(report: VerifyReport): string {
  const lines = report.chains.map((chain) => {
    const label = chain.chain === 'system' ? 'system' : `tenant ${chain.chain}`;
    const checkpoint = chain.lastCheckpointSeq === null ? 'no checkpoint yet' : `checkpoint at seq ${chain.lastCheckpointSeq}`;
    return chain.problem ? `FAIL ${label}: ${chain.problem.message}` : `ok   ${label}: ${chain.events} events, ${checkpoint}`;
  });
  lines.push(`${report.ok ? 'audit log intact' : 'AUDIT LOG TAMPERED'}: ${report.chains.length} chain(s), ${report.events} event(s) in ${report.durationMs} ms`);
  return `${lines.join('\n')}\n`;
}

async function withAuthz<T>(io: CliIo, fn: (ctx: { db: Awaited<ReturnType<typeof openForCli>>['db']; authz: ReturnType<typeof createAuthz>; audit: ReturnType<typeof createAuditLog>; tenantId: string }) => Promise<T>, tenantSlug: string): Promise<T> {
  const config = configFrom(io);
  const { db } = await openForCli(io, config);
  try {
    const status = await migrationStatus(db, migrations);
    if (status.pending.length) throw new UsageError('the database is not migrated yet: run `rampart migrate`');
    const tenant = await findTenantBySlug(db, tenantSlug);
    if (!tenant) throw new UsageError(`no tenant with slug "${tenantSlug}"`);
    const audit = createAuditLog();
    // The tenant's installed apps are resources too, as on the server.
    return await fn({ db, audit, authz: createAuthz({ db, audit, tenantResources: installedResources }), tenantId: tenant.id });
  } finally {
    await db.close();
  }
}

const cliActor = (io: CliIo): Actor => ({ type: 'system', id: `cli:${io.host?.user ?? userInfo().username}` });

async function matrixShow(io: CliIo, flags: { tenant: string; resource?: string; json?: boolean }): Promise<number> {
  return withAuthz(
    io,
    async ({ authz, tenantId }) => {
      const data = await authz.data(tenantId);
      const matrix = toMatrix(data.grants);
      if (flags.json) {
        io.out(`${JSON.stringify({ roles: data.roles, matrix }, null, 2)}\n`);
        return 0;
      }
      const resources = authz.resources.filter((r) => !flags.resource || r.name === flags.resource);
      if (!resources.length) throw new UsageError(`no resource "${flags.resource}"; known: ${authz.resources.map((r) => r.name).join(', ')}`);
      for (const resource of resources) {
        io.out(`${resource.name}\n`);
        const width = Math.max(...data.roles.map((r) => r.name.length), 4);
        io.out(`  ${'role'.padEnd(width)}  ${resource.actions.map((a) => a.padEnd(7)).join(' ')}\n`);
        for (const role of data.roles) {
          const held = new Set(matrix[role.name]?.[resource.name] ?? []);
          io.out(`  ${role.name.padEnd(width)}  ${resource.actions.map((a) => (held.has(a) ? 'yes' : '-').padEnd(Math.max(7, a.length))).join(' ')}\n`);
        }
      }
      return 0;
    },
    flags.tenant,
  );
}

async function matrixSet(io: CliIo, flags: { tenant: string; role: string; resource: string; actions: string; justification?: string }): Promise<number> {
  return withAuthz(
    io,
    async ({ authz, tenantId }) => {
      const actions = flags.actions.split(',').map((a) => a.trim()).filter(Boolean);
      const result = await authz.setGrants({ tenantId, actor: cliActor(io), role: flags.role, resource: flags.resource, actions, justification: flags.justification });
      if (!result.changeId) io.out('no change\n');
      else io.out(`change ${result.changeId}: +${result.added.length} -${result.removed.length} grant(s)\n`);
      return 0;
    },
    flags.tenant,
  );
}

async function driftCommand(io: CliIo, flags: { tenant?: string; json?: boolean }): Promise<number> {
  const config = configFrom(io);
  const { db, log } = await openForCli(io, config);
  try {
    const status = await migrationStatus(db, migrations);
    if (status.pending.length) throw new UsageError('the database is not migrated yet: run `rampart migrate`');
    const audit = createAuditLog();
    let reports;
    if (flags.tenant) {
      const tenant = await findTenantBySlug(db, flags.tenant);
      if (!tenant) throw new UsageError(`no tenant with slug "${flags.tenant}"`);
      reports = [await runDrift({ db, audit, tenantId: tenant.id, log })];
    } else {
      reports = await runDriftForAllTenants({ db, audit, log });
    }
    if (flags.json) io.out(`${JSON.stringify(reports, null, 2)}\n`);
    else {
      for (const r of reports) {
        const since = r.previousSnapshotAt ? `since ${r.previousSnapshotAt.toISOString()}` : 'first snapshot';
        io.out(`${r.drifted ? 'DRIFT' : 'ok   '} tenant ${r.tenantId} (${since}): +${r.added.length} -${r.removed.length} grant(s), ${r.policiesChanged.length} policy change(s)\n`);
        for (const g of r.unexplainedAdded) io.out(`  + ${g.role} ${g.action} ${g.resource}   (no recorded change explains it)\n`);
        for (const g of r.unexplainedRemoved) io.out(`  - ${g.role} ${g.action} ${g.resource}   (no recorded change explains it)\n`);
        for (const id of r.unexplainedPolicies) io.out(`  ~ policy ${id}   (no recorded change explains it)\n`);
        for (const id of r.unexplainedRules) io.out(`  ~ rule ${id}   (no recorded change explains it)\n`);
      }
    }
    return reports.some((r) => r.drifted) ? 1 : 0;
  } finally {
    await db.close();
  }
}

export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('rampart')
    .description('Rampart: business apps, secure by construction')
    .version(VERSION, '-v, --version')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(run rampart --help for usage)')
    .exitOverride();
  const action =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A) =>
      setExit(await fn(...args));

  program
    .command('serve')
    .description('start the HTTP server and the job runner')
    .option('-p, --port <port>', 'port to listen on (env PORT)')
    .option('--host <host>', 'interface to bind (env RAMPART_HOST)')
    .option('--tls-cert <file>', 'PEM certificate; with --tls-key serves HTTPS, TLS 1.2 or newer')
    .option('--tls-key <file>', 'PEM private key')
    .action(action((flags: { port?: string; host?: string; tlsCert?: string; tlsKey?: string }) => serve(io, flags)));
  program
    .command('migrate')
    .description('apply pending database migrations')
    .option('--status', 'list applied and pending migrations without applying')
    .action(action((flags: { status?: boolean }) => migrateCommand(io, flags)));
  const config = program.command('config').description('inspect configuration');
  config
    .command('check')
    .description('print the effective configuration (secrets redacted); exit 2 when invalid')
    .option('--json', 'JSON output')
    .action(action((flags: { json?: boolean }) => configCheck(io, flags)));
  program
    .command('jobs')
    .description('show background jobs')
    .addOption(new Option('--status <status>', 'only jobs in this state').choices(['queued', 'running', 'succeeded', 'dead']))
    .option('--limit <n>', 'how many to list (1-200)', '20')
    .option('--retry <id>', 're-queue a dead job')
    .action(action((flags: { status?: string; limit?: string; retry?: string }) => jobsCommand(io, flags)));
  const matrix = program.command('matrix').description('the role-permission matrix of a tenant');
  matrix
    .command('show')
    .description('print which role holds which action on each resource')
    .requiredOption('--tenant <slug>', 'tenant slug')
    .option('--resource <name>', 'only this resource')
    .option('--json', 'JSON output')
    .action(action((flags: { tenant: string; resource?: string; json?: boolean }) => matrixShow(io, flags)));
  matrix
    .command('set')
    .description('set the actions a role holds on a resource; audited, needs a justification')
    .requiredOption('--tenant <slug>', 'tenant slug')
    .requiredOption('--role <role>', 'role name')
    .requiredOption('--resource <name>', 'resource name')
    .requiredOption('--actions <list>', 'comma-separated actions ("" removes all)')
    .option('--justification <text>', 'why (at least 10 characters)')
    .action(action((flags: { tenant: string; role: string; resource: string; actions: string; justification?: string }) => matrixSet(io, flags)));
  program
    .command('drift')
    .description('snapshot effective permissions now and report changes no recorded change explains (exit 1 on drift)')
    .option('--tenant <slug>', 'only this tenant')
    .option('--json', 'JSON output')
    .action(action((flags: { tenant?: string; json?: boolean }) => driftCommand(io, flags)));
  registerAppCommands(program, { out: io.out, err: io.err, config: () => configFrom(io), open: (config) => openForCli(io, config), actor: () => cliActor(io), usage: (message) => new UsageError(message), action });
  registerKeyCommands(program, { out: io.out, config: () => configFrom(io), open: (config) => openForCli(io, config), actor: () => cliActor(io), usage: (message) => new UsageError(message), action });
  registerPlatformCommands(program, { out: io.out, config: () => configFrom(io), open: (config) => openForCli(io, config), actor: () => cliActor(io), usage: (message) => new UsageError(message), action });
  registerBillingCommands(program, { out: io.out, err: io.err, config: () => configFrom(io), open: (config) => openForCli(io, config), actor: () => cliActor(io), usage: (message) => new UsageError(message), action });
  const audit = program.command('audit').description('the tamper-evident audit log');
  audit
    .command('verify')
    .description('walk every hash chain and signed checkpoint; exit 1 naming the first altered, removed or reordered event')
    .option('--tenant <slug>', 'only this tenant\'s chain')
    .option('--json', 'JSON output')
    .action(action((flags: { json?: boolean; tenant?: string }) => auditCommand(io, 'verify', flags)));
  audit
    .command('checkpoint')
    .description('sign the current head of every chain now')
    .action(action(() => auditCommand(io, 'checkpoint', {})));
  return program;
}

export async function run(argv: string[], io: CliIo = defaultIo): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => (code = c));
  if (argv.length === 0) {
    io.err(program.helpInformation());
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof ConfigError) {
      io.err('invalid configuration:\n');
      for (const issue of error.issues) io.err(`  ${issue.key} (${issue.source}): ${issue.message}\n`);
      return 2;
    }
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}\n`);
      return 2;
    }
    if (error instanceof RampartError && error.status < 500) {
      io.err(`error: ${error.detail ?? error.title}\n`);
      for (const issue of error.issues ?? []) io.err(`  ${issue.pointer}: ${issue.message}\n`);
      return 2;
    }
    if (error instanceof DataDirLockedError && !io.host) return forwardToServer({ argv, io, locked: error });
    if (error instanceof MigrationError) {
      io.err(`migration error: ${error.message}\n`);
      return 1;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.err(`error: ${message}\n`);
    return 1;
  }
}
