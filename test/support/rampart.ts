import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyRequest, InjectOptions } from 'fastify';
import { inject } from 'vitest';
import { createRampart, type CreateRampartOptions, type Rampart } from '../../src/app.js';
import { loadConfig, type RampartConfigInput } from '../../src/core/index.js';
import { openDatabase, type Database } from '../../src/db/index.js';
import type { Authenticator, Principal } from '../../src/http/index.js';

let template: Blob | undefined;

/** The migrated embedded template built by the global setup. */
export async function templateDataDir(): Promise<Blob> {
  template ??= new Blob([await readFile(inject('pgliteTemplate'))]);
  return template;
}

/** A fresh, migrated, in-memory embedded database. */
export async function testDatabase(): Promise<Database> {
  return openDatabase({ url: 'memory://', loadDataDir: await templateDataDir() });
}

let dataDir: string | undefined;
/**
 * One data directory per test worker: on PostgreSQL, generated development secrets live there
 * (developmentSecretFile), shared by every Rampart the worker builds, as by the processes of one
 * deployment. In memory nothing is written.
 */
const workerDataDir = () => (dataDir ??= mkdtempSync(join(tmpdir(), 'rampart-test-data-')));

export function testConfig(overrides: RampartConfigInput = {}) {
  const onDisk = overrides.database?.url !== undefined && overrides.database.url !== 'memory://';
  return loadConfig({
    env: {},
    cwd: '/nonexistent-rampart-test-dir',
    overrides: {
      ...(onDisk ? { dataDir: workerDataDir() } : {}),
      env: 'test',
      database: { url: 'memory://' },
      log: { level: 'silent' },
      jobs: { enabled: false },
      demo: { seed: false },
      ...overrides,
    } as RampartConfigInput,
  });
}

/** A whole Rampart in memory: embedded database from the template, silent log, no listener. */
export async function testRampart(options: Partial<CreateRampartOptions> & { configOverrides?: RampartConfigInput } = {}): Promise<Rampart> {
  const { configOverrides, ...rest } = options;
  const rampart = await createRampart({ config: testConfig(configOverrides), env: {}, loadDataDir: await templateDataDir(), ...rest });
  addressPublicHost(rampart);
  return rampart;
}

/**
 * With a public URL configured, Rampart answers only for its host (421 otherwise). Requests a test
 * injects address that host unless they name one themselves, as a browser on the public URL would.
 */
function addressPublicHost(rampart: Rampart): void {
  const publicUrl = rampart.config.http.publicUrl;
  if (!publicUrl) return;
  const host = new URL(publicUrl).host;
  const app = rampart.server.app;
  const inject = app.inject.bind(app);
  app.inject = ((options?: InjectOptions | string, callback?: unknown) => {
    if (options === undefined || typeof options === 'string' || callback !== undefined) return (inject as (...args: unknown[]) => unknown)(options, callback);
    return inject({ ...options, headers: { host, ...(options.headers ?? {}) } });
  }) as typeof app.inject;
}

/** Authenticates `Authorization: Bearer <token>` against a fixed table of test principals. */
export function bearerAuthenticator(principals: Record<string, Principal>): Authenticator {
  return async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    return (token && principals[token]) || null;
  };
}
