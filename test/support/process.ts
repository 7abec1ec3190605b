import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls, { type ConnectionOptions } from 'node:tls';
import { fileURLToPath } from 'node:url';

/**
 * Drives the real `rampart` executable as a child process: `node bin/rampart.js …`, which runs
 * the TypeScript sources through tsx. Each test gets its own launcher state (temp dirs, children)
 * and `cleanup()` kills whatever is still running, so a failed assertion never leaks a server.
 */

export const RAMPART_BIN = fileURLToPath(new URL('../../bin/rampart.js', import.meta.url));

/** Startup of the embedded database (PGlite initdb) takes seconds; this is a ceiling, not an expectation. */
export const STARTUP_TIMEOUT_MS = 60_000;

/**
 * The whole environment a child sees. Nothing is inherited beyond PATH and HOME, so a developer's
 * RAMPART_* or DATABASE_URL can never change what a test exercises.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), RAMPART_LOG_LEVEL: 'warn', ...extra };
}

export type Exit = { code: number | null; signal: NodeJS.Signals | null };
export type CliResult = Exit & { stdout: string; stderr: string };

export type RampartProcess = {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  isRunning(): boolean;
  /** Resolves on exit once stdout and stderr are fully read. */
  readonly exited: Promise<Exit>;
  /** The first match of `pattern` on stdout; rejects if the process exits first or on timeout. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
};

export type StartOptions = { args: string[]; cwd: string; env?: Record<string, string> };

const tail = (text: string, lines = 30): string => text.trimEnd().split('\n').slice(-lines).join('\n');

export function describeOutput(p: Pick<RampartProcess, 'stdout' | 'stderr'>): string {
  return `--- stdout ---\n${tail(p.stdout())}\n--- stderr ---\n${tail(p.stderr())}`;
}

export const describeResult = (result: CliResult): string => describeOutput({ stdout: () => result.stdout, stderr: () => result.stderr });

export function createLauncher() {
  const children = new Set<RampartProcess>();
  const dirs = new Set<string>();

  function tempDir(prefix = 'rampart-cli-'): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.add(dir);
    return dir;
  }

  function start({ args, cwd, env = {} }: StartOptions): RampartProcess {
    const child = spawn(process.execPath, [RAMPART_BIN, ...args], { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let exit: Exit | undefined;
    const listeners = new Set<() => void>();
    const notify = () => listeners.forEach((listener) => listener());
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      notify();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
      notify();
    });
    const exited = new Promise<Exit>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => {
        exit = { code, signal };
        notify();
        resolve(exit);
      });
    });
    exited.catch(() => {}); // observed by callers; never an unhandled rejection

    const handle: RampartProcess = {
      child,
      stdout: () => out,
      stderr: () => err,
      isRunning: () => child.exitCode === null && child.signalCode === null,
      exited,
      waitForStdout(pattern, timeoutMs = STARTUP_TIMEOUT_MS) {
        return new Promise((resolve, reject) => {
          const check = () => {
            const match = pattern.exec(out);
            if (match) return done(() => resolve(match));
            if (exit) return done(() => reject(new Error(`rampart ${args.join(' ')} exited (code ${exit?.code}, signal ${exit?.signal}) before printing ${pattern}\n${describeOutput(handle)}`)));
          };
          const timer = setTimeout(() => done(() => reject(new Error(`rampart ${args.join(' ')} printed no ${pattern} within ${timeoutMs} ms\n${describeOutput(handle)}`))), timeoutMs);
          const done = (settle: () => void) => {
            clearTimeout(timer);
            listeners.delete(check);
            settle();
          };
          listeners.add(check);
          check();
        });
      },
    };
    children.add(handle);
    return handle;
  }

  /** Runs a command to completion; a command that outlives `timeoutMs` is killed and fails the test. */
  async function run(options: StartOptions & { timeoutMs?: number }): Promise<CliResult> {
    const p = start(options);
    const timeoutMs = options.timeoutMs ?? STARTUP_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        p.child.kill('SIGKILL');
        reject(new Error(`rampart ${options.args.join(' ')} did not finish within ${timeoutMs} ms\n${describeOutput(p)}`));
      }, timeoutMs);
    });
    try {
      const exit = await Promise.race([p.exited, timedOut]);
      return { ...exit, stdout: p.stdout(), stderr: p.stderr() };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills every child still running (SIGKILL: a hung shutdown must not hang the suite) and removes the temp dirs. */
  async function cleanup(): Promise<void> {
    const running = [...children].filter((p) => p.isRunning());
    for (const p of running) p.child.kill('SIGKILL');
    await Promise.allSettled(running.map((p) => p.exited));
    children.clear();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    dirs.clear();
  }

  return { tempDir, start, run, cleanup };
}

export type Launcher = ReturnType<typeof createLauncher>;

/** The parsed pino lines of an output (Rampart logs JSON to stdout); other lines are skipped. */
export function logRecords(text: string): Array<Record<string, unknown> & { msg?: string; level?: string }> {
  return text.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown> & { msg?: string; level?: string }];
    } catch {
      return [];
    }
  });
}

export const logMessages = (text: string): string[] => logRecords(text).flatMap((r) => (typeof r.msg === 'string' ? [r.msg] : []));

export type HttpResponse = { status: number; headers: IncomingHttpHeaders; body: string };

/** A GET on a fresh connection (no keep-alive pool to outlive the test); https accepts the self-signed test certificate. */
export function httpGet(url: string, timeoutMs = 10_000): Promise<HttpResponse> {
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.get(target, { agent: false, rejectUnauthorized: false, timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
  });
}

/** Opens and immediately closes a TCP connection: 'connected', or the error code (ECONNREFUSED, …). */
export function probeTcp(port: number, host: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.setTimeout(5_000, () => socket.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

export type HandshakeResult = { ok: true; protocol: string | null } | { ok: false; code: string; message: string };

/** A TLS handshake only (no HTTP): which protocol was negotiated, or why it failed. */
export function tlsHandshake(options: ConnectionOptions): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    const socket = tls.connect(options);
    socket.setTimeout(10_000, () => socket.destroy(Object.assign(new Error('handshake timed out'), { code: 'ETIMEDOUT' })));
    socket.once('secureConnect', () => {
      const protocol = socket.getProtocol();
      socket.destroy();
      resolve({ ok: true, protocol });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, code: error.code ?? 'unknown', message: error.message }));
  });
}

/** A port nothing listens on right now (bound and released; another process could still take it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
