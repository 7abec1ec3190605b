import { parse, protocol, type PGlite } from '@electric-sql/pglite';

const { serialize } = protocol;
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
import { DML, TRANSACTION_CONTROL } from './statement-kind.js';

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

/** A compiled query starting with this may wait for the transaction's next statement (see withTenant). */
export const DEFERRABLE_MARKER = '/* rampart:deferrable */';

/**
 * Named prepared statements by SQL text, shared by the driver's connections (there is one session):
 * a warm statement is neither parsed nor planned again (PostgreSQL re-plans by itself when a table
 * it uses changes). Bounded; after any schema change (a script, or a statement that is not DML)
 * every statement is closed and prepared afresh, so none can outlive the shape it was planned for.
 */
class Statements {
  static readonly LIMIT = 1000;
  readonly #byText = new Map<string, { name: string; types: number[] }>();
  #stale: string[] = [];
  #next = 0;

  get(text: string) {
    return this.#byText.get(text);
  }

  name(): string {
    this.#next += 1;
    return `rampart_${this.#next}`;
  }

  add(text: string, name: string, types: number[]): void {
    if (this.#byText.size >= Statements.LIMIT) this.clear();
    this.#byText.set(text, { name, types });
  }

  /** Makes room for `count` statements at once (a batch must not close one of its own). */
  reserve(count: number): void {
    if (this.#byText.size + count > Statements.LIMIT) this.clear();
  }

  forget(name: string): void {
    this.#stale.push(name);
  }

  clear(): void {
    for (const { name } of this.#byText.values()) this.#stale.push(name);
    this.#byText.clear();
  }

  /** Close messages for statements no longer cached (sent before the next statement). */
  takeStale(): Uint8Array[] {
    const closes = this.#stale.map((name) => serialize.close({ type: 'S', name }));
    this.#stale = [];
    return closes;
  }
}


/**
 * One connection over the one session. PGlite's own `query()` makes six calls into the database
 * per statement (parse, describe, bind, describe, execute, sync), and each call has a fixed cost
 * that dominated short transactions (bench/: a tenant-scoped read spent more in calls than in SQL).
 * This connection sends the extended-protocol messages of a statement in one call, with the same
 * parameter serializers PGlite uses (chosen by the parameter types the server describes), and
 * keeps each DML statement prepared (see Statements), so a warm statement is bound and executed
 * without being parsed and planned again. Statements that may wait (the transaction's BEGIN and withTenant's
 * `set_config`) are queued and go out in the same call as the next statement, so a read-only
 * tenant transaction costs two calls (begin + settings + select, then commit) instead of thirty.
 * A queued statement's error surfaces on the statement it went out with, inside the same
 * transaction, which then rolls back as a whole.
 */
class PGliteConnection implements DatabaseConnection {
  readonly #pg: PGlite;
  readonly #statements: Statements;
  #queued: Uint8Array[] = [];
  /** Between BEGIN and COMMIT/ROLLBACK: only then may a statement wait for the next one. */
  inTransaction = false;

  constructor(pg: PGlite, statements: Statements) {
    this.#pg = pg;
    this.#statements = statements;
  }

  /** Queues a statement (parameters sent as text of unknown type) to go out before the next one. */
  queue(text: string, values: unknown[] = []): void {
    this.#queued.push(serialize.parse({ text }), serialize.bind({ values: values.map((value) => this.#serialize(value, 0)) }), serialize.describe({ type: 'P' }), serialize.execute({}));
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (query.sql.startsWith(SCRIPT_MARKER)) {
      // Several statements (a migration): simple protocol, no parameters. The schema changes, so
      // every prepared statement starts over.
      this.#statements.clear();
      await this.#flushQueued();
      await this.#pg.exec(query.sql);
      return { rows: [] };
    }
    if (this.inTransaction && query.sql.startsWith(DEFERRABLE_MARKER) && query.parameters.every((value) => typeof value === 'string')) {
      this.queue(query.sql, [...query.parameters]);
      return { rows: [] };
    }
    const isDml = DML.test(query.sql);
    if (!isDml) this.#statements.clear();
    const values = query.parameters as unknown[];
    let messages = [...this.#statements.takeStale(), ...this.#queued];
    this.#queued = [];
    let prepared = isDml ? this.#statements.get(query.sql) : undefined;
    let fresh: string | undefined;
    try {
      if (!prepared) {
        // First sight of this statement: prepare and describe it (with anything queued), then bind.
        // Anything but DML runs unnamed (DDL is not worth keeping, and it clears the cache).
        fresh = isDml ? this.#statements.name() : '';
        messages.push(serialize.parse({ name: fresh, text: query.sql }), serialize.describe({ type: 'S', name: fresh }));
        const described = await this.#call(messages);
        prepared = { name: fresh, types: parse.parseDescribeStatementResults(described.messages) };
        if (fresh) this.#statements.add(query.sql, fresh, prepared.types);
        fresh = undefined;
        messages = [];
      }
      const bound = values.map((value, index) => this.#serialize(value, prepared!.types[index] ?? 0));
      messages.push(serialize.bind({ statement: prepared.name, values: bound }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync());
      const { messages: replies } = await this.#call(messages);
      const results = parse.parseResults(replies, this.#pg.parsers, { rowMode: 'object' });
      // Queued statements answer first; the statement's own result is the last one.
      const result = results[results.length - 1]!;
      return result.affectedRows === undefined ? { rows: result.rows as R[] } : { rows: result.rows as R[], numAffectedRows: BigInt(result.affectedRows) };
    } catch (error) {
      // A statement whose preparation failed half-way is closed before the next one.
      if (fresh) this.#statements.forget(fresh);
      throw error;
    }
  }

  /**
   * Runs the statements in one call, in the implicit transaction the extended protocol gives the
   * messages before a Sync: it commits after the last statement, or rolls back at the first error
   * (the rest are skipped). Outside any transaction only. Every statement must be DML: they stay
   * prepared like the driver's other statements (one extra call the first time one is seen).
   */
  async batch(queries: readonly CompiledQuery[]): Promise<QueryResult<unknown>[]> {
    if (queries.some((query) => !DML.test(query.sql) || TRANSACTION_CONTROL.test(query.sql) || query.sql.startsWith(SCRIPT_MARKER))) {
      throw new Error('a batch runs DML statements only, without transaction control');
    }
    // The implicit transaction is the batch's only if the session is idle; a transaction left
    // open would keep the batch's settings (role, tenant) for whatever runs next.
    if (this.inTransaction || this.#queued.length || this.#pg.isInTransaction()) throw new Error('a batch cannot run inside a transaction');
    this.#statements.reserve(queries.length);
    // Each distinct statement text is prepared once, even when it appears twice in the batch.
    const unseen = [...new Map(queries.filter((query) => !this.#statements.get(query.sql)).map((query) => [query.sql, query])).values()];
    if (unseen.length) {
      const names = unseen.map(() => this.#statements.name());
      const messages = [...this.#statements.takeStale()];
      unseen.forEach((query, index) => messages.push(serialize.parse({ name: names[index], text: query.sql }), serialize.describe({ type: 'S', name: names[index] })));
      messages.push(serialize.sync());
      const { messages: described } = await this.#call(messages).catch((error: unknown) => {
        for (const name of names) this.#statements.forget(name);
        throw error;
      });
      // One ParameterDescription per statement, in order.
      const descriptions = described.filter((message) => message.name === 'parameterDescription') as unknown as Array<{ dataTypeIDs: number[] }>;
      unseen.forEach((query, index) => this.#statements.add(query.sql, names[index]!, descriptions[index]?.dataTypeIDs ?? []));
    }
    // Parameters first: a value that cannot be serialized throws before pending Closes are taken.
    const bound = queries.map((query) => {
      const prepared = this.#statements.get(query.sql)!;
      return { name: prepared.name, values: (query.parameters as unknown[]).map((value, index) => this.#serialize(value, prepared.types[index] ?? 0)) };
    });
    const messages = [...this.#statements.takeStale()];
    for (const { name, values } of bound) messages.push(serialize.bind({ statement: name, values }), serialize.describe({ type: 'P' }), serialize.execute({}));
    messages.push(serialize.sync());
    const { messages: replies } = await this.#call(messages);
    if (this.#pg.isInTransaction()) {
      await this.#call([serialize.query('rollback')]).catch(() => undefined);
      throw new Error('the batch left the session inside a transaction');
    }
    return parse.parseResults(replies, this.#pg.parsers, { rowMode: 'object' }).map((result) =>
      result.affectedRows === undefined ? { rows: result.rows } : { rows: result.rows, numAffectedRows: BigInt(result.affectedRows) },
    );
  }

  /** Runs what is queued on its own (before a script). */
  async #flushQueued(): Promise<void> {
    if (!this.#queued.length) return;
    const messages = this.#queued;
    this.#queued = [];
    await this.#call([...messages, serialize.sync()]);
  }

  async #call(messages: Uint8Array[]) {
    try {
      return await this.#pg.runExclusive(() => this.#pg.execProtocol(Buffer.concat(messages)));
    } catch (error) {
      // After an error the server skips everything up to the next Sync: send one, so the session
      // takes the next statement (the transaction, if any, is then aborted and rolls back).
      await this.#pg.runExclusive(() => this.#pg.execProtocol(serialize.sync())).catch(() => undefined);
      throw error;
    }
  }

  #serialize(value: unknown, oid: number): string | null {
    if (value === null || value === undefined) return null;
    const serializer = this.#pg.serializers[oid];
    if (!serializer) return typeof value === 'string' ? value : String(value);
    try {
      return serializer(value);
    } catch (error) {
      // PGlite's serializers throw a bare Error for a value of the wrong JS type (a boolean bound
      // where the statement wants a timestamptz); PostgreSQL refuses the same value with a
      // SQLSTATE of class 22. Answer as PostgreSQL does, so both databases give a 400, not a 500.
      throw Object.assign(new Error(`a parameter does not fit its declared type (oid ${oid})`), { code: '22P02', cause: error });
    }
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
  readonly #statements = new Statements();

  constructor(pg: PGlite, lockTimeoutMs?: number) {
    this.#pg = pg;
    this.#lock = new SessionLock(lockTimeoutMs);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const release = await this.#lock.acquire();
    const connection = new PGliteConnection(this.#pg, this.#statements);
    this.#releases.set(connection, release);
    return connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const modes = [
      settings.isolationLevel ? `isolation level ${settings.isolationLevel}` : '',
      settings.accessMode ?? '',
    ].filter(Boolean);
    // Goes out with the transaction's first statement (one call instead of two).
    (connection as PGliteConnection).inTransaction = true;
    (connection as PGliteConnection).queue(modes.length ? `begin ${modes.join(', ')}` : 'begin');
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const conn = connection as PGliteConnection;
    conn.inTransaction = false;
    await conn.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const conn = connection as PGliteConnection;
    conn.inTransaction = false;
    await conn.executeQuery(CompiledQuery.raw('rollback'));
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

  /** See PGliteConnection.batch: the statements in one call, one implicit transaction, under the session lock. */
  async batch(queries: readonly CompiledQuery[]): Promise<QueryResult<unknown>[]> {
    const connection = (await this.acquireConnection()) as PGliteConnection;
    try {
      return await connection.batch(queries);
    } finally {
      await this.releaseConnection(connection);
    }
  }

  async destroy(): Promise<void> {
    // The owner of the PGlite instance closes it (after every Kysely instance over it is done).
  }
}

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

export class PGliteDialect implements Dialect {
  readonly #pg: PGlite;
  readonly #lockTimeoutMs: number | undefined;
  #driver: PGliteDriver | undefined;
  constructor(pg: PGlite, options: { lockTimeoutMs?: number } = {}) {
    this.#pg = pg;
    this.#lockTimeoutMs = options.lockTimeoutMs;
  }
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    this.#driver = new PGliteDriver(this.#pg, this.#lockTimeoutMs);
    return this.#driver;
  }
  /** Statements in one call and one implicit transaction (db/tenancy.ts readAsTenant). */
  batch(queries: readonly CompiledQuery[]): Promise<QueryResult<unknown>[]> {
    if (!this.#driver) throw new Error('the dialect has no driver yet');
    return this.#driver.batch(queries);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
}
