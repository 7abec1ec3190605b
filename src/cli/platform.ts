import type { Command } from 'commander';
import { createAuditLog } from '../audit/index.js';
import { createPlatformOperators } from '../authz/index.js';
import { migrationStatus, migrations, findTenantBySlug, type Actor, type Database } from '../db/index.js';
import type { RampartConfig } from '../core/index.js';

/**
 * `rampart platform operators|grant|revoke` (DESIGN "Scopes"): who operates the platform. The
 * grant lives outside every tenant and only the host (this CLI, or a server's admin channel)
 * writes it; an operator then reaches platform resources with a passkey session.
 */

export type PlatformCliContext = {
  out: (text: string) => void;
  config: () => RampartConfig;
  open: (config: RampartConfig) => Promise<{ db: Database }>;
  actor: () => Actor;
  usage: (message: string) => Error;
  action: <A extends unknown[]>(fn: (...args: A) => Promise<number>) => (...args: A) => Promise<void>;
};

async function withOperators<T>(ctx: PlatformCliContext, fn: (input: { db: Database; operators: ReturnType<typeof createPlatformOperators> }) => Promise<T>): Promise<T> {
  const { db } = await ctx.open(ctx.config());
  try {
    const status = await migrationStatus(db, migrations);
    if (status.pending.length) throw ctx.usage('the database is not migrated yet: run `rampart migrate`');
    return await fn({ db, operators: createPlatformOperators({ db, audit: createAuditLog() }) });
  } finally {
    await db.close();
  }
}

async function account(ctx: PlatformCliContext, db: Database, flags: { tenant: string; email: string }): Promise<{ tenantId: string; userId: string }> {
  const tenant = await findTenantBySlug(db, flags.tenant);
  if (!tenant) throw ctx.usage(`no tenant with slug "${flags.tenant}"`);
  const user = await db.owner.selectFrom('users').select('id').where('tenant_id', '=', tenant.id).where('email', '=', flags.email.trim().toLowerCase()).executeTakeFirst();
  if (!user) throw ctx.usage(`no account ${flags.email} in tenant ${flags.tenant}`);
  return { tenantId: tenant.id, userId: user.id };
}

export function registerPlatformCommands(program: Command, ctx: PlatformCliContext): void {
  const platform = program.command('platform').description('platform operators: who may reach signing keys, jobs and the outbox');
  platform
    .command('operators')
    .description('list the platform operators')
    .option('--json', 'JSON output')
    .action(
      ctx.action(async (flags: { json?: boolean }) =>
        withOperators(ctx, async ({ operators }) => {
          const list = await operators.list();
          if (flags.json) ctx.out(`${JSON.stringify(list, null, 2)}\n`);
          else ctx.out(list.length ? `${list.map((o) => `${o.accountTenantId}/${o.accountUserId}  granted by ${o.grantedBy} at ${o.grantedAt.toISOString()}`).join('\n')}\n` : 'no platform operators\n');
          return 0;
        }),
      ),
    );
  for (const verb of ['grant', 'revoke'] as const) {
    platform
      .command(verb)
      .description(verb === 'grant' ? 'make an account a platform operator (it signs in with a passkey to use it); audited' : 'take the platform role from an account; audited')
      .requiredOption('--tenant <slug>', 'the tenant the account belongs to')
      .requiredOption('--email <email>', 'the account')
      .requiredOption('--justification <text>', 'why (recorded in the audit log)')
      .action(
        ctx.action(async (flags: { tenant: string; email: string; justification: string }) =>
          withOperators(ctx, async ({ db, operators }) => {
            const { tenantId, userId } = await account(ctx, db, flags);
            const input = { accountTenantId: tenantId, accountUserId: userId, actor: ctx.actor(), justification: flags.justification };
            if (verb === 'grant') ctx.out((await operators.grant(input)).granted ? `${flags.email} is now a platform operator\n` : `${flags.email} already was a platform operator\n`);
            else ctx.out((await operators.revoke(input)).revoked ? `${flags.email} is no longer a platform operator\n` : `${flags.email} was not a platform operator\n`);
            return 0;
          }),
        ),
      );
  }
}
