import type { CompiledQuery, QueryResult } from 'kysely';
import type pg from 'pg';

type Field = { name: string; dataTypeID: number; format?: string };
type Parser = (value: string) => unknown;

/** A bound parameter as PostgreSQL's text format wants it (the subset Kysely's compiled reads pass). */
function textValue(value: unknown): string | Buffer | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * Several statements sent to PostgreSQL in one write with one Sync: one round trip, and one
 * implicit transaction (the protocol commits at the Sync, or rolls back at the first error and
 * skips the rest), so no BEGIN or COMMIT is needed and an error cannot leave the pooled connection
 * inside an aborted transaction. A `pg` Submittable: the client hands it the connection when its
 * turn comes and routes the backend's answers to the handle* methods until ReadyForQuery (or the
 * first error, after which the client considers it done). (control: DE-2, via db/tenancy.ts readAsTenant)
 */
export class PgBatch {
  readonly #queries: readonly CompiledQuery[];
  readonly #parserOf: (oid: number) => Parser;
  readonly #results: QueryResult<unknown>[] = [];
  #fields: Array<{ name: string; parse: Parser }> = [];
  #rows: Record<string, unknown>[] = [];
  #settled = false;
  #failure: unknown;
  #resolve!: (results: QueryResult<unknown>[]) => void;
  #reject!: (error: unknown) => void;
  readonly done: Promise<QueryResult<unknown>[]>;

  constructor(queries: readonly CompiledQuery[], parserOf: (oid: number) => Parser) {
    this.#queries = queries;
    this.#parserOf = parserOf;
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  submit(connection: pg.Connection): void {
    const stream = connection.stream as pg.Connection['stream'] & { cork?: () => void; uncork?: () => void };
    stream.cork?.();
    try {
      for (const query of this.#queries) {
        connection.parse({ text: query.sql, name: '', types: [] }, true);
        connection.bind({ portal: '', statement: '', values: (query.parameters as unknown[]).map(textValue) } as pg.BindConfig, true);
        connection.describe({ type: 'P', name: '' }, true);
        connection.execute({ portal: '' }, true);
      }
      connection.sync();
    } finally {
      stream.uncork?.();
    }
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

  handleCommandComplete(message: { command?: string; rowCount?: number | null }): void {
    const counted = message.command === 'INSERT' || message.command === 'UPDATE' || message.command === 'DELETE' || message.command === 'MERGE';
    this.#results.push(counted ? { rows: this.#rows, numAffectedRows: BigInt(message.rowCount ?? 0) } : { rows: this.#rows });
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
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(error);
  }

  handleReadyForQuery(): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#failure) this.#reject(this.#failure);
    else this.#resolve(this.#results);
  }
}

/** Runs the statements as one batch on a client of the pool (see PgBatch). */
export async function runPgBatch(pool: pg.Pool, queries: readonly CompiledQuery[]): Promise<QueryResult<unknown>[]> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const batch = new PgBatch(queries, (oid) => client.getTypeParser(oid, 'text') as Parser);
    client.query(batch as unknown as pg.Submittable);
    return await batch.done;
  } catch (error) {
    // A statement's error (ERROR severity) leaves the connection usable. A FATAL one (the backend
    // was terminated) or a socket error does not: the pool must drop the client, not hand it out.
    const severity = (error as { severity?: unknown }).severity;
    if (severity !== 'ERROR') broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(broken);
  }
}
