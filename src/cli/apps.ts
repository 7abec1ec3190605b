import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { createApps, installedResources, lintSpec, parseSpecText, type Finding, type PlanView } from '../apps/index.js';
import { createAuditLog } from '../audit/index.js';
import { createAuthz } from '../authz/index.js';
import { isUuid, planApprovalRequired, systemClock, type RampartConfig } from '../core/index.js';
import { findTenantBySlug, migrationStatus, migrations, type Actor, type Database } from '../db/index.js';

/**
 * `rampart app lint|plan|apply|approve` (DE-4). Lint works offline on a file; the others act on a
 * tenant's database like the admin API does, with the same checks: in production a plan applies
 * only after another person approved it, destructive steps need --confirm-destructive, every step
 * is audited with the CLI user as actor.
 */

export type AppCliContext = {
  out: (text: string) => void;
  err: (text: string) => void;
  config: () => RampartConfig;
  open: (config: RampartConfig) => Promise<{ db: Database }>;
  actor: () => Actor;
  usage: (message: string) => Error;
  action: <A extends unknown[]>(fn: (...args: A) => Promise<number>) => (...args: A) => Promise<void>;
};

async function readSpec(ctx: AppCliContext, file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw ctx.usage(`cannot read ${file}`);
  }
  try {
    return parseSpecText(text);
  } catch (error) {
    throw ctx.usage(`${file} is not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
}

const printFindings = (ctx: AppCliContext, file: string, findings: Finding[]) => {
  for (const f of findings) ctx.out(`${file}: ${f.severity} ${f.code} at ${f.pointer}: ${f.message}\n`);
};

function printPlan(ctx: AppCliContext, plan: PlanView): void {
  ctx.out(`plan ${plan.id}: ${plan.app} ${plan.fromVersion ?? '(new)'} -> ${plan.toVersion}, ${plan.status}${plan.destructive ? ', DESTRUCTIVE' : ''}\n`);
  for (const step of plan.steps) ctx.out(`  ${step.destructive ? '!' : '+'} ${step.summary}\n`);
  ctx.out(`  plan hash ${plan.planHash}\n`);
}

async function withApps<T>(ctx: AppCliContext, tenantSlug: string, fn: (apps: ReturnType<typeof createApps>, tenantId: string) => Promise<T>): Promise<T> {
  const config = ctx.config();
  const { db } = await ctx.open(config);
  try {
    const status = await migrationStatus(db, migrations);
    if (status.pending.length) throw ctx.usage('the database is not migrated yet: run `rampart migrate`');
    const tenant = await findTenantBySlug(db, tenantSlug);
    if (!tenant) throw ctx.usage(`no tenant with slug "${tenantSlug}"`);
    const audit = createAuditLog();
    const authz = createAuthz({ db, audit, tenantResources: installedResources });
    return await fn(createApps({ db, audit, authz, clock: systemClock, requireApproval: planApprovalRequired(config) }), tenant.id);
  } finally {
    await db.close();
  }
}

type Flags = { tenant: string; justification?: string; confirmDestructive?: boolean; json?: boolean };

export function registerAppCommands(program: Command, ctx: AppCliContext): void {
  const app = program.command('app').description('app specs: lint, plan, approve and apply (DE-4)');
  app
    .command('lint <file>')
    .description('check an app spec (YAML or JSON); exit 1 on findings')
    .option('--json', 'JSON output')
    .action(
      ctx.action(async (file: string, flags: { json?: boolean }) => {
        const result = lintSpec(await readSpec(ctx, file));
        if (flags.json) ctx.out(`${JSON.stringify({ ok: result.ok, findings: result.findings }, null, 2)}\n`);
        else if (result.findings.length) printFindings(ctx, file, result.findings);
        else ctx.out(`${file}: ok\n`);
        return result.ok ? 0 : 1;
      }),
    );
  app
    .command('plan <file>')
    .description('lint the spec and store its migration plan for a tenant (prints the steps)')
    .requiredOption('--tenant <slug>', 'tenant slug')
    .option('--justification <text>', 'why (at least 10 characters)')
    .option('--json', 'JSON output (includes the generated SQL)')
    .action(
      ctx.action(async (file: string, flags: Flags) => {
        const spec = await readSpec(ctx, file);
        return withApps(ctx, flags.tenant, async (apps, tenantId) => {
          const plan = await apps.plan({ tenantId, actor: ctx.actor(), spec, justification: flags.justification });
          if (flags.json) ctx.out(`${JSON.stringify(plan, null, 2)}\n`);
          else printPlan(ctx, plan);
          return 0;
        });
      }),
    );
  app
    .command('approve <plan-id>')
    .description('approve a pending plan (another person than its author)')
    .requiredOption('--tenant <slug>', 'tenant slug')
    .option('--justification <text>', 'why (at least 10 characters)')
    .action(
      ctx.action(async (planId: string, flags: Flags) => {
        if (!isUuid(planId)) throw ctx.usage('approve takes a plan id (UUID)');
        return withApps(ctx, flags.tenant, async (apps, tenantId) => {
          printPlan(ctx, await apps.approve({ tenantId, actor: ctx.actor(), planId, justification: flags.justification }));
          return 0;
        });
      }),
    );
  app
    .command('apply <file-or-plan-id>')
    .description('apply a stored plan, or plan and apply a spec file, in one transaction')
    .requiredOption('--tenant <slug>', 'tenant slug')
    .option('--justification <text>', 'why (at least 10 characters)')
    .option('--confirm-destructive', 'allow drops and type changes')
    .action(
      ctx.action(async (target: string, flags: Flags) => {
        const spec = isUuid(target) ? undefined : await readSpec(ctx, target);
        return withApps(ctx, flags.tenant, async (apps, tenantId) => {
          const actor = ctx.actor();
          const planId = spec === undefined ? target : (await apps.plan({ tenantId, actor, spec, justification: flags.justification })).id;
          printPlan(ctx, await apps.apply({ tenantId, actor, planId, confirmDestructive: flags.confirmDestructive === true, justification: flags.justification }));
          return 0;
        });
      }),
    );
}
