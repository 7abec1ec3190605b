import type { FastifyInstance } from 'fastify';
import { RampartError, systemClock, type Clock, type Logger } from '../core/index.js';
import type { AuditLog } from '../audit/index.js';
import type { Database, JobQueue } from '../db/index.js';
import type { RouteDefinition } from '../http/index.js';
import { registerBillingJobs } from './jobs.js';
import { createSandboxPsp, type SandboxPsp } from './psp/sandbox.js';
import { createStripePsp, type StripePspOptions } from './psp/stripe.js';
import type { PaymentProvider } from './psp/types.js';
import { billingRoutes } from './routes.js';
import { webhookDocumentation, webhookMount } from './webhooks/mount.js';
import { DEFAULT_TOLERANCE_SECONDS } from './webhooks/signature.js';
import type { BillingDeps, NoticeMailer } from './types.js';

/**
 * Builds billing for the composition root: the PSP (the sandbox by default, Stripe when
 * configured), the routes, the raw-body webhook mount and the jobs. The sandbox is a development
 * and test provider: production refuses it (loud insecure default).
 */

export type Billing = {
  deps: BillingDeps;
  sandbox: SandboxPsp | undefined;
  routes(): RouteDefinition[];
  mount(app: FastifyInstance): Promise<void>;
  /** The mounted webhook route as a definition, for the OpenAPI document only (it is registered by `mount`). */
  documentedMounts(): RouteDefinition[];
  close(): Promise<void>;
};

export type CreateBillingOptions = {
  db: Database;
  audit: AuditLog;
  jobs?: JobQueue;
  log: Logger;
  clock?: Clock;
  production: boolean;
  psp: 'sandbox' | 'stripe' | PaymentProvider;
  webhookSecrets: readonly string[];
  webhookToleranceSeconds?: number;
  stripe?: StripePspOptions;
  /** Sends customer notices (trials, dunning); identity's mailer in the composition root. */
  mailer?: NoticeMailer;
  /** Where the sandbox sends its webhooks (Rampart's own endpoint). */
  sandboxWebhookUrl?: string;
};

export function createBilling(options: CreateBillingOptions): Billing {
  if (options.webhookSecrets.length === 0 || options.webhookSecrets.some((s) => s.length < 16)) throw new RampartError('bad_request', { detail: 'billing needs webhook signing secrets of at least 16 characters' });
  if (options.production && options.psp === 'sandbox') throw new RampartError('bad_request', { detail: 'the sandbox PSP is for development only; production needs billing.psp = "stripe"' });
  const clock = options.clock ?? systemClock;
  let sandbox: SandboxPsp | undefined;
  let psp: PaymentProvider;
  if (options.psp === 'sandbox') {
    sandbox = createSandboxPsp({ webhookSecrets: options.webhookSecrets, clock, log: options.log, ...(options.sandboxWebhookUrl ? { webhookUrl: options.sandboxWebhookUrl } : {}) });
    psp = sandbox;
  } else if (options.psp === 'stripe') {
    if (!options.stripe) throw new RampartError('bad_request', { detail: 'billing.psp is stripe but no stripe_secret_key is configured' });
    psp = createStripePsp(options.stripe);
  } else psp = options.psp;
  const deps: BillingDeps = { db: options.db, audit: options.audit, psp, clock, log: options.log, webhookSecrets: options.webhookSecrets, webhookToleranceSeconds: options.webhookToleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS, ...(options.jobs ? { jobs: options.jobs } : {}), ...(options.mailer ? { mailer: options.mailer } : {}) };
  if (options.jobs) registerBillingJobs(options.jobs, deps);
  return {
    deps,
    sandbox,
    routes: () => billingRoutes(deps),
    mount: webhookMount(deps),
    documentedMounts: () => [webhookDocumentation],
    close: async () => sandbox?.close(),
  };
}
