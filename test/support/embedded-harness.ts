import { openDatabase, type Database } from '../../src/db/index.js';
import type { DbHarness } from '../suites/harness.js';
import { testDatabase } from './rampart.js';

export function embeddedHarness(): DbHarness {
  const open: Database[] = [];
  const track = (db: Database) => (open.push(db), db);
  return {
    kind: 'embedded',
    migrated: async () => track(await testDatabase()),
    empty: async () => track(await openDatabase({ url: 'memory://' })),
    cleanup: async () => {
      await Promise.all(open.splice(0).map((db) => db.close()));
    },
  };
}
