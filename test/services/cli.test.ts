import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createRampart, type Rampart } from '../../src/app.js';
import { run, type CliIo } from '../../src/cli/main.js';
import { loadConfig } from '../../src/core/index.js';
import { createScratchDatabase } from './pg-harness.js';

const missing = inject('servicesMissing');

/**
 * The CLI next to a development server on PostgreSQL without mounted secrets. Each process once
 * invented its own throwaway master key, so `keys list` and `keys rotate` retired and deleted the
 * server's signing keys. Generated development secrets now live in the data directory.
 */
describe.skipIf(missing.length > 0)('CLI and server on PostgreSQL share generated development secrets', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup() {
    const scratch = await createScratchDatabase();
    cleanups.push(scratch.drop);
    const cwd = await mkdtemp(join(tmpdir(), 'rampart-pg-cli-'));
    cleanups.push(() => rm(cwd, { recursive: true, force: true }));
    const env = { DATABASE_URL: scratch.url, RAMPART_LOG_LEVEL: 'silent', RAMPART_JOBS_ENABLED: 'false', RAMPART_DEMO: 'false' };
    const config = loadConfig({ env, cwd });
    expect(config.env).toBe('development');
    const server: Rampart = await createRampart({ config, env });
    cleanups.push(() => server.close());
    const cli = async (argv: string[]) => {
      let out = '';
      let err = '';
      const io: CliIo = { out: (t) => void (out += t), err: (t) => void (err += t), env, cwd };
      const code = await run(argv, io);
      return { code, out, err };
    };
    return { server, cli, cwd };
  }

  const statuses = async (server: Rampart) => (await server.oidc.keys.list()).map((k) => `${k.kid}:${k.status}`).sort();

  it('DE-1 keys list changes nothing and keys rotate keeps every server key loadable; a restart decrypts them', async () => {
    const { server, cli, cwd } = await setup();
    const before = await statuses(server);

    const list = await cli(['keys', 'list', '--json']);
    expect(list.code, list.err).toBe(0);
    expect(await statuses(server)).toEqual(before);

    const rotated = await cli(['keys', 'rotate', '--justification', 'drill on PostgreSQL in development']);
    expect(rotated.code, rotated.err).toBe(0);
    expect(await server.oidc.refreshKeys()).toBe(true);
    const after = await server.oidc.keys.list();
    expect(after.filter((k) => k.status === 'retired' && k.removeAfter && k.removeAfter.getTime() <= Date.now())).toEqual([]);
    // Every key the CLI wrote is sealed under the server's master key.
    expect((await server.oidc.keys.load()).length).toBe(after.length);

    const secrets = join(cwd, '.rampart', 'secrets');
    expect((await stat(secrets)).mode & 0o777).toBe(0o700);
    for (const name of await readdir(secrets)) expect({ name, mode: (await stat(join(secrets, name))).mode & 0o777 }).toEqual({ name, mode: 0o600 });

    const restarted = await createRampart({ config: server.config, env: {} });
    cleanups.push(() => restarted.close());
    expect((await restarted.oidc.keys.load()).length).toBe(after.length);
  });

  it('DE-1 a CLI holding another master key refuses to touch the keys instead of retiring them', async () => {
    const { server, cli } = await setup();
    const before = await statuses(server);
    const other = await mkdtemp(join(tmpdir(), 'rampart-pg-cli-other-'));
    cleanups.push(() => rm(other, { recursive: true, force: true }));
    const rotated = await run(['keys', 'rotate', '--justification', 'from a directory with other secrets'], {
      out: () => {},
      err: () => {},
      env: { DATABASE_URL: server.config.database.url!, RAMPART_LOG_LEVEL: 'silent', RAMPART_DATA_DIR: other },
      cwd: other,
    });
    expect(rotated).toBe(1);
    expect(await statuses(server)).toEqual(before);
    expect((await cli(['keys', 'list'])).code).toBe(0);
  });
});
