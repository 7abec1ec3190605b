import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { checksum, migrate, migrations, openDatabase } from '../../src/db/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
  }
}

/**
 * PGlite's initdb costs seconds; a dump of an initialised, migrated data directory loads in about
 * one. Built once per run (keyed by the migrations' checksums) and cloned by every test database.
 */
export default async function setup(project: TestProject): Promise<void> {
  const key = migrations.map((m) => `${m.version}:${checksum(m).slice(0, 8)}`).join('-');
  const dir = join(tmpdir(), 'rampart-test');
  const file = join(dir, `pglite-template-${key}-${process.pid}.tar`);
  await mkdir(dir, { recursive: true });
  const db = await openDatabase({ url: 'memory://' });
  await migrate({ db, list: migrations });
  const dump = await db.dumpDataDir!();
  await writeFile(file, Buffer.from(await dump.arrayBuffer()));
  await db.close();
  project.provide('pgliteTemplate', file);
}
