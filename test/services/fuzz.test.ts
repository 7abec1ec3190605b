import { describe, inject } from 'vitest';
import { createRampart } from '../../src/app.js';
import { fuzzSuite } from '../suites/fuzz.js';
import { testConfig } from '../support/rampart.js';
import { createScratchDatabase } from './pg-harness.js';

/** The fuzz suite (invariant 7, issue 12 §4) on PostgreSQL: the same code as test/fuzz.test.ts. */
const hasPostgres = !inject('servicesMissing').some((m) => m.startsWith('PostgreSQL'));

describe.skipIf(!hasPostgres)('PostgreSQL', () => {
  let drop: (() => Promise<void>) | undefined;
  fuzzSuite({
    kind: 'postgres',
    start: async (authenticate) => {
      const scratch = await createScratchDatabase();
      drop = scratch.drop;
      return createRampart({ config: testConfig({ database: { url: scratch.url } }), env: {}, authenticate });
    },
    cleanup: async () => drop?.(),
  });
});
