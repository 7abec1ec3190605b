import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../core/index.js';

/**
 * The local admin channel: how a CLI command reaches the server that holds the embedded data
 * directory's lock (only one process may open it). A Unix domain socket inside the data directory,
 * mode 0600, answers only a caller that presents the token the server wrote next to it (mode 0600,
 * new at every start): reading that file is proof of being the data directory's owner (or root).
 * The server runs the CLI's own command code with its open database, so the operation, its checks
 * and its audit event (actor `cli:<user>`) are the same as a local run.
 *
 * One request per connection, newline-terminated JSON both ways.
 */

export const ADMIN_SOCKET = 'admin.sock';
export const ADMIN_TOKEN = 'admin.token';
const MAX_REQUEST_BYTES = 64 * 1024;
/** sun_path is 108 bytes on Linux, 104 on macOS; a longer path cannot be bound. */
const MAX_SOCKET_PATH = 100;

export type AdminRequest = { argv: string[]; user: string };
export type AdminResponse = { code: number; out: string; err: string };

export type AdminChannel = { readonly path: string; close(): Promise<void> };

export class AdminChannelUnavailable extends Error {}

const parseRequest = (line: string): (AdminRequest & { token: string }) | undefined => {
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    const { token, argv, user } = value;
    if (typeof token !== 'string' || typeof user !== 'string' || !Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) return undefined;
    return { token, argv: argv as string[], user: user.slice(0, 64) };
  } catch {
    return undefined;
  }
};

const sameToken = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Listens on `<dataDir>/admin.sock`. The caller holds the data directory's lock, so a socket or
 * token left there belongs to a dead server and is replaced. Undefined when the path is too long.
 */
export async function openAdminChannel({ dataDir, log, handle }: { dataDir: string; log: Logger; handle: (request: AdminRequest) => Promise<AdminResponse> }): Promise<AdminChannel | undefined> {
  const path = join(dataDir, ADMIN_SOCKET);
  const tokenPath = join(dataDir, ADMIN_TOKEN);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    log.warn({ path }, 'the admin channel is off: the data directory path is too long for a Unix socket; CLI commands are refused while the server runs');
    return undefined;
  }
  for (const stale of [path, tokenPath]) if (existsSync(stale)) unlinkSync(stale);
  const token = randomBytes(32).toString('base64url');
  writeFileSync(tokenPath, `${token}\n`, { mode: 0o600, flag: 'wx' });

  const server = net.createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.setTimeout(30_000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_REQUEST_BYTES) return void socket.end(`${JSON.stringify({ code: 2, out: '', err: 'error: request too large\n' })}\n`);
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      socket.removeAllListeners('data');
      const request = parseRequest(buffer.slice(0, newline));
      if (!request || !sameToken(request.token, token)) {
        log.warn('admin channel: a request without the current token was refused');
        return void socket.end(`${JSON.stringify({ code: 2, out: '', err: 'error: not authorised on the admin channel\n' })}\n`);
      }
      socket.setTimeout(0);
      void handle({ argv: request.argv, user: request.user }).then(
        (response) => socket.end(`${JSON.stringify(response)}\n`),
        (error: unknown) => socket.end(`${JSON.stringify({ code: 1, out: '', err: `error: ${error instanceof Error ? error.message : String(error)}\n` })}\n`),
      );
    });
  });
  // The socket file is created with this mask (bind is synchronous inside listen), then pinned to 0600.
  const mask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(mask);
  }
  chmodSync(path, 0o600);
  return {
    path,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const file of [path, tokenPath]) if (existsSync(file)) unlinkSync(file);
    },
  };
}

/** Sends one command to the server holding `dataDir`; AdminChannelUnavailable when none answers. */
export async function callAdminChannel({ dataDir, request, timeoutMs = 120_000 }: { dataDir: string; request: AdminRequest; timeoutMs?: number }): Promise<AdminResponse> {
  const path = join(dataDir, ADMIN_SOCKET);
  let token: string;
  try {
    token = readFileSync(join(dataDir, ADMIN_TOKEN), 'utf8').trim();
  } catch (error) {
    throw new AdminChannelUnavailable(`no admin channel token (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  return new Promise<AdminResponse>((resolve, reject) => {
    const socket = net.connect(path);
    let answer = '';
    let connected = false;
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('the server did not answer on the admin channel in time')));
    socket.on('connect', () => {
      connected = true;
      socket.write(`${JSON.stringify({ token, ...request })}\n`);
    });
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => reject(connected ? error : new AdminChannelUnavailable(`cannot connect to ${path} (${error.code ?? error.message})`)));
    socket.on('close', () => {
      try {
        const parsed = JSON.parse(answer) as AdminResponse;
        resolve({ code: Number(parsed.code), out: String(parsed.out ?? ''), err: String(parsed.err ?? '') });
      } catch {
        reject(new Error('the server closed the admin channel without an answer'));
      }
    });
  });
}
