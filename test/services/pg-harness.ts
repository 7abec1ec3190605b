import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate, migrations, openDatabase, type Database } from '../../src/db/index.js';
import type { DbHarness } from '../suites/harness.js';
import { POSTGRES_ADMIN_URL } from './env.js';

/** A throwaway database on the PostgreSQL server, dropped afterwards. */
export async function createScratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `rampart_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

export function postgresHarness(): DbHarness {
  const handed: Array<{ db: Database; drop: () => Promise<void> }> = [];
  const open = async (isMigrated: boolean) => {
    const scratch = await createScratchDatabase();
    const db = await openDatabase({ url: scratch.url, poolSize: 12 });
    if (isMigrated) await migrate({ db, list: migrations });
    handed.push({ db, drop: scratch.drop });
    return db;
  };
  return {
    kind: 'postgres',
    migrated: () => open(true),
    empty: () => open(false),
    cleanup: async () => {
      for (const { db, drop } of handed.splice(0)) {
        await db.close();
        await drop();
      }
    },
  };
}
