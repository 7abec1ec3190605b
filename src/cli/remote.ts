import { userInfo } from 'node:os';
import type { DataDirLockedError } from '../db/index.js';
import { AdminChannelUnavailable, callAdminChannel } from './admin-channel.js';

/**
 * What the CLI does when the embedded data directory is locked by another process: a running
 * server gets the command over its admin channel (admin-channel.ts) when the command is one the
 * channel accepts; anything else is refused with the holder's pid and where to go instead.
 */

/** Commands a running server runs for the CLI. Not: serve, migrate (stop the server), app plan/apply (read a local file). */
export const FORWARDED_COMMANDS: ReadonlySet<string> = new Set([
  'keys list',
  'keys rotate',
  'matrix show',
  'matrix set',
  'jobs',
  'drift',
  'audit verify',
  'audit checkpoint',
  'app approve',
  'platform operators',
  'platform grant',
  'platform revoke',
  'billing customers',
  'billing subscriptions',
  'billing invoices',
  'billing finalize',
  'billing void',
  'billing renew',
  'billing verify-numbering',
]);

/** `keys rotate --justification x` -> `keys rotate`; `jobs --retry id` -> `jobs`. */
export function commandPath(argv: readonly string[]): string {
  const [first = '', second] = argv;
  const two = second !== undefined && !second.startsWith('-') ? `${first} ${second}` : undefined;
  return two ?? first;
}

export const isForwardable = (argv: readonly string[]): boolean => FORWARDED_COMMANDS.has(commandPath(argv));

type Io = { out: (text: string) => void; err: (text: string) => void };

export async function forwardToServer({ argv, io, locked }: { argv: string[]; io: Io; locked: DataDirLockedError }): Promise<number> {
  const { holder, dataDir } = locked;
  const command = `rampart ${commandPath(argv)}`;
  const refuse = (why: string) => {
    io.err(`error: ${locked.message}.\n  ${why}\n`);
    return 1;
  };
  if (holder.role !== 'serve') return refuse(`\`${command}\` did not open it; run it again once that command has finished.`);
  const elsewhere = 'Use the admin API or the dashboard (/dashboard) of that server, or stop it and run the command again.';
  if (!isForwardable(argv)) return refuse(`\`${command}\` does not run through a running server. ${elsewhere}`);
  try {
    const response = await callAdminChannel({ dataDir, request: { argv, user: userInfo().username } });
    io.err(`(run by the server holding ${dataDir}, pid ${holder.pid})\n`);
    io.out(response.out);
    io.err(response.err);
    return response.code;
  } catch (error) {
    if (error instanceof AdminChannelUnavailable) return refuse(`Its admin channel does not answer (${error.message}). ${elsewhere}`);
    throw error;
  }
}
