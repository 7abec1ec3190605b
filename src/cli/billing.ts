import { Option, type Command } from 'commander';
import { createAuditLog } from '../audit/index.js';
import { billingTables, createBilling, finalizeInvoice, formatAmount, fromDb, safeJson, verifyNumbering, voidInvoice, type NumberingReport, type PaymentProvider } from '../billing/index.js';
import { isUuid, RampartError, requireJustification, systemClock, type Logger, type RampartConfig, type SecretsProvider } from '../core/index.js';
import { createJobQueue, findTenantBySlug, listTenants, migrationStatus, migrations, unsafeAsSystem, withTenant, type Actor, type Database, type Tenant, type TenantTransaction as Tx } from '../db/index.js';

/**
 * `rampart billing …` (BI-2, BI-3, BI-5): what an operator needs without the admin UI. Lists are
 * read-only tenant transactions (RLS applies as for the API). Finalize and void run the same
 * operations as the API, in one transaction with their audit event, the CLI user as actor.
 * `renew` queues a renewal and dunning run on the shared job queue, for the server to run now with
 * its payment provider (the sandbox's card tokens live in the server's memory, and the job queue
 * lets exactly one node take the run); the request itself is audited. `verify-numbering` exits 1
 * when a series has a gap, a duplicate, an orphaned number or a half-finalized invoice.
 * Exit codes as everywhere: 0 done, 1 failed (or problems found), 2 invalid usage.
 */

export type BillingCliContext = {
  out: (text: string) => void;
  err: (text: string) => void;
  config: () => RampartConfig;
  open: (config: RampartConfig) => Promise<{ db: Database; log: Logger; secrets: SecretsProvider }>;
  actor: () => Actor;
  usage: (message: string) => Error;
  action: <A extends unknown[]>(fn: (...args: A) => Promise<number>) => (...args: A) => Promise<void>;
};

/** The CLI never moves money: finalize and void do not call the provider, and renewals run on the server. */
const noPayments: PaymentProvider = {
  name: 'sandbox',
  charge: () => Promise.reject(new Error('the billing CLI does not charge; renewals run on the server')),
  refund: () => Promise.reject(new Error('the billing CLI does not refund')),
  createSetupSession: () => Promise.reject(new Error('the billing CLI does not open setup sessions')),
};

type Session = { db: Database; log: Logger; tenant: Tenant | undefined; deps: ReturnType<typeof createBilling>['deps'] };

async function withBilling<T>(ctx: BillingCliContext, tenantSlug: string | undefined, fn: (session: Session) => Promise<T>): Promise<T> {
  const config = ctx.config();
  const { db, log } = await ctx.open(config);
  try {
    const status = await migrationStatus(db, migrations);
    if (status.pending.length) throw ctx.usage('the database is not migrated yet: run `rampart migrate`');
    const tenant = tenantSlug === undefined ? undefined : await findTenantBySlug(db, tenantSlug);
    if (tenantSlug !== undefined && !tenant) throw ctx.usage(`no tenant with slug "${tenantSlug}"`);
    // Webhooks are never received here; the secret only satisfies the constructor's check.
    const billing = createBilling({ db, audit: createAuditLog(), log, clock: systemClock, production: config.env === 'production', psp: noPayments, webhookSecrets: ['the-cli-receives-no-webhooks'] });
    return await fn({ db, log, tenant, deps: billing.deps });
  } finally {
    await db.close();
  }
}

const tenantTx = <T>(session: Session, actor: Actor, fn: (tx: Tx) => Promise<T>, readOnly = false) => withTenant(session.db, { tenantId: session.tenant!.id, actor }, fn, { readOnly });

function limitOf(ctx: BillingCliContext, text: string): number {
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw ctx.usage('--limit must be a whole number from 1 to 200');
  return limit;
}

const money = (amount: bigint | string, currency: string) => `${formatAmount(fromDb(amount), currency)} ${currency}`;
const day = (date: Date | null) => (date ? date.toISOString().slice(0, 10) : '-');

/** Operation errors a person can act on (not a draft, not voidable, no such invoice) fail the command: exit 1. */
async function asCommand(ctx: BillingCliContext, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof RampartError && (error.code === 'conflict' || error.code === 'not_found')) {
      ctx.err(`error: ${error.detail ?? error.title}\n`);
      return 1;
    }
    throw error;
  }
}

function renderNumbering(report: NumberingReport, label: string): string {
  const lines = report.series.map((s) => `${s.document === 'invoice' ? 'invoices    ' : 'credit notes'} ${s.series.padEnd(6)} ${s.count} numbered, highest ${s.highest}, next ${s.nextNumber ?? '-'}`);
  for (const p of report.problems) lines.push(`PROBLEM ${p.kind} in ${p.series}: ${p.detail}`);
  lines.push(report.ok ? `${label}: numbering intact (no gap, no duplicate, no orphan)` : `${label}: NUMBERING BROKEN, ${report.problems.length} problem(s)`);
  return `${lines.join('\n')}\n`;
}

type ListFlags = { tenant: string; limit: string; status?: string; json?: boolean };

export function registerBillingCommands(program: Command, ctx: BillingCliContext): void {
  const billing = program.command('billing').description('billing: customers, subscriptions, invoices, renewals, numbering (BI-*)');

  billing
    .command('customers')
    .description("list a tenant's customers, newest first")
    .requiredOption('--tenant <slug>', 'tenant slug')
    .option('--limit <n>', 'how many (1-200)', '50')
    .option('--json', 'JSON output')
    .action(
      ctx.action(async (flags: ListFlags) => {
        const limit = limitOf(ctx, flags.limit);
        return withBilling(ctx, flags.tenant, async (session) => {
          const rows = await tenantTx(session, ctx.actor(), (tx) => billingTables(tx).selectFrom('billing_customers').select(['id', 'name', 'country', 'is_business', 'tax_id', 'tax_exempt', 'payment_method', 'balance', 'balance_currency', 'created_at']).orderBy('created_at', 'desc').limit(limit).execute(), true);
          // The PSP token is not card data, but it is not an operator's business either: shown as a flag.
          const items = rows.map(({ payment_method, ...row }) => ({ ...row, has_payment_method: payment_method !== null }));
          if (flags.json) ctx.out(`${safeJson(items)}\n`);
          else for (const c of items) ctx.out(`${c.id}  ${c.country}  ${c.is_business ? 'B2B' : 'B2C'}  ${c.has_payment_method ? 'card' : 'no card'}  balance ${c.balance_currency ? money(c.balance, c.balance_currency) : '0'}  ${c.name}\n`);
          return 0;
        });
      }),
    );

  billing
    .command('subscriptions')
    .description("list a tenant's subscriptions, newest first")
    .requiredOption('--tenant <slug>', 'tenant slug')
    .addOption(new Option('--status <status>', 'only this state').choices(['incomplete', 'trialing', 'active', 'past_due', 'paused', 'suspended', 'canceled']))
    .option('--limit <n>', 'how many (1-200)', '50')
    .option('--json', 'JSON output')
    .action(
      ctx.action(async (flags: ListFlags) => {
        const limit = limitOf(ctx, flags.limit);
        return withBilling(ctx, flags.tenant, async (session) => {
          const rows = await tenantTx(
            session,
            ctx.actor(),
            (tx) => {
              let query = billingTables(tx).selectFrom('billing_subscriptions').selectAll().orderBy('created_at', 'desc').limit(limit);
              if (flags.status) query = query.where('status', '=', flags.status as 'active');
              return query.execute();
            },
            true,
          );
          if (flags.json) ctx.out(`${safeJson(rows)}\n`);
          else for (const s of rows) ctx.out(`${s.id}  ${s.status.padEnd(10)} customer ${s.customer_id}  qty ${s.quantity}  period ${day(s.current_period_start)}..${day(s.current_period_end)}${s.status === 'past_due' ? `  retry ${s.dunning_attempt} at ${day(s.next_retry_at)}` : ''}${s.cancel_at_period_end ? '  cancels at period end' : ''}\n`);
          return 0;
        });
      }),
    );

  billing
    .command('invoices')
    .description("list a tenant's invoices, newest first")
    .requiredOption('--tenant <slug>', 'tenant slug')
    .addOption(new Option('--status <status>', 'only this state').choices(['draft', 'open', 'paid', 'uncollectible', 'void']))
    .option('--limit <n>', 'how many (1-200)', '50')
    .option('--json', 'JSON output')
    .action(
      ctx.action(async (flags: ListFlags) => {
        const limit = limitOf(ctx, flags.limit);
        return withBilling(ctx, flags.tenant, async (session) => {
          const rows = await tenantTx(
            session,
            ctx.actor(),
            (tx) => {
              let query = billingTables(tx).selectFrom('billing_invoices').select(['id', 'status', 'series', 'number', 'customer_id', 'subscription_id', 'kind', 'currency', 'total', 'amount_due', 'amount_paid', 'created_at', 'finalized_at']).orderBy('created_at', 'desc').limit(limit);
              if (flags.status) query = query.where('status', '=', flags.status as 'open');
              return query.execute();
            },
            true,
          );
          if (flags.json) ctx.out(`${safeJson(rows)}\n`);
          else for (const i of rows) ctx.out(`${i.id}  ${(i.number === null ? '(draft)' : `${i.series}-${i.number}`).padEnd(10)} ${i.status.padEnd(13)} total ${money(i.total, i.currency)}  due ${money(i.amount_due, i.currency)}  ${i.kind}\n`);
          return 0;
        });
      }),
    );

  billing
    .command('finalize <invoice-id>')
    .description('finalize a draft invoice: the next gapless number, frozen from then on; audited')
    .requiredOption('--tenant <slug>', 'tenant slug')
    .action(
      ctx.action(async (id: string, flags: { tenant: string }) => {
        if (!isUuid(id)) throw ctx.usage('the invoice id must be a UUID');
        return withBilling(ctx, flags.tenant, (session) =>
          asCommand(ctx, async () => {
            const actor = ctx.actor();
            const invoice = await tenantTx(session, actor, (tx) => finalizeInvoice(tx, session.deps, { tenantId: session.tenant!.id, actor }, id));
            ctx.out(`finalized ${invoice.id} as ${invoice.series}-${invoice.number}: ${invoice.status}, due ${money(invoice.amount_due, invoice.currency)}\n`);
            return 0;
          }),
        );
      }),
    );

  billing
    .command('void <invoice-id>')
    .description('void a same-day, never-sent, never-charged open invoice (a correction; it keeps its number); any other void is a write-off a second person approves through the API (BI-3)')
    .requiredOption('--tenant <slug>', 'tenant slug')
    .requiredOption('--justification <text>', 'why (at least 10 characters; recorded in the audit log)')
    .action(
      ctx.action(async (id: string, flags: { tenant: string; justification: string }) => {
        if (!isUuid(id)) throw ctx.usage('the invoice id must be a UUID');
        const justification = requireJustification(flags.justification);
        return withBilling(ctx, flags.tenant, (session) =>
          asCommand(ctx, async () => {
            const actor = ctx.actor();
            const invoice = await tenantTx(session, actor, (tx) => voidInvoice(tx, session.deps, { tenantId: session.tenant!.id, actor }, id, justification));
            ctx.out(`voided ${invoice.id} (${invoice.series}-${invoice.number})\n`);
            return 0;
          }),
        );
      }),
    );

  billing
    .command('renew')
    .description('queue a renewal and dunning run now (all tenants, or one); the server runs it with its payment provider; audited')
    .option('--tenant <slug>', 'only this tenant')
    .action(
      ctx.action(async (flags: { tenant?: string }) =>
        withBilling(ctx, flags.tenant, async (session) => {
          const actor = ctx.actor();
          const tenantId = session.tenant?.id ?? null;
          const jobs = createJobQueue({ db: session.db, log: session.log });
          const job = await unsafeAsSystem(session.db, { reason: 'an operator queues a billing renewal run', log: session.log }, async (trx) => {
            const queued = await jobs.enqueue({ kind: 'billing.renewals', payload: tenantId ? { tenant_id: tenantId } : {} }, trx);
            await session.deps.audit.record(trx, { tenantId, actor, action: 'billing.renewals.requested', target: { type: 'job', id: queued.id }, diff: { scope: { after: session.tenant?.slug ?? 'all tenants' } } });
            return queued;
          });
          ctx.out(`queued renewal run ${job.id} for ${session.tenant ? `tenant ${session.tenant.slug}` : 'all tenants'}; a running server takes it within seconds (see \`rampart jobs\`)\n`);
          return 0;
        }),
      ),
    );

  billing
    .command('verify-numbering')
    .description('check every invoice and credit-note series: 1..N, no gap, no duplicate, no orphan; exit 1 on a problem')
    .option('--tenant <slug>', 'only this tenant')
    .option('--json', 'JSON output')
    .action(
      ctx.action(async (flags: { tenant?: string; json?: boolean }) =>
        withBilling(ctx, flags.tenant, async (session) => {
          const tenants = session.tenant ? [session.tenant] : await listTenants(session.db);
          const reports: Array<{ tenant: string; report: NumberingReport }> = [];
          for (const tenant of tenants) reports.push({ tenant: tenant.slug, report: await withTenant(session.db, { tenantId: tenant.id, actor: ctx.actor() }, (tx) => verifyNumbering(tx), { readOnly: true }) });
          if (flags.json) ctx.out(`${safeJson(reports)}\n`);
          else for (const { tenant, report } of reports) ctx.out(renderNumbering(report, `tenant ${tenant}`));
          return reports.every((r) => r.report.ok) ? 0 : 1;
        }),
      ),
    );
}
