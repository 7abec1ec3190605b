import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';

/**
 * One validated configuration: defaults < rampart.config.json < environment.
 * Secrets are not configuration: they come from a SecretsProvider and never appear here.
 */

const boolFromEnv = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform((v) => (typeof v === 'boolean' ? v : ['true', '1', 'yes'].includes(v)));
const port = z.coerce.number().int().min(0).max(65535);
const databaseUrl = z
  .string()
  .refine((v) => v === 'memory://' || /^postgres(ql)?:\/\//.test(v), 'must be memory:// or a postgres:// URL');

const sinkName = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, - and _');

/** Where audit events (SIEM) and alerts go; see docs/audit.md. */
export const sinkConfigSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('file'), name: sinkName, path: z.string().min(1) }),
  z.strictObject({
    type: z.literal('syslog'),
    name: sinkName,
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    tls: z.boolean().default(false),
    /** Extra CA (PEM file) for a SIEM with a private CA. */
    caFile: z.string().optional(),
    appName: z.string().regex(/^[!-~]{1,48}$/).default('rampart'),
  }),
  z.strictObject({
    type: z.literal('http'),
    name: sinkName,
    url: z.url({ protocol: /^https?$/ }),
    format: z.enum(['splunk-hec', 'elastic-bulk', 'ndjson']).default('ndjson'),
    /** Name of the secret holding the token; sent as `Authorization: <authScheme> <token>`. */
    tokenSecret: z.string().optional(),
    authScheme: z.enum(['Bearer', 'Splunk', 'ApiKey']).default('Bearer'),
    index: z.string().optional(),
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  }),
  z.strictObject({
    type: z.literal('webhook'),
    name: sinkName,
    url: z.url({ protocol: /^https?$/ }),
    /** Name of the secret used to sign each delivery: `Rampart-Signature: t=<unix>,v1=<hmac-sha256(t.body)>`. */
    signingSecret: z.string().optional(),
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  }),
  z.strictObject({
    type: z.literal('email'),
    name: sinkName,
    /** `smtp://host:port` (STARTTLS required unless `requireTls: false`) or `smtps://host:465`; no password in the URL. */
    smtpUrl: z.url({ protocol: /^smtps?$/ }).refine((url) => !new URL(url).password, 'put the SMTP password in a secret (passwordSecret), not in the URL'),
    /** Name of the secret holding the SMTP password. */
    passwordSecret: z.string().optional(),
    requireTls: z.boolean().default(true),
    /** Extra CA (PEM file) for a mail relay with a private CA. */
    caFile: z.string().optional(),
    from: z.email(),
    to: z.array(z.email()).min(1).max(50),
  }),
]);

export type SinkConfig = z.output<typeof sinkConfigSchema>;

export const configSchema = z.strictObject({
  env: z.enum(['development', 'test', 'production']).default('development'),
  dataDir: z.string().min(1).default('.rampart'),
  http: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: port.default(3000),
      publicUrl: z.url().optional(),
      bodyLimitBytes: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
      trustProxy: boolFromEnv.default(false),
      shutdownTimeoutMs: z.coerce.number().int().min(0).max(600_000).default(10_000),
      requestTimeoutMs: z.coerce.number().int().min(1000).max(600_000).default(30_000),
      tls: z.strictObject({ certFile: z.string().min(1).optional(), keyFile: z.string().min(1).optional() }).prefault({}),
    })
    .prefault({}),
  database: z
    .strictObject({
      /** Unset: embedded PGlite in `<dataDir>/db`. `memory://`: embedded, in memory. `postgres://`: PostgreSQL. */
      url: databaseUrl.optional(),
      /** PostgreSQL only: how the app role (rampart_app) connects; derived from `url` when unset. */
      appUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
      poolSize: z.coerce.number().int().min(1).max(200).default(10),
      statementTimeoutMs: z.coerce.number().int().min(0).max(600_000).default(15_000),
    })
    .prefault({}),
  redis: z
    .strictObject({
      url: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
      /** Every Redis key Rampart writes starts with `<keyPrefix>:`, so deployments can share one Redis. */
      keyPrefix: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'letters, digits, _ . : - (at most 64), starting with a letter or digit')
        .refine((value) => !value.endsWith(':'), 'must not end with ":" (it is added)')
        .default('rampart'),
    })
    .prefault({}),
  secrets: z.strictObject({ dir: z.string().min(1).optional() }).prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      pretty: boolFromEnv.default(false),
    })
    .prefault({}),
  jobs: z
    .strictObject({
      enabled: boolFromEnv.default(true),
      pollIntervalMs: z.coerce.number().int().min(50).max(600_000).default(1000),
      concurrency: z.coerce.number().int().min(1).max(64).default(2),
      leaseMs: z.coerce.number().int().min(1000).max(86_400_000).default(300_000),
    })
    .prefault({}),
  demo: z.strictObject({ seed: boolFromEnv.optional() }).prefault({}),
  authz: z
    .strictObject({
      /** How often drift snapshots are taken (default nightly). */
      driftIntervalSeconds: z.coerce.number().int().min(60).max(86_400 * 30).default(86_400),
    })
    .prefault({}),
  apps: z
    .strictObject({
      /**
       * DE-4: an app-spec plan waits for a second admin's approval before it applies. Always in
       * production (an explicit false there is a start-up error); elsewhere off unless turned on
       * here, e.g. for a staging deployment (see `planApprovalRequired`).
       */
      requireApproval: boolFromEnv.optional(),
    })
    .prefault({}),
  sessions: z
    .strictObject({
      /**
       * ID-6: how long a node may reuse a session it validated (identity/sessions/cache.ts). A
       * revocation holds at once on the node that made it and within this bound on the others;
       * 0 reads every request's session from the database.
       */
      cacheMs: z.coerce.number().int().min(0).max(10_000).default(2000),
    })
    .prefault({}),
  oidc: z
    .strictObject({
      /** ID-1: access tokens live minutes. */
      accessTokenTtlSeconds: z.coerce.number().int().min(60).max(3600).default(600),
      idTokenTtlSeconds: z.coerce.number().int().min(60).max(3600).default(600),
      /** Absolute lifetime of a refresh-token chain (rotation never extends it). */
      refreshTokenTtlSeconds: z.coerce.number().int().min(300).max(86_400 * 90).default(86_400 * 14),
      /** ID-3: signing keys rotate on this schedule (default 90 days). */
      keyRotationDays: z.coerce.number().int().min(1).max(365).default(90),
      /** How long a retired key stays in JWKS (at least the ID token lifetime; logout hints use it). */
      retiredKeyRetentionSeconds: z.coerce.number().int().min(3600).max(86_400 * 90).default(86_400 * 7),
      /** Extra redirect URIs of the `rampart-dashboard` client (the server's own `/dashboard/callback` is always allowed). */
      dashboardRedirectUris: z.array(z.url()).max(20).default([]),
    })
    .prefault({}),
  /**
   * Identity mail (magic links, ID-4). `smtp` needs `smtpUrl` (`smtp://` with STARTTLS required
   * unless `requireTls: false`, or `smtps://`; the password in the secret `passwordSecret`, never
   * in the URL). Unset transport: `smtp` when a URL is given, else the in-memory development
   * `outbox` (shown at /dev/outbox), or `disabled` in production, which refuses the outbox.
   */
  mail: z
    .strictObject({
      transport: z.enum(['smtp', 'outbox', 'disabled']).optional(),
      smtpUrl: z
        .url({ protocol: /^smtps?$/ })
        .refine((url) => !new URL(url).password, 'put the SMTP password in a secret (passwordSecret), not in the URL')
        .optional(),
      passwordSecret: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/).optional(),
      requireTls: boolFromEnv.default(true),
      caFile: z.string().min(1).optional(),
      from: z.email().max(320).default('no-reply@rampart.localhost'),
    })
    .refine((mail) => mail.transport !== 'smtp' || Boolean(mail.smtpUrl), { message: 'the smtp transport needs smtpUrl', path: ['smtpUrl'] })
    .prefault({}),
  /**
   * Billing (BI-1, BI-2). `psp`: the built-in sandbox (development; refused in production),
   * Stripe (secret `stripe_secret_key`) or disabled; unset: sandbox outside production, disabled
   * in production (see `billingPspOf`). Webhook signing secrets come from the secret
   * `billing_webhook_secrets` (one per line, newest first, for rotation). The sandbox listens on
   * its own port (its own origin) outside tests unless `sandbox.listen` says otherwise.
   */
  billing: z
    .strictObject({
      psp: z.enum(['sandbox', 'stripe', 'disabled']).optional(),
      webhookToleranceSeconds: z.coerce.number().int().min(10).max(3600).default(300),
      renewalIntervalSeconds: z.coerce.number().int().min(10).max(86_400).default(60),
      seedDemoCatalog: boolFromEnv.default(true),
      sandbox: z.strictObject({ listen: boolFromEnv.optional(), host: z.string().min(1).default('127.0.0.1'), port: port.default(0) }).prefault({}),
    })
    .prefault({}),
  audit: z
    .strictObject({
      checkpointIntervalSeconds: z.coerce.number().int().min(10).max(86_400 * 7).default(3600),
      deliverIntervalSeconds: z.coerce.number().int().min(1).max(3600).default(5),
      sinks: z.array(sinkConfigSchema).default([]),
      alertSinks: z.array(sinkConfigSchema).default([]),
    })
    .prefault({}),
});

export type RampartConfig = z.output<typeof configSchema>;
export type RampartConfigInput = z.input<typeof configSchema>;

/** Environment variables and the config key each one sets. Anything else starting with RAMPART_ is a typo and refused. */
export const ENV_KEYS: Record<string, string> = {
  RAMPART_ENV: 'env',
  RAMPART_DATA_DIR: 'dataDir',
  RAMPART_HOST: 'http.host',
  PORT: 'http.port',
  RAMPART_PUBLIC_URL: 'http.publicUrl',
  RAMPART_BODY_LIMIT: 'http.bodyLimitBytes',
  RAMPART_TRUST_PROXY: 'http.trustProxy',
  RAMPART_SHUTDOWN_TIMEOUT_MS: 'http.shutdownTimeoutMs',
  RAMPART_TLS_CERT: 'http.tls.certFile',
  RAMPART_TLS_KEY: 'http.tls.keyFile',
  DATABASE_URL: 'database.url',
  RAMPART_DATABASE_APP_URL: 'database.appUrl',
  RAMPART_DATABASE_POOL_SIZE: 'database.poolSize',
  RAMPART_STATEMENT_TIMEOUT_MS: 'database.statementTimeoutMs',
  REDIS_URL: 'redis.url',
  RAMPART_REDIS_KEY_PREFIX: 'redis.keyPrefix',
  RAMPART_SECRETS_DIR: 'secrets.dir',
  RAMPART_LOG_LEVEL: 'log.level',
  RAMPART_LOG_PRETTY: 'log.pretty',
  RAMPART_JOBS_ENABLED: 'jobs.enabled',
  RAMPART_JOBS_POLL_MS: 'jobs.pollIntervalMs',
  RAMPART_JOBS_CONCURRENCY: 'jobs.concurrency',
  RAMPART_DEMO: 'demo.seed',
  RAMPART_AUDIT_CHECKPOINT_SECONDS: 'audit.checkpointIntervalSeconds',
  RAMPART_DRIFT_INTERVAL_SECONDS: 'authz.driftIntervalSeconds',
  RAMPART_BILLING_PSP: 'billing.psp',
  RAMPART_BILLING_SANDBOX_PORT: 'billing.sandbox.port',
  RAMPART_MAIL_TRANSPORT: 'mail.transport',
  RAMPART_SMTP_URL: 'mail.smtpUrl',
  RAMPART_MAIL_FROM: 'mail.from',
  RAMPART_OIDC_KEY_ROTATION_DAYS: 'oidc.keyRotationDays',
  RAMPART_SESSION_CACHE_MS: 'sessions.cacheMs',
  RAMPART_APPS_REQUIRE_APPROVAL: 'apps.requireApproval',
};
/**
 * RAMPART_ variables that are not settings: the config file path, development secrets
 * (`RAMPART_SECRET_<NAME>`) and anything for tooling around Rampart (`RAMPART_TEST_*`: our own
 * test suites, CI and scripts), which Rampart never reads as configuration.
 */
export const ENV_PASSTHROUGH: readonly RegExp[] = [/^RAMPART_CONFIG$/, /^RAMPART_SECRET_/, /^RAMPART_TEST_/];

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest environment variable Rampart reads, when the name is plausibly a typo of it. */
export function closestEnvName(name: string): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of [...Object.keys(ENV_KEYS), 'RAMPART_CONFIG']) {
    const distance = editDistance(name, candidate);
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(name.length / 4)) ? best.name : undefined;
}

function unknownEnvMessage(name: string): string {
  const closest = closestEnvName(name);
  const hint = closest ? `did you mean ${closest}${ENV_KEYS[closest] ? ` (${ENV_KEYS[closest]})` : ''}? ` : '';
  return `unknown setting; ${hint}RAMPART_* variables must be settings (docs/configuration.md); tooling variables start with RAMPART_TEST_ and are ignored`;
}

export type ConfigIssue = { key: string; source: string; message: string };

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i.key} (${i.source}): ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

type Layer = { source: string; values: Record<string, unknown> };

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = Object.hasOwn(out, key) ? out[key] : undefined;
    const next =
      value && typeof value === 'object' && !Array.isArray(value) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? deepMerge(prev as Record<string, unknown>, value as Record<string, unknown>)
        : value;
    Object.defineProperty(out, key, { value: next, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function flatKeys(value: unknown, prefix = ''): string[] {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => flatKeys(v, prefix ? `${prefix}.${k}` : k));
}

export type LoadConfigOptions = {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Path of the JSON config file; default `RAMPART_CONFIG` or `<cwd>/rampart.config.json` when present. */
  file?: string;
  /** Highest-precedence values, e.g. CLI flags or test overrides. */
  overrides?: RampartConfigInput;
};

export function loadConfig(options: LoadConfigOptions = {}): RampartConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const issues: ConfigIssue[] = [];
  const layers: Layer[] = [];

  const explicitFile = options.file ?? env.RAMPART_CONFIG;
  const file = explicitFile ? resolve(cwd, explicitFile) : resolve(cwd, 'rampart.config.json');
  if (existsSync(file)) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('top level must be an object');
      layers.push({ source: file, values: parsed as Record<string, unknown> });
    } catch (error) {
      issues.push({ key: '(file)', source: file, message: `cannot read: ${(error as Error).message}` });
    }
  } else if (explicitFile) {
    issues.push({ key: '(file)', source: file, message: 'file not found' });
  }

  const fromEnv: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || raw === '') continue;
    const key = ENV_KEYS[name];
    if (key) setPath(fromEnv, key, raw);
    else if (name.startsWith('RAMPART_') && !ENV_PASSTHROUGH.some((re) => re.test(name))) {
      issues.push({ key: name, source: 'env', message: unknownEnvMessage(name) });
    }
  }
  layers.push({ source: 'env', values: fromEnv });
  if (options.overrides) layers.push({ source: 'overrides', values: options.overrides as Record<string, unknown> });

  const merged = layers.reduce<Record<string, unknown>>((acc, layer) => deepMerge(acc, layer.values), {});
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.join('.');
      const unknownKeys = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => (path ? `${path}.${k}` : k)) : [path || '(root)'];
      for (const key of unknownKeys) {
        const envName = Object.entries(ENV_KEYS).find(([, k]) => k === key)?.[0];
        const source = [...layers].reverse().find((l) => flatKeys(l.values).some((k) => k === key || k.startsWith(`${key}.`)))?.source;
        issues.push({ key: envName && source === 'env' ? envName : key, source: source ?? 'default', message: issue.message });
      }
    }
  }
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);

  const config = result.data;
  config.dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(cwd, config.dataDir);
  if (config.demo.seed === undefined) config.demo.seed = config.env === 'development';
  return config;
}

// scheme://userinfo@host...: userinfo ends at the LAST '@' before any query or fragment (as URL parsers split it).
const URL_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^?#]*)@/i;
const PASSWORD_PARAM = /([?&](?:password|sslpassword)=)([^&#]*)/gi;

export const redactUrl = (url: string | undefined): string | undefined => {
  if (!url) return url;
  const redacted = url.replace(URL_USERINFO, (match, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return colon >= 0 && colon < userinfo.length - 1 ? `${scheme}${userinfo.slice(0, colon + 1)}[redacted]@` : match;
  });
  return redacted.replace(PASSWORD_PARAM, (_m, name: string, value: string) => (value ? `${name}[redacted]` : name));
};

export const urlHasPassword = (url: string | undefined): boolean => Boolean(url) && redactUrl(url) !== url;

/** Sink URLs may carry credentials (`https://user:token@host`, `?token=`): masked like the others. */
const SECRET_PARAM = /([?&](?:token|api[_-]?key|key|secret|sig|signature|access_token)=)([^&#]*)/gi;
const redactSinkUrl = (url: string) => redactUrl(url)!.replace(SECRET_PARAM, (_m, name: string, value: string) => (value ? `${name}[redacted]` : name));
const sinkUrlHasSecret = (url: string) => redactSinkUrl(url) !== url;
function redactSink(sink: SinkConfig): SinkConfig {
  if ('url' in sink) return { ...sink, url: redactSinkUrl(sink.url) };
  if ('smtpUrl' in sink) return { ...sink, smtpUrl: redactSinkUrl(sink.smtpUrl) };
  return sink;
}

/** The effective config with anything secret-bearing masked; what `rampart config check` prints. */
export function redactConfig(config: RampartConfig): RampartConfig {
  return {
    ...config,
    database: { ...config.database, url: redactUrl(config.database.url), appUrl: redactUrl(config.database.appUrl) },
    redis: { ...config.redis, url: redactUrl(config.redis.url) },
    mail: config.mail.smtpUrl ? { ...config.mail, smtpUrl: redactSinkUrl(config.mail.smtpUrl) } : config.mail,
    audit: { ...config.audit, sinks: config.audit.sinks.map(redactSink), alertSinks: config.audit.alertSinks.map(redactSink) },
  };
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * The strict checks RAMPART_ENV=production switches on (controls DE-1, DA-3). Each finding names
 * the key to fix. Checks that need a database (pending migrations) run at start-up instead.
 */
export function productionProblems(config: RampartConfig, env: NodeJS.ProcessEnv = process.env): ConfigIssue[] {
  if (config.env !== 'production') return [];
  const problems: ConfigIssue[] = [];
  for (const name of Object.keys(env)) {
    if (name.startsWith('RAMPART_SECRET_') && env[name]) {
      problems.push({ key: name, source: 'env', message: 'plaintext secret in the environment; mount it as a file in secrets.dir (RAMPART_SECRETS_DIR)' });
    }
  }
  if (urlHasPassword(config.database.url)) problems.push({ key: 'DATABASE_URL', source: 'env', message: 'contains a password; put it in the secret file database_password' });
  if (urlHasPassword(config.database.appUrl)) problems.push({ key: 'RAMPART_DATABASE_APP_URL', source: 'env', message: 'contains a password; put it in the secret file database_app_password' });
  if (urlHasPassword(config.redis.url)) problems.push({ key: 'REDIS_URL', source: 'env', message: 'contains a password; put it in the secret file redis_password' });
  for (const [list, key] of [[config.audit.sinks, 'audit.sinks'], [config.audit.alertSinks, 'audit.alertSinks']] as const) {
    list.forEach((sink, index) => {
      const url = 'url' in sink ? sink.url : 'smtpUrl' in sink ? sink.smtpUrl : undefined;
      if (url && sinkUrlHasSecret(url)) problems.push({ key: `${key}.${index}.url`, source: 'config', message: `sink ${sink.name} has a credential in its URL; use tokenSecret / signingSecret / passwordSecret` });
    });
  }
  if (!config.secrets.dir) problems.push({ key: 'RAMPART_SECRETS_DIR', source: 'default', message: 'production needs a mounted secrets directory' });
  if (config.database.url === 'memory://') problems.push({ key: 'DATABASE_URL', source: 'env', message: 'memory:// loses all data on restart' });
  const hasTls = Boolean(config.http.tls.certFile && config.http.tls.keyFile);
  if (!hasTls && !config.http.trustProxy && !LOOPBACK.has(config.http.host)) {
    problems.push({ key: 'RAMPART_TLS_CERT', source: 'default', message: `listening on ${config.http.host} without TLS; give --tls-cert/--tls-key or run behind a TLS proxy (RAMPART_TRUST_PROXY=true)` });
  }
  // One trusted issuer: the OIDC issuer, discovery, redirects and mail links all come from the
  // public URL, and requests for any other host are refused (http/public-host.ts). OIDC Discovery
  // requires an https issuer.
  if (!config.http.publicUrl) problems.push({ key: 'RAMPART_PUBLIC_URL', source: 'default', message: 'production needs the public URL (https://…): the OIDC issuer and the origin of every link Rampart sends' });
  else if (new URL(config.http.publicUrl).protocol !== 'https:') problems.push({ key: 'RAMPART_PUBLIC_URL', source: 'config', message: 'production serves its public URL over https' });
  if (config.demo.seed) problems.push({ key: 'RAMPART_DEMO', source: 'env', message: 'the demo tenant must not be seeded in production' });
  if (billingPspOf(config) === 'sandbox') problems.push({ key: 'billing.psp', source: 'config', message: 'the sandbox PSP takes test cards only; set billing.psp to "stripe" (RAMPART_BILLING_PSP) with the stripe_secret_key secret' });
  if (config.apps.requireApproval === false) problems.push({ key: 'apps.requireApproval', source: 'config', message: 'production applies app-spec plans only after a second admin approves them (DE-4); remove the setting' });
  if (mailTransportOf(config) === 'outbox') problems.push({ key: 'mail.transport', source: 'config', message: 'the outbox keeps mail in memory and shows it on an open page; configure mail.smtpUrl (RAMPART_SMTP_URL)' });
  return problems;
}

/**
 * Where a development secret generated on first use is kept (DE-1): `<dataDir>/secrets/<name>`,
 * mode 0600, so every process on this data directory (the server, the CLI, a restart, a second
 * node on the same PostgreSQL run from here) shares one master key, pepper and signing key.
 * Undefined in production (which never generates secrets) and with an in-memory database (whose
 * data goes with the process, so its secrets may too).
 */
export function developmentSecretFile(config: RampartConfig, name: string): string | undefined {
  if (config.env === 'production' || config.database.url === 'memory://') return undefined;
  return join(config.dataDir, 'secrets', name);
}

/** DE-4: whether app-spec plans wait for a second admin: always in production, elsewhere when turned on. */
export function planApprovalRequired(config: RampartConfig): boolean {
  return config.env === 'production' || config.apps.requireApproval === true;
}

/** The payment provider in effect: explicit, else the sandbox outside production and none in production. */
export function billingPspOf(config: RampartConfig): 'sandbox' | 'stripe' | 'disabled' {
  return config.billing.psp ?? (config.env === 'production' ? 'disabled' : 'sandbox');
}

/** The mail transport in effect: explicit, else smtp with a URL, else the outbox (development) or disabled (production). */
export function mailTransportOf(config: RampartConfig): 'smtp' | 'outbox' | 'disabled' {
  return config.mail.transport ?? (config.mail.smtpUrl ? 'smtp' : config.env === 'production' ? 'disabled' : 'outbox');
}

export function tlsConfigProblems(config: RampartConfig): ConfigIssue[] {
  const { certFile, keyFile } = config.http.tls;
  if (Boolean(certFile) !== Boolean(keyFile)) return [{ key: certFile ? 'RAMPART_TLS_KEY' : 'RAMPART_TLS_CERT', source: 'config', message: 'TLS needs both a certificate and a key' }];
  return [];
}
