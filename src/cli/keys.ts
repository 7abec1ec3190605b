import type { Command } from 'commander';
import { createAuditLog } from '../audit/index.js';
import { developmentSecretFile, loadMasterKeyRing, requireJustification, systemClock, type Logger, type RampartConfig, type SecretsProvider } from '../core/index.js';
import { migrationStatus, migrations, type Actor, type Database } from '../db/index.js';
import { createSigningKeys, type SigningKeyView } from '../identity/index.js';

/**
 * `rampart keys list|rotate` (control ID-3): the OIDC token signing keys. A rotation is one
 * command: the staged key (published in JWKS since the last rotation) starts signing, the current
 * one is retired but stays published until every token it signed has expired, a new key is staged,
 * and the rotation is an audit event with the operator and their justification. Running servers
 * pick the new key up within a minute (a server that ran the command over its admin channel, at once).
 * A key sealed under a master key the CLI does not hold is refused, never retired.
 */

export type KeysCliContext = {
  out: (text: string) => void;
  config: () => RampartConfig;
  open: (config: RampartConfig) => Promise<{ db: Database; log: Logger; secrets: SecretsProvider }>;
  actor: () => Actor;
  usage: (message: string) => Error;
  action: <A extends unknown[]>(fn: (...args: A) => Promise<number>) => (...args: A) => Promise<void>;
};

async function withKeys<T>(ctx: KeysCliContext, fn: (keys: ReturnType<typeof createSigningKeys>) => Promise<T>): Promise<T> {
  const config = ctx.config();
  const { db, log, secrets } = await ctx.open(config);
  try {
    const status = await migrationStatus(db, migrations);
    if (status.pending.length) throw ctx.usage('the database is not migrated yet: run `rampart migrate`');
    const ring = await loadMasterKeyRing({ secrets, production: config.env === 'production', devKeyFile: developmentSecretFile(config, 'master_key'), log });
    const keys = createSigningKeys({
      db,
      ring,
      audit: createAuditLog(),
      clock: systemClock,
      log,
      rotationIntervalSeconds: config.oidc.keyRotationDays * 86_400,
      retiredKeyRetentionSeconds: Math.max(config.oidc.retiredKeyRetentionSeconds, config.oidc.idTokenTtlSeconds, config.oidc.accessTokenTtlSeconds),
      production: config.env === 'production',
      retireForeignKeys: false,
    });
    return await fn(keys);
  } finally {
    await db.close();
  }
}

const render = (keys: SigningKeyView[]) =>
  `${keys.map((k) => `${k.status.padEnd(8)} ${k.alg.padEnd(6)} ${k.kid}  created ${k.createdAt.toISOString()}${k.removeAfter ? `  removed after ${k.removeAfter.toISOString()}` : ''}`).join('\n')}\n`;

export function registerKeyCommands(program: Command, ctx: KeysCliContext): void {
  const keys = program.command('keys').description('OIDC token signing keys (ID-3)');
  keys
    .command('list')
    .description('every signing key: current (signs), next (published, staged), retired (published until removal)')
    .option('--json', 'JSON output')
    .action(
      ctx.action(async (flags: { json?: boolean }) =>
        withKeys(ctx, async (signing) => {
          // Read-only: listing never creates, retires or deletes a key.
          const list = await signing.list();
          if (!flags.json && !list.length) ctx.out('no signing keys yet: the server creates them at its first start (or run `rampart keys rotate`)\n');
          else ctx.out(flags.json ? `${JSON.stringify(list, null, 2)}\n` : render(list));
          return 0;
        }),
      ),
    );
  keys
    .command('rotate')
    .description('promote the staged key, retire the current one, stage a new one; audited')
    .requiredOption('--justification <text>', 'why (at least 10 characters; recorded in the audit log)')
    .action(
      ctx.action(async (flags: { justification: string }) => {
        const justification = requireJustification(flags.justification);
        return withKeys(ctx, async (signing) => {
          const result = await signing.rotate({ actor: ctx.actor(), reason: justification });
          ctx.out(`rotated: now signing with ${result.activated.join(', ')}; retired ${result.retired.join(', ') || 'nothing'}; staged ${result.staged.join(', ')}\n`);
          return 0;
        });
      }),
    );
}
