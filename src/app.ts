import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { auditRoutes, createAuditLog, createSink, loadCheckpointSigner, registerAuditJobs, scheduleAuditJobs, verifierFor, type AuditLog, type CheckpointSigner, type Sink } from './audit/index.js';
import { hkdfSync } from 'node:crypto';
import { authzRoutes, createAuthz, policyAuthorizer, runDriftForAllTenants, type Authz } from './authz/index.js';
import { identityRoutes } from './identity/routes.js';
import { createChallenger, createReplayStore, createThrottle, sessionAuthenticator, type AccountDeps, type Challenger, type Throttle } from './identity/index.js';
import {
  chainSecretsProviders,
  ConfigError,
  createKeyCache,
  createLogger,
  developmentSecret,
  RampartError,
  envSecretsProvider,
  fileSecretsProvider,
  loadMasterKeyRing,
  productionProblems,
  tlsConfigProblems,
  type KekRing,
  type KeyCache,
  type Logger,
  type RampartConfig,
  type SecretsProvider,
} from './core/index.js';
import { createJobQueue, createTenant, findTenantBySlug, migrate, migrationStatus, migrations as builtInMigrations, MigrationError, openDatabase, unsafeAsSystem, type Database, type JobQueue, type Migration, type Tenant } from './db/index.js';
import { buildServer, healthRoutes, openApiRoute, tenantRoutes, type Authenticator, type Authorizer, type RouteDefinition, type Server } from './http/index.js';

/**
 * The composition root: the one place that builds services and wires them together. No module
 * keeps state of its own at import time, so a test builds a whole Rampart (in-memory database
 * included) and throws it away.
 */

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export type Rampart = {
  config: RampartConfig;
  log: Logger;
  secrets: SecretsProvider;
  db: Database;
  keys: { ring: KekRing; cache: KeyCache };
  jobs: JobQueue;
  redis: Redis | undefined;
  audit: AuditLog & { signer: CheckpointSigner; sinks: Sink[]; alertSinks: Sink[] };
  authz: Authz;
  identity: { accounts: AccountDeps; throttle: Throttle; challenger: Challenger };
  /** Creates a tenant with its built-in roles, default matrix and creation audit event, atomically. */
  createTenant(input: { slug: string; name: string }): Promise<Tenant>;
  server: Server;
  /** Stops the job runner, drains HTTP, closes Redis and the database. Idempotent. */
  close(): Promise<void>;
};

export type CreateRampartOptions = {
  config: RampartConfig;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
  /** Embedded only: start from a migrated data-dir snapshot (tests). */
  loadDataDir?: Blob;
  authenticate?: Authenticator;
  authorize?: Authorizer;
  routes?: RouteDefinition[];
  migrations?: readonly Migration[];
  tls?: { key: Buffer; cert: Buffer };
};

export function secretsProviderFor(config: RampartConfig, env: NodeJS.ProcessEnv): SecretsProvider {
  const files = fileSecretsProvider({ dir: config.secrets.dir ?? join(config.dataDir, 'secrets') });
  // Environment secrets are a development convenience; production refuses them (productionProblems).
  return config.env === 'production' ? files : chainSecretsProviders([files, envSecretsProvider({ env })]);
}

/** The WebAuthn relying party: the public URL's host and origin, else localhost on the listening port. */
export function relyingPartyFor(config: RampartConfig): { rpId: string; rpName: string; origins: string[] } {
  if (config.http.publicUrl) {
    const url = new URL(config.http.publicUrl);
    return { rpId: url.hostname, rpName: 'Rampart', origins: [url.origin] };
  }
  const scheme = config.http.tls.certFile ? 'https' : 'http';
  return { rpId: 'localhost', rpName: 'Rampart', origins: [`${scheme}://localhost:${config.http.port}`, `${scheme}://127.0.0.1:${config.http.port}`] };
}

function missingSecret(name: string): never {
  throw new RampartError('bad_request', { detail: `no ${name} in the secrets provider; production needs it mounted` });
}

export const DEMO_TENANT = { slug: 'demo', name: 'Demo Company' } as const;

export async function createRampart(options: CreateRampartOptions): Promise<Rampart> {
  const { config } = options;
  const env = options.env ?? process.env;
  const log = options.log ?? createLogger({ level: config.log.level, pretty: config.log.pretty });
  const problems = [...tlsConfigProblems(config), ...productionProblems(config, env)];
  if (problems.length) throw new ConfigError(problems);
  const isProduction = config.env === 'production';
  const embeddedOnDisk = config.database.url === undefined;

  const secrets = secretsProviderFor(config, env);
  const ring = await loadMasterKeyRing({
    secrets,
    production: isProduction,
    ...(embeddedOnDisk ? { devKeyFile: join(config.dataDir, 'secrets', 'master_key') } : {}),
    log,
  });

  const signer = await loadCheckpointSigner({
    secrets,
    production: isProduction,
    ...(embeddedOnDisk ? { devFile: join(config.dataDir, 'secrets', 'audit_signing_key') } : {}),
    log,
  });
  // Recovery-code HMACs, throttle keys and the ALTCHA key derive from one identity secret.
  const identityPepper =
    (await secrets.get('identity_pepper')) ??
    (isProduction
      ? missingSecret('identity_pepper')
      : await developmentSecret({ file: embeddedOnDisk ? join(config.dataDir, 'secrets', 'identity_pepper') : undefined, name: 'identity pepper', generate: () => randomBytes(32).toString('base64'), log }));
  const auditSinks = await Promise.all(config.audit.sinks.map((sink) => createSink(sink, secrets, (path) => readFile(path))));
  const alertSinks = await Promise.all(config.audit.alertSinks.map((sink) => createSink(sink, secrets, (path) => readFile(path))));

  const db = await openDatabase({
    url: config.database.url,
    dataDir: config.dataDir,
    appUrl: config.database.appUrl,
    poolSize: config.database.poolSize,
    statementTimeoutMs: config.database.statementTimeoutMs,
    secrets,
    log,
    ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
  });
  const redis = config.redis.url ? await connectRedis(config.redis.url, secrets, log) : undefined;
  const closeEarly = async () => {
    redis?.disconnect();
    await db.close();
  };

  try {
    const list = options.migrations ?? builtInMigrations;
    const status = await migrationStatus(db, list);
    if (status.problems.length) throw new MigrationError(status.problems.join('\n'));
    if (status.pending.length) {
      if (isProduction) {
        throw new MigrationError(`${status.pending.length} pending migration(s) (${status.pending.map((m) => m.version).join(', ')}); production does not migrate at start: run \`rampart migrate\` first`);
      }
      await migrate({ db, list, log, secrets });
    }

    const jobs = createJobQueue({ db, log, leaseMs: config.jobs.leaseMs, pollIntervalMs: config.jobs.pollIntervalMs, concurrency: config.jobs.concurrency });
    registerMaintenanceJobs(jobs, db);
    registerAuditJobs(jobs, { db, log, signer, auditSinks, alertSinks });
    const audit = { ...createAuditLog(), signer, sinks: auditSinks, alertSinks };
    const authz = createAuthz({ db, audit });
    jobs.register('authz.drift', async () => {
      const reports = await runDriftForAllTenants({ db, audit, log });
      const drifted = reports.filter((r) => r.drifted).length;
      if (drifted) log.warn({ tenants: drifted }, 'permission drift found');
    });
    const derived = (info: string) => Buffer.from(hkdfSync('sha256', identityPepper.reveal(), 'rampart', info, 32));
    const throttleStore = redis ? ({ kind: 'redis', client: redis } as const) : ({ kind: 'memory' } as const);
    const throttle = createThrottle({
      store: throttleStore,
      keySecret: derived('throttle-keys'),
      // ID-9: detections are audit events in the system chain, which the identity-attack rule turns into alerts.
      onDetection: (detection) =>
        unsafeAsSystem(db, { reason: 'attack detections span tenants', log }, (trx) =>
          audit.record(trx, { tenantId: null, actor: { type: 'system', id: 'throttle' }, action: `identity.attack.${detection.kind}`, target: { type: 'account', id: detection.accountKey }, diff: { count: { after: detection.count }, window_seconds: { after: detection.windowSeconds } }, context: { ip: detection.ip } }),
        ).then(() => undefined),
    });
    const challenger = createChallenger({ hmacKey: derived('altcha').toString('hex'), replayStore: createReplayStore(throttleStore) });
    const accounts: AccountDeps = { db, audit, ring, recoveryPepper: identityPepper, totpIssuer: 'Rampart', webauthn: relyingPartyFor(config) };
    const identity = { accounts, throttle, challenger };
    const newTenant = (input: { slug: string; name: string }) => createTenant(db, input, log, (trx, tenant) => authz.provisionTenant(trx, tenant));

    if (config.demo.seed && !(await findTenantBySlug(db, DEMO_TENANT.slug))) {
      const tenant = await newTenant(DEMO_TENANT).catch((error: { code?: string }) => {
        if (error.code !== 'conflict') throw error; // another node seeded it first
      });
      if (tenant) log.info({ tenant: tenant.id }, 'seeded the demo tenant');
    }

    const routes: RouteDefinition[] = [
      ...healthRoutes({
        version: VERSION,
        checks: [
          { name: 'database', check: () => db.ping() },
          {
            name: 'migrations',
            check: async () => {
              const current = await migrationStatus(db, list);
              if (current.pending.length || current.problems.length) throw new Error('migrations are not current');
            },
          },
          ...(redis ? [{ name: 'redis', check: async () => void (await redis.ping()) }] : []),
        ],
      }),
      ...tenantRoutes({ db }),
      ...authzRoutes({ authz, db, audit }),
      ...identityRoutes(identity),
      ...auditRoutes({ db, verifier: verifierFor(signer.publicKey) }),
      ...(options.routes ?? []),
    ];
    const server = await buildServer({
      config,
      log,
      ...(options.tls ? { tls: options.tls } : {}),
      authenticate: options.authenticate ?? sessionAuthenticator({ db }),
      authorize: options.authorize ?? policyAuthorizer(authz),
      routes: [...routes, openApiRoute({ routes, version: VERSION })],
    });

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        await jobs.stop();
        await server.app.close();
        if (redis) await redis.quit().catch(() => redis.disconnect());
        await db.close();
      })());

    return { config, log, secrets, db, keys: { ring, cache: createKeyCache() }, jobs, redis, audit, authz, identity, createTenant: newTenant, server, close };
  } catch (error) {
    await closeEarly();
    throw error;
  }
}

async function connectRedis(url: string, secrets: SecretsProvider, log: Logger): Promise<Redis> {
  const password = await secrets.get('redis_password');
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: false,
    connectTimeout: 5_000,
    ...(password ? { password: password.reveal() } : {}),
  });
  redis.on('error', (error: Error) => log.warn({ err: { message: error.message } }, 'redis connection error'));
  await redis.connect();
  return redis;
}

/** Housekeeping every node schedules idempotently; the queue runs each slot once cluster-wide. */
function registerMaintenanceJobs(jobs: JobQueue, db: Database): void {
  jobs.register('jobs.prune', async () => {
    const cutoff = new Date(Date.now() - 7 * 86_400_000);
    await db.owner.deleteFrom('jobs').where('status', '=', 'succeeded').where('finished_at', '<', cutoff).execute();
  });
}

/** Recurring jobs every node schedules at start (idempotent). */
export async function scheduleRecurringJobs(rampart: Pick<Rampart, 'jobs' | 'config' | 'audit'>): Promise<void> {
  await rampart.jobs.schedule({ key: 'jobs.prune', kind: 'jobs.prune', intervalSeconds: 86_400 });
  await rampart.jobs.schedule({ key: 'authz.drift', kind: 'authz.drift', intervalSeconds: rampart.config.authz.driftIntervalSeconds });
  await scheduleAuditJobs(rampart.jobs, {
    checkpointIntervalSeconds: rampart.config.audit.checkpointIntervalSeconds,
    deliverIntervalSeconds: rampart.config.audit.deliverIntervalSeconds,
    sinkNames: [...rampart.audit.sinks.map((s) => ({ name: s.name, source: 'audit' as const })), ...rampart.audit.alertSinks.map((s) => ({ name: s.name, source: 'alerts' as const }))],
  });
}
