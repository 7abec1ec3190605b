import type { PGlite } from '@electric-sql/pglite';
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import { RampartError } from '../core/index.js';

/**
 * Kysely driver over PGlite's own query API (not its node-postgres adapter, which measured ~3x
 * slower here). PGlite is one Postgres backend, i.e. one session: a Kysely transaction must own it
 * from BEGIN to COMMIT, so connections are handed out one at a time through a FIFO lock. Queries
 * outside a transaction take the same lock for a single statement.
 *
 * Caveat: code that, while inside a transaction, awaits a query on the outer Kysely instance
 * waits for itself. Use the transaction handle.
 */

/** A compiled query starting with this runs as a multi-statement script (see db/sql.ts execScript). */
export const SCRIPT_MARKER = '/* rampart:script */';

export const INT8_OID = 20;
export const NUMERIC_OID = 1700;

/** int8 comes back as bigint (money is bigint minor units; a JS number would lose precision). */
export const pgliteParsers = { [INT8_OID]: (value: string) => BigInt(value) };

/**
 * FIFO lock over the one session. A waiter gives up after `timeoutMs` with a clear error instead
 * of hanging forever: the usual cause is code that, inside a transaction, queries through the
 * outer Kysely instance and so waits on its own transaction.
 */
export class SessionLock {
  #held = false;
  readonly #waiters: Array<() => void> = [];
  readonly #timeoutMs: number;

  constructor(timeoutMs = 30_000) {
    this.#timeoutMs = timeoutMs;
  }

  acquire(): Promise<() => void> {
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter = () => {
        clearTimeout(timer);
        resolve(this.#releaser());
      };
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(
          new RampartError('unavailable', {
            detail: 'the embedded database stayed busy too long; a query inside a transaction may be waiting on the outer database handle instead of the transaction',
          }),
        );
      }, this.#timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#held = false;
    };
  }
}

class PGliteConnection implements DatabaseConnection {
  readonly #pg: PGlite;
  constructor(pg: PGlite) {
    this.#pg = pg;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (query.sql.startsWith(SCRIPT_MARKER)) {
      // Several statements (a migration): simple protocol, no parameters.
      await this.#pg.exec(query.sql);
      return { rows: [] };
    }
    // Type parsers are set once on the instance (see connect.ts): passing them per query makes
    // PGlite copy its parser table for every statement (~1.7x slower, measured in bench/).
    const result = await this.#pg.query<R>(query.sql, query.parameters as unknown[], { rowMode: 'object' });
    return result.affectedRows === undefined ? { rows: result.rows } : { rows: result.rows, numAffectedRows: BigInt(result.affectedRows) };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported on the embedded database; page with LIMIT/cursor instead');
  }
}

class PGliteDriver implements Driver {
  readonly #pg: PGlite;
  readonly #lock: SessionLock;
  readonly #releases = new WeakMap<DatabaseConnection, () => void>();

  constructor(pg: PGlite, lockTimeoutMs?: number) {
    this.#pg = pg;
    this.#lock = new SessionLock(lockTimeoutMs);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const release = await this.#lock.acquire();
    const connection = new PGliteConnection(this.#pg);
    this.#releases.set(connection, release);
    return connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const modes = [
      settings.isolationLevel ? `isolation level ${settings.isolationLevel}` : '',
      settings.accessMode ?? '',
    ].filter(Boolean);
    await connection.executeQuery(CompiledQuery.raw(modes.length ? `begin ${modes.join(', ')}` : 'begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint ${quoteIdent(name)}`));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to savepoint ${quoteIdent(name)}`));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release savepoint ${quoteIdent(name)}`));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    this.#releases.get(connection)?.();
    this.#releases.delete(connection);
  }

  async destroy(): Promise<void> {
    // The owner of the PGlite instance closes it (after every Kysely instance over it is done).
  }
}

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

export class PGliteDialect implements Dialect {
  readonly #pg: PGlite;
  readonly #lockTimeoutMs: number | undefined;
  constructor(pg: PGlite, options: { lockTimeoutMs?: number } = {}) {
    this.#pg = pg;
    this.#lockTimeoutMs = options.lockTimeoutMs;
  }
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.#pg, this.#lockTimeoutMs);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
}
