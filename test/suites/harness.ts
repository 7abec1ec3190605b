import type { Database } from '../../src/db/index.js';

/** How a shared suite gets databases: embedded (PGlite) in `npm test`, PostgreSQL in `test:services`. */
export type DbHarness = {
  kind: 'embedded' | 'postgres';
  /** A fresh database with every migration applied. Closed (and dropped) by the harness. */
  migrated(): Promise<Database>;
  /** A fresh database with nothing applied yet. */
  empty(): Promise<Database>;
  /** Closes and drops everything handed out. */
  cleanup(): Promise<void>;
};
