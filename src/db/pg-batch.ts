import { createRequire } from 'node:module';
import type { CompiledQuery, QueryResult } from 'kysely';
import pg from 'pg';
import { TRANSACTION_CONTROL } from './statement-kind.js';

type Field = { name: string; dataTypeID: number };
type Parser = (value: string) => unknown;

/** pg's own parameter conversion (arrays as `{…}`, dates, buffers, `toPostgres`), as its Query uses it. */
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue: (value: unknown) => string | Buffer | null };


const COUNTED = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY']);

type BatchStatement = { text: string; values: Array<string | Buffer | null> };

/** Checks the statements and converts their parameters, before a connection is taken: a value pg cannot send fails here. */
function prepareStatements(queries: readonly CompiledQuery[]): BatchStatement[] {
  if (queries.some((query) => TRANSACTION_CONTROL.test(query.sql))) throw new Error('a batch cannot contain transaction control statements');
  return queries.map((query) => ({ text: query.sql, values: (query.parameters as unknown[]).map((value) => prepareValue(value)) }));
}

/**
 * Several statements sent to PostgreSQL in one write with one Sync: one round trip, and one
 * implicit transaction (the protocol commits at the Sync, or rolls back at the first error and
 * skips the rest), so no BEGIN or COMMIT is needed and an error cannot leave the pooled connection
 * inside an aborted transaction. A `pg` Submittable: the client hands it the connection when its
 * turn comes and routes the backend's answers to the handle* methods until ReadyForQuery (or the
 * first error, after which the client considers it done). The batch runs only on a connection that
 * is idle (not inside a transaction) and must leave it idle: otherwise the settings it made would
 * outlive it. (control: DE-2, via db/tenancy.ts readAsTenant)
 */
export class PgBatch {
  readonly #statements: BatchStatement[];
  readonly #parserOf: (oid: number) => Parser;
  readonly #status: () => string;
  readonly #results: QueryResult<unknown>[] = [];
  #fields: Array<{ name: string; parse: Parser }> = [];
  #rows: Record<string, unknown>[] = [];
  #settled = false;
  #failure: unknown;
  #resolve!: (results: QueryResult<unknown>[]) => void;
  #reject!: (error: unknown) => void;
  readonly done: Promise<QueryResult<unknown>[]>;
  /** Set by pg's client when a query_timeout applies; called once the batch is settled. */
  callback: ((error: unknown, result?: unknown) => void) | undefined;

  constructor(statements: BatchStatement[], options: { parserOf: (oid: number) => Parser; transactionStatus: () => string }) {
    this.#statements = statements;
    this.#parserOf = options.parserOf;
    this.#status = options.transactionStatus;
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Settled on every path; the caller awaits it, and a rejection nobody is awaiting any more
    // (the client failed after the caller gave up) must not take the process down.
    this.done.catch(() => undefined);
  }

  /** Returns an error instead of sending when the connection is inside a transaction (pg then calls handleError). */
  submit(connection: pg.Connection): Error | undefined {
    if (this.#status() !== 'I') return new Error('a batch needs an idle connection; this one is inside a transaction');
    const stream = connection.stream as pg.Connection['stream'] & { cork?: () => void; uncork?: () => void };
    stream.cork?.();
    try {
      for (const statement of this.#statements) {
        connection.parse({ text: statement.text, name: '', types: [] }, true);
        connection.bind({ portal: '', statement: '', values: statement.values } as pg.BindConfig, true);
        connection.describe({ type: 'P', name: '' }, true);
        connection.execute({ portal: '' }, true);
      }
      connection.sync();
    } finally {
      stream.uncork?.();
    }
    return undefined;
  }

  handleRowDescription(message: { fields: Field[] }): void {
    this.#fields = message.fields.map((field) => ({ name: field.name, parse: this.#parserOf(field.dataTypeID) }));
  }

  handleDataRow(message: { fields: Array<string | null> }): void {
    if (this.#failure) return;
    const row: Record<string, unknown> = {};
    const values = message.fields;
    try {
      for (let index = 0; index < this.#fields.length; index++) {
        const field = this.#fields[index]!;
        const value = values[index];
        row[field.name] = value === null || value === undefined ? null : field.parse(value);
      }
    } catch (error) {
      // A value no parser accepts: answered once the server is done with the batch.
      this.#failure = error;
      return;
    }
    this.#rows.push(row);
  }

  /** The command tag ("SELECT 1", "INSERT 0 2", "UPDATE 3") carries the row count last. */
  handleCommandComplete(message: { text: string }): void {
    const words = message.text.split(' ');
    const counted = COUNTED.has(words[0] ?? '');
    this.#results.push(counted ? { rows: this.#rows, numAffectedRows: BigInt(words.at(-1) ?? '0') } : { rows: this.#rows });
    this.#rows = [];
    this.#fields = [];
  }

  handleEmptyQuery(): void {
    this.#results.push({ rows: [] });
  }

  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: pg.Connection & { sendCopyFail?: (message: string) => void }): void {
    connection.sendCopyFail?.('COPY is not supported in a batch');
  }

  handleCopyData(): void {}

  /** The client calls this once, for the first error; it then waits for ReadyForQuery on its own. */
  handleError(error: unknown): void {
    this.#settle(error);
  }

  handleReadyForQuery(): void {
    // The client has just recorded the status ReadyForQuery reported: anything but idle means a
    // statement left a transaction open, with the batch's settings in it.
    if (!this.#failure && this.#status() !== 'I') this.#failure = new Error('the batch left the connection inside a transaction');
    this.#settle(this.#failure);
  }

  #settle(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    if (error) this.#reject(error);
    else this.#resolve(this.#results);
    this.callback?.(error ?? null, this.#results);
  }
}

/**
 * Whether a batch's error leaves the connection usable. A statement's error from the server does
 * (the Sync it already holds rolls the transaction back); a lost or terminated backend (SQLSTATE
 * classes 08 and 57P), a timeout on our side, a value no parser took, or a connection left inside
 * a transaction does not: the pool must drop the client instead of handing it out.
 */
function leavesConnectionUsable(error: unknown): boolean {
  if (!(error instanceof pg.DatabaseError)) return false;
  const code = error.code ?? '';
  return !code.startsWith('08') && !code.startsWith('57P');
}

/** Runs the statements as one batch on a client of the pool (see PgBatch). */
export async function runPgBatch(pool: pg.Pool, queries: readonly CompiledQuery[]): Promise<QueryResult<unknown>[]> {
  const statements = prepareStatements(queries);
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const batch = new PgBatch(statements, { parserOf: (oid) => client.getTypeParser(oid, 'text') as Parser, transactionStatus: () => client.getTransactionStatus() ?? '' });
    client.query(batch as unknown as pg.Submittable);
    return await batch.done;
  } catch (error) {
    if (!leavesConnectionUsable(error)) broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(broken);
  }
}
