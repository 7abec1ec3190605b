import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { auditRoutes, chainOf, checkpointHeads, createAuditLog, createDenialRecorder, createSink, loadCheckpointSigner, registerAuditJobs, scheduleAuditJobs, verifierFor, type AuditLog, type CheckpointSigner, type Sink } from './audit/index.js';
import { hkdfSync } from 'node:crypto';
import { authzRoutes, cedarEngine, platformRoutes, catalogueAuthorizer, checkPlatformRoutes, createAuthz, createPlatformOperators, platformAuthorizer, policyAuthorizer, runDriftForAllTenants, type Authz, type PlatformOperators } from './authz/index.js';
import { appsAuthorizer, appsRoutes, createApps, createPublicLimiter, installedResources, type Apps } from './apps/index.js';
import { identityRoutes } from './identity/routes.js';
import { createMailer, createRequestLimiter, IDENTITY_PURGE_JOB, issueSetupToken, outboxRoutes, registerIdentityJobs, type Mailer, type RequestLimiter } from './identity/index.js';
import { apiScopesOf, createOidc, firstAuthenticator, oidcRoutes, sameOriginSession, purgeExpiredPayloads, scopedAuthorizer, SESSION_ABSOLUTE_SECONDS, SESSION_COOKIE, tokenAuthenticator, type Oidc } from './identity/index.js';
import { BUILTIN_RESOURCES } from './authz/index.js';
import { createBilling, scheduleBillingJobs, seedDemoCatalog, type Billing } from './billing/index.js';
import { dashboardRoutes, loadDashboardBundle, planPreviewRoutes } from './dashboard/index.js';
import { createChallenger, createReplayStore, createSessionCache, createThrottle, loginUiRoutes, sessionCredentials, type AccountDeps, type Challenger, type Throttle } from './identity/index.js';
import {
  chainSecretsProviders,
  ConfigError,
  createKeyCache,
  createLogger,
  developmentSecret,
  developmentSecretFile,
  RampartError,
  envSecretsProvider,
  fileSecretsProvider,
  loadMasterKeyRing,
  systemClock,
  productionProblems,
  tlsConfigProblems,
  mailTransportOf,
  billingPspOf,
  planApprovalRequired,
  type Clock,
  type KekRing,
  type KeyCache,
  type Logger,
  type RampartConfig,
  type SecretsProvider,
} from './core/index.js';
import { createJobQueue, createTenant, findTenantBySlug, migrate, migrationStatus, migrations as builtInMigrations, MigrationError, openDatabase, unsafeAsSystem, type Database, type JobQueue, type Migration, type Tenant } from './db/index.js';
import { actorOf, buildServer, healthRoutes, openApiRoute, requestContext, tenantRoutes, type Authenticator, type Authorizer, type RouteDefinition, type Server } from './http/index.js';

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
  /** Platform operators: who may reach platform resources (signing keys, jobs, the outbox). */
  platform: PlatformOperators;
  apps: Apps;
  identity: { accounts: AccountDeps; throttle: Throttle; challenger: Challenger; mailer: Mailer; limiter: RequestLimiter; publicBaseUrl: string };
  oidc: Oidc;
  /** Billing (BI-*); undefined when no payment provider is configured (production default). */
  billing: Billing | undefined;
  /** Creates a tenant with its built-in roles, default matrix and creation audit event, atomically. */
  createTenant(input: { slug: string; name: string }): Promise<Tenant>;
  server: Server;
  /** Stops the job runner, drains HTTP, closes Redis and the database. Idempotent. */
  close(): Promise<void>;
};

export type CreateRampartOptions = {
  /** Identity time (sessions, step-up freshness, tokens); tests pass a manual clock. */
  clock?: Clock;
  /** Where the first-admin setup link is printed (default: stdout, never the structured log). */
  announce?: (line: string) => void;
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
  const devFile = (name: string) => developmentSecretFile(config, name);

  const secrets = secretsProviderFor(config, env);
  const ring = await loadMasterKeyRing({
    secrets,
    production: isProduction,
    devKeyFile: devFile('master_key'),
    log,
  });

  const signer = await loadCheckpointSigner({
    secrets,
    production: isProduction,
    devFile: devFile('audit_signing_key'),
    log,
  });
  // Recovery-code HMACs, throttle keys and the ALTCHA key derive from one identity secret.
  const identityPepper =
    (await secrets.get('identity_pepper')) ??
    (isProduction
      ? missingSecret('identity_pepper')
      : await developmentSecret({ file: devFile('identity_pepper'), name: 'identity pepper', generate: () => randomBytes(32).toString('base64'), log }));
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
    lockRole: 'serve',
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
    const authz = createAuthz({ db, audit, tenantResources: installedResources });
    const platform = createPlatformOperators({ db, audit });
    // DE-4: production applies app plans only after a second admin approved them.
    const apps = createApps({ db, audit, authz, clock: systemClock, requireApproval: planApprovalRequired(config), log });
    jobs.register('authz.drift', async () => {
      const reports = await runDriftForAllTenants({ db, audit, log });
      const drifted = reports.filter((r) => r.drifted).length;
      if (drifted) log.warn({ tenants: drifted }, 'permission drift found');
    });
    const derived = (info: string) => Buffer.from(hkdfSync('sha256', identityPepper.reveal(), 'rampart', info, 32));
    // ID-9: every key under the configured namespace, the global failure counter and under-attack flag included.
    const throttleStore = redis ? ({ kind: 'redis', client: redis, keyPrefix: `${config.redis.keyPrefix}:throttle` } as const) : ({ kind: 'memory' } as const);
    const throttle = createThrottle({
      store: throttleStore,
      keySecret: derived('throttle-keys'),
      // ID-9: detections are audit events in the system chain, which the identity-attack rule turns into alerts.
      onDetection: (detection) =>
        unsafeAsSystem(db, { reason: 'attack detections span tenants', log }, (trx) =>
          audit.record(trx, { tenantId: null, actor: { type: 'system', id: 'throttle' }, action: `identity.attack.${detection.kind}`, target: { type: 'account', id: detection.accountKey }, diff: { count: { after: detection.count }, window_seconds: { after: detection.windowSeconds } }, context: { ip: detection.ip } }),
        ).then(() => undefined),
    });
    const replayStore = createReplayStore(throttleStore);
    const challenger = createChallenger({ hmacKey: derived('altcha').toString('hex'), replayStore });
    const identityClock = options.clock ?? systemClock;
    const sessionCache = createSessionCache({ ttlMs: config.sessions.cacheMs });
    const accounts: AccountDeps = { db, audit, ring, recoveryPepper: identityPepper, totpIssuer: 'Rampart', webauthn: relyingPartyFor(config), clock: identityClock, sessionCache, onSetupCompleted: (account) => platform.claimFirst({ accountTenantId: account.tenantId, accountUserId: account.userId }) };
    const mailer = await mailerFor(config, secrets, log);
    const identity = { accounts, throttle, challenger, mailer, limiter: createRequestLimiter({ store: throttleStore, keySecret: derived('request-budgets') }), publicBaseUrl: publicOrigin(config) };
    registerIdentityJobs(jobs, { db, audit, log });
    const billing = await billingFor({ config, secrets, db, audit, jobs, mailer, log, production: isProduction, devSecretFile: devFile('billing_webhook_secrets') });
    // MO-1: a tenant's chain is checkpointed from its first event (tenant.created), in the creating transaction.
    const newTenant = (input: { slug: string; name: string }) =>
      createTenant(db, input, log, async (trx, tenant) => {
        await authz.provisionTenant(trx, tenant);
        await checkpointHeads(trx, { signer, chains: [chainOf(tenant.id)] });
      });

    if (config.demo.seed && !(await findTenantBySlug(db, DEMO_TENANT.slug))) {
      const tenant = await newTenant(DEMO_TENANT).catch((error: { code?: string }) => {
        if (error.code !== 'conflict') throw error; // another node seeded it first
      });
      if (tenant) log.info({ tenant: tenant.id }, 'seeded the demo tenant');
      if (tenant) for (const name of ['crm', 'helpdesk'] as const) await apps.installTemplate({ tenantId: tenant.id, actor: { type: 'system', id: 'demo-seed' }, name });
      if (tenant && billing && config.billing.seedDemoCatalog) await seedDemoCatalog(billing.deps, tenant.id);
    }
    if (config.demo.seed) await announceFirstAdminSetup({ accounts, config, log, announce: options.announce });

    const issuer = publicOrigin(config);
    const oidc = await createOidc({
      db,
      ring,
      audit,
      log,
      clock: systemClock,
      settings: {
        issuer,
        apiResource: `${issuer}/api`,
        apiScopes: () => apiScopesOf(BUILTIN_RESOURCES.map((r) => r.name)),
        accessTokenTtlSeconds: config.oidc.accessTokenTtlSeconds,
        idTokenTtlSeconds: config.oidc.idTokenTtlSeconds,
        refreshTokenTtlSeconds: config.oidc.refreshTokenTtlSeconds,
        sessionTtlSeconds: SESSION_ABSOLUTE_SECONDS,
        cookieKeys: [derived('oidc-cookies').toString('base64url')],
        trustProxy: Boolean(config.http.trustProxy),
        issuerIsPublicUrl: Boolean(config.http.publicUrl),
      },
      rotationIntervalSeconds: config.oidc.keyRotationDays * 86_400,
      retiredKeyRetentionSeconds: Math.max(config.oidc.retiredKeyRetentionSeconds, config.oidc.idTokenTtlSeconds, config.oidc.accessTokenTtlSeconds),
      production: isProduction,
      dashboard: { redirectUris: [`${issuer}/dashboard/callback`, ...config.oidc.dashboardRedirectUris], postLogoutRedirectUris: [`${issuer}/dashboard/`] },
    });
    registerOidcJobs(jobs, oidc, db, log);
    // Each node reloads signing keys a rotation elsewhere (another node, the CLI) has changed.
    const keyRefresh = setInterval(() => void oidc.refreshKeys().catch((error: unknown) => log.warn({ err: error }, 'oidc key refresh failed')), 60_000);
    keyRefresh.unref();

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
          // A faulted Cedar instance is replaced on its next call; this fails while none answers.
          { name: 'policy_engine', check: async () => cedarEngine().probe() },
        ],
      }),
      ...tenantRoutes({ db }),
      ...authzRoutes({ authz, db, audit }),
      ...appsRoutes({ apps, authz, data: { db, audit, keys: { ring, cache: createKeyCache() } }, publicLimiter: createPublicLimiter({ redis, keyPrefix: `${config.redis.keyPrefix}:apps-public-read` }) }),
      ...identityRoutes({ ...identity, revokeOidcGrants: (userId) => oidc.revokeAccount(userId) }),
      ...outboxRoutes({ mailer, env: config.env }),
      ...platformRoutes({ platform }),
      ...oidcRoutes({ oidc, db, audit, authz, ring, clock: systemClock }),
      ...loginUiRoutes({ accounts }),
      ...auditRoutes({ db, verifier: verifierFor(signer.publicKey) }),
      ...dashboardRoutes({ bundle: loadDashboardBundle() }),
      ...planPreviewRoutes({ apps }),
      ...(billing ? billing.routes() : []),
      ...(options.routes ?? []),
    ];
    checkPlatformRoutes(routes);
    // AZ-2, MO-2: every denial the pipeline sends is audited in its own transaction, rate-limited per principal.
    const denials = createDenialRecorder({ db, audit, log });
    // The browser session: `self` routes, and `{ action, resource }` routes called without a token.
    const sessions = sameOriginSession(sessionCredentials({ db, clock: identityClock, cache: sessionCache }));
    const server = await buildServer({
      config,
      log,
      ...(options.tls ? { tls: options.tls } : {}),
      authenticate:
        options.authenticate ??
        firstAuthenticator(tokenAuthenticator({ provider: oidc.provider, db, clock: identityClock, proofClock: systemClock, apiResource: oidc.settings.apiResource, issuer, replay: replayStore, issuerIsConfigured: Boolean(config.http.publicUrl) }), async (request) => (await sessions.authenticate(request, { allowPending: false }))?.principal ?? null),
      authenticateSession: sessions,
      // Platform resources never reach a tenant's policy set, nor an injected authorizer (DESIGN "Scopes").
      authorize: catalogueAuthorizer({ platform: platformAuthorizer(platform), tenant: appsAuthorizer(options.authorize ?? scopedAuthorizer(policyAuthorizer(authz))) }),
      onDenied: ({ principal, request, ...facts }) => denials.record({ ...facts, tenantId: principal.tenantId, actor: actorOf(principal), context: requestContext(request) }),
      mounts: [(app) => oidc.mount(app), ...(billing ? [billing.mount] : [])],
      routes: [...routes, openApiRoute({ routes: [...routes, ...(billing ? billing.documentedMounts() : [])], version: VERSION, sessionCookie: SESSION_COOKIE })],
    });

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        clearInterval(keyRefresh);
        await jobs.stop();
        await server.app.close();
        await denials.close();
        await billing?.close();
        if (redis) await redis.quit().catch(() => redis.disconnect());
        mailer.close();
        await db.close();
      })());

    return { config, log, secrets, db, keys: { ring, cache: createKeyCache() }, jobs, redis, audit, authz, platform, apps, identity, oidc, billing, createTenant: newTenant, server, close };
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

/** The public origin of this server: the configured public URL, else localhost on the listening port. */
export function publicOrigin(config: RampartConfig): string {
  if (config.http.publicUrl) return new URL(config.http.publicUrl).origin;
  return `${config.http.tls.certFile ? 'https' : 'http'}://localhost:${config.http.port}`;
}

/**
 * ID-3: the key job stages and rotates on schedule (once cluster-wide, by the queue); the purge job
 * drops expired protocol state.
 */
function registerOidcJobs(jobs: JobQueue, oidc: Oidc, db: Database, log: Logger): void {
  jobs.register('oidc.keys', async () => {
    await oidc.keys.ensure();
    if (await oidc.keys.isRotationDue()) {
      const result = await oidc.keys.rotate({ actor: { type: 'system', id: 'oidc.keys' }, reason: 'scheduled signing key rotation (ID-3)' });
      log.info({ activated: result.activated, retired: result.retired }, 'oidc signing keys rotated on schedule');
    }
    await oidc.refreshKeys();
  });
  jobs.register('oidc.purge', async () => {
    const removed = await purgeExpiredPayloads(db, new Date());
    if (removed) log.info({ removed }, 'expired oidc state purged');
  });
}

/** The identity mail transport (magic links); the development outbox warns loudly (production refuses it in productionProblems). */
async function mailerFor(config: RampartConfig, secrets: SecretsProvider, log: Logger): Promise<Mailer> {
  const transport = mailTransportOf(config);
  if (transport === 'outbox') log.warn('MUST CHANGE before production: identity mail goes to the in-memory development outbox at /dev/outbox; set mail.smtpUrl (RAMPART_SMTP_URL)');
  if (transport === 'disabled') log.warn('identity mail is disabled (no mail.smtpUrl): magic-link sign-in answers 503');
  const password = config.mail.passwordSecret ? (await secrets.get(config.mail.passwordSecret))?.reveal() : undefined;
  return createMailer({
    transport,
    from: config.mail.from,
    smtpUrl: config.mail.smtpUrl,
    password,
    requireTls: config.mail.requireTls,
    ca: config.mail.caFile ? await readFile(config.mail.caFile) : undefined,
    log,
  });
}

/**
 * A fresh install's demo tenant without an owner gets a one-time setup link for the first admin
 * (24 h; a restart supersedes it). The link is a credential: it goes to the console through
 * `announce` (stdout), never into the structured log, which is shipped and retained elsewhere.
 */
async function announceFirstAdminSetup(input: { accounts: AccountDeps; config: RampartConfig; log: Logger; announce: ((line: string) => void) | undefined }): Promise<void> {
  const tenant = await findTenantBySlug(input.accounts.db, DEMO_TENANT.slug);
  if (!tenant) return;
  const issued = await issueSetupToken(input.accounts, { tenantId: tenant.id });
  if (!issued) return;
  const write = input.announce ?? ((line: string) => void process.stdout.write(line));
  write(`Setup link for the first admin: ${publicOrigin(input.config)}/setup/${issued.token}\n`);
  input.log.info({ tenant: tenant.id, expires_at: issued.expiresAt.toISOString() }, 'a one-time setup link for the first admin was printed on the console');
}

/** Housekeeping every node schedules idempotently; the queue runs each slot once cluster-wide. */
function registerMaintenanceJobs(jobs: JobQueue, db: Database): void {
  jobs.register('jobs.prune', async () => {
    const cutoff = new Date(Date.now() - 7 * 86_400_000);
    await db.owner.deleteFrom('jobs').where('status', '=', 'succeeded').where('finished_at', '<', cutoff).execute();
  });
}

/** Recurring jobs every node schedules at start (idempotent). */
export async function scheduleRecurringJobs(rampart: Pick<Rampart, 'jobs' | 'config' | 'audit'> & { billing?: Billing | undefined }): Promise<void> {
  if (rampart.billing) await scheduleBillingJobs(rampart.jobs, { renewalIntervalSeconds: rampart.config.billing.renewalIntervalSeconds });
  await rampart.jobs.schedule({ key: 'jobs.prune', kind: 'jobs.prune', intervalSeconds: 86_400 });
  await rampart.jobs.schedule({ key: IDENTITY_PURGE_JOB, kind: IDENTITY_PURGE_JOB, intervalSeconds: 6 * 3600 });
  await rampart.jobs.schedule({ key: 'oidc.keys', kind: 'oidc.keys', intervalSeconds: 3600 });
  await rampart.jobs.schedule({ key: 'oidc.purge', kind: 'oidc.purge', intervalSeconds: 3600 });
  await rampart.jobs.schedule({ key: 'authz.drift', kind: 'authz.drift', intervalSeconds: rampart.config.authz.driftIntervalSeconds });
  await scheduleAuditJobs(rampart.jobs, {
    checkpointIntervalSeconds: rampart.config.audit.checkpointIntervalSeconds,
    deliverIntervalSeconds: rampart.config.audit.deliverIntervalSeconds,
    sinkNames: [...rampart.audit.sinks.map((s) => ({ name: s.name, source: 'audit' as const })), ...rampart.audit.alertSinks.map((s) => ({ name: s.name, source: 'alerts' as const }))],
  });
}

/**
 * Billing's payment provider and webhook secrets (BI-1, BI-2). The sandbox listens on its own
 * origin (a port of its own) so card entry never touches Rampart's; it is refused in production.
 * Secrets: `billing_webhook_secrets` (one per line, newest first) and `stripe_secret_key`.
 */
async function billingFor(input: { config: RampartConfig; secrets: SecretsProvider; db: Database; audit: AuditLog; jobs: JobQueue; mailer: Mailer; log: Logger; production: boolean; devSecretFile: string | undefined }): Promise<Billing | undefined> {
  const { config, secrets, log } = input;
  const psp = billingPspOf(config);
  if (psp === 'disabled') return undefined;
  const stored = await secrets.get('billing_webhook_secrets');
  const secret =
    stored ??
    (input.production
      ? missingSecret('billing_webhook_secrets')
      : await developmentSecret({ file: input.devSecretFile, name: 'billing webhook secret', generate: () => `whsec_${randomBytes(24).toString('base64url')}`, log }));
  const webhookSecrets = secret
    .reveal()
    .split(/[\n,]/)
    .map((line) => line.trim())
    .filter(Boolean);
  // Outside tests the sandbox listens on its own origin and posts its webhooks to Rampart.
  const listen = config.billing.sandbox.listen ?? config.env !== 'test';
  const stripeKey = psp === 'stripe' ? ((await secrets.get('stripe_secret_key')) ?? missingSecret('stripe_secret_key')) : undefined;
  const billing = createBilling({
    db: input.db,
    audit: input.audit,
    jobs: input.jobs,
    mailer: input.mailer, // customer notices (trials, dunning) go out like identity mail
    log,
    production: input.production,
    psp,
    webhookSecrets,
    webhookToleranceSeconds: config.billing.webhookToleranceSeconds,
    ...(stripeKey ? { stripe: { secretKey: stripeKey.reveal() } } : {}),
    ...(listen ? { sandboxWebhookUrl: `${publicOrigin(config)}/api/v1/billing/webhooks/sandbox` } : {}),
  });
  if (billing.sandbox && listen) await billing.sandbox.listen({ host: config.billing.sandbox.host, port: config.billing.sandbox.port });
  return billing;
}
