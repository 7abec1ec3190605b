/**
 * Experiment (DESIGN.md, Performance notes): PGlite runs its WASM Postgres on the thread that
 * calls it, so on the embedded default SQL and HTTP share one event loop. Here a worker thread owns
 * a PGlite instance and answers `{ sql, params }` messages, so the HTTP thread only parses,
 * routes, serialises and posts messages.
 *
 * This is a bench-only prototype, not a driver: no cancellation, no streaming, no back-pressure.
 * The same module is the worker's entry (it starts serving when loaded as the bench worker) and
 * the main thread's client.
 */
import type { EventLoopUtilization } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

export type Statement = { sql: string; params?: unknown[] };

type Request =
  | { id: number; op: 'query'; sql: string; params: unknown[] }
  | { id: number; op: 'tx'; statements: Statement[] }
  | { id: number; op: 'close' };

type Reply = { id: number; rows: unknown[] } | { id: number; error: { message: string; code?: string } } | { ready: true } | { failed: string };

const WORKER_KIND = 'rampart-bench-pglite-worker';

/**
 * The experiment's schema, identical on both sides: a tenant-scoped table with FORCE'd row-level
 * security for a NOLOGIN `rampart_app` role (as Rampart's migrations do), 1000 rows.
 */
export const SETUP_SQL = `
CREATE ROLE rampart_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
CREATE TABLE bench_items (
  id integer PRIMARY KEY,
  tenant_id uuid NOT NULL,
  name text NOT NULL,
  status text NOT NULL DEFAULT 'active',
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE bench_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE bench_items FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON bench_items TO rampart_app
  USING (tenant_id = NULLIF(current_setting('rampart.tenant_id', true), '')::uuid);
GRANT SELECT ON bench_items TO rampart_app;
INSERT INTO bench_items (id, tenant_id, name)
  SELECT i, '00000000-0000-7000-8000-000000000001'::uuid, 'item ' || i FROM generate_series(1, 1000) AS i;
`;

export const BENCH_TENANT = '00000000-0000-7000-8000-000000000001';
export const PK_SQL = 'select id, tenant_id, name, status, created_at from bench_items where id = $1';

/** The statements of one RLS read, as withTenant() issues them on the embedded database. */
export const rlsReadStatements = (id: number): Statement[] => [
  { sql: 'SET LOCAL ROLE rampart_app' },
  { sql: "select set_config('rampart.tenant_id', $1, true), set_config('rampart.actor_id', $2, true)", params: [BENCH_TENANT, 'user:bench'] },
  { sql: PK_SQL, params: [id] },
];

export async function createBenchPglite(): Promise<PGlite> {
  const pg = await PGlite.create();
  await pg.exec(SETUP_SQL);
  return pg;
}

/** Serialises transactions that are sent one statement per message (one Postgres session). */
class Lock {
  #tail: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** The main thread's handle on the worker. */
export class PGliteWorkerClient {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (rows: unknown[]) => void; reject: (error: Error) => void }>();
  readonly #lock = new Lock();
  #nextId = 1;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (reply: Reply) => {
      if (!('id' in reply)) return;
      const pending = this.#pending.get(reply.id);
      if (!pending) return;
      this.#pending.delete(reply.id);
      if ('error' in reply) pending.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
      else pending.resolve(reply.rows);
    });
    worker.on('error', (error) => {
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
    });
  }

  /** Starts the worker and waits until its PGlite is created and the schema is loaded. */
  static async start(): Promise<PGliteWorkerClient> {
    // tsx's loader does not follow into worker threads on Node 20: register it inside the worker
    // before importing this very module.
    const tsxApi = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
    const worker = new Worker(boot, { eval: true, workerData: { kind: WORKER_KIND } });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (reply: Reply) => {
        if ('ready' in reply) done(resolve);
        else if ('failed' in reply) done(() => reject(new Error(`pglite worker failed to start: ${reply.failed}`)));
      };
      const onError = (error: Error) => done(() => reject(error));
      const done = (then: () => void) => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        then();
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
    });
    return new PGliteWorkerClient(worker);
  }

  #send(message: Omit<Extract<Request, { op: 'query' }>, 'id'> | Omit<Extract<Request, { op: 'tx' }>, 'id'>): Promise<unknown[]> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...message, id });
    });
  }

  /** One statement, one message round trip. */
  query(sql: string, params: unknown[] = []): Promise<unknown[]> {
    return this.#send({ op: 'query', sql, params });
  }

  /** A whole transaction in one message: the worker runs BEGIN, the statements, COMMIT; returns the last result. */
  transaction(statements: Statement[]): Promise<unknown[]> {
    return this.#send({ op: 'tx', statements });
  }

  /**
   * A transaction driven from the main thread one statement per message, which is what a Kysely
   * driver proxying to the worker would do (the transaction callback runs on the main thread).
   */
  transactionPerStatement(statements: Statement[]): Promise<unknown[]> {
    return this.#lock.run(async () => {
      await this.query('begin');
      try {
        let rows: unknown[] = [];
        for (const statement of statements) rows = await this.query(statement.sql, statement.params ?? []);
        await this.query('commit');
        return rows;
      } catch (error) {
        await this.query('rollback').catch(() => undefined);
        throw error;
      }
    });
  }

  /** The worker thread's event-loop utilisation (PGlite's WASM runs inside that loop). */
  eventLoopUtilization(since?: EventLoopUtilization): EventLoopUtilization {
    return since ? this.#worker.performance.eventLoopUtilization(since) : this.#worker.performance.eventLoopUtilization();
  }

  async close(): Promise<void> {
    const id = this.#nextId++;
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.postMessage({ id, op: 'close' } satisfies Request);
    const timer = setTimeout(() => void this.#worker.terminate(), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

async function serve(): Promise<void> {
  const port = parentPort!;
  let pg: PGlite;
  try {
    pg = await createBenchPglite();
  } catch (error) {
    port.postMessage({ failed: (error as Error).message } satisfies Reply);
    return;
  }
  const reply = (message: Reply) => port.postMessage(message);
  const fail = (id: number, error: unknown) => {
    const { message, code } = error as { message: string; code?: string };
    reply({ id, error: { message, ...(code ? { code } : {}) } });
  };
  port.on('message', (request: Request) => {
    switch (request.op) {
      case 'query':
        // PGlite queues concurrent calls itself (one session); a statement sent between another
        // caller's per-statement BEGIN and COMMIT is kept out by the client's lock.
        pg.query(request.sql, request.params).then((result) => reply({ id: request.id, rows: result.rows }), (error: unknown) => fail(request.id, error));
        break;
      case 'tx':
        pg.transaction(async (tx) => {
          let rows: unknown[] = [];
          for (const statement of request.statements) rows = (await tx.query(statement.sql, statement.params ?? [])).rows;
          return rows;
        }).then((rows) => reply({ id: request.id, rows }), (error: unknown) => fail(request.id, error));
        break;
      case 'close':
        void pg.close().finally(() => port.close());
        break;
    }
  });
  reply({ ready: true });
}

if (!isMainThread && (workerData as { kind?: string } | null)?.kind === WORKER_KIND) void serve();
