import { fuzzSuite } from './suites/fuzz.js';
import { testRampart } from './support/rampart.js';

/** The fuzz suite on the embedded database (PGlite in memory); test/services/fuzz.test.ts runs it on PostgreSQL. */
fuzzSuite({ kind: 'embedded', start: (authenticate) => testRampart({ authenticate }), cleanup: async () => {} });
