import { hostname } from 'node:os';
import { sql, type Transaction } from 'kysely';
import { RampartError, systemClock, uuidv7, type Clock, type Logger } from '../core/index.js';
import type { Database } from './connect.js';
import type { Job, Schema } from './schema.js';

/**
 * Background jobs in a Postgres table. Workers claim due jobs with `FOR UPDATE SKIP LOCKED`, so
 * any number of nodes share one queue without double-running a job. A claim is a lease: a node
 * that dies mid-job stops renewing nothing, its lease runs out, and another node re-claims the job
 * (its attempt counted). Failures retry with exponential backoff and jitter up to `max_attempts`,
 * then the job is `dead` and visible in `rampart jobs`.
 *
 * Recurring jobs (nightly drift snapshots, key rotation, audit checkpoints) are rows with a
 * `recurring_key`; after each run, success or final failure, they are re-queued for the next slot.
 */

export type JobContext = { job: Job; payload: unknown; log: Logger; signal: AbortSignal };
export type JobHandler = (context: JobContext) => Promise<void>;

export type EnqueueInput = { kind: string; payload?: unknown; runAt?: Date; maxAttempts?: number; tenantId?: string | null };
export type ScheduleInput = { key: string; kind: string; intervalSeconds: number; payload?: unknown; firstRunAt?: Date; maxAttempts?: number };

export type JobQueue = {
  readonly nodeId: string;
  register(kind: string, handler: JobHandler): void;
  /** Enqueue as system; pass a transaction to enqueue atomically with other writes (inside withTenant too). */
  enqueue(input: EnqueueInput, trx?: Transaction<Schema>): Promise<Job>;
  /** Creates or updates a recurring job; idempotent, so every node may call it at start-up. */
  schedule(input: ScheduleInput): Promise<Job>;
  /** Claims and runs up to `limit` due jobs of the registered kinds; resolves when they finished. */
  runDue(limit?: number): Promise<number>;
  start(): void;
  stop(): Promise<void>;
  list(filter?: { status?: Job['status']; limit?: number }): Promise<Job[]>;
  counts(): Promise<Record<string, number>>;
  retry(id: string): Promise<Job>;
};

export type JobQueueOptions = {
  db: Database;
  log: Logger;
  clock?: Clock;
  nodeId?: string;
  leaseMs?: number;
  pollIntervalMs?: number;
  concurrency?: number;
  backoff?: { baseMs: number; maxMs: number };
  random?: () => number;
};

const KIND = /^[a-z][a-z0-9_.:-]{0,99}$/;
const MAX_ERROR_LENGTH = 2000;

/** attempt 1 -> ~base, 2 -> ~2*base, ... capped; +-20% jitter so a burst of failures spreads out. */
export function backoffMs(attempt: number, { baseMs, maxMs }: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

/** The first slot after `now` on the grid `previous + k * interval`; keeps nightly jobs at their hour. */
export function nextSlot(previous: Date, intervalSeconds: number, now: Date): Date {
  const step = intervalSeconds * 1000;
  const behind = now.getTime() - previous.getTime();
  const slots = behind < 0 ? 1 : Math.floor(behind / step) + 1;
  return new Date(previous.getTime() + slots * step);
}

const errorText = (error: unknown): string => {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return message.slice(0, MAX_ERROR_LENGTH);
};

export function createJobQueue(options: JobQueueOptions): JobQueue {
  const { db, log } = options;
  const clock = options.clock ?? systemClock;
  const nodeId = options.nodeId ?? `${hostname()}:${process.pid}:${uuidv7().slice(-8)}`;
  const leaseMs = options.leaseMs ?? 300_000;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const concurrency = options.concurrency ?? 2;
  const backoff = options.backoff ?? { baseMs: 5_000, maxMs: 3_600_000 };
  const random = options.random ?? Math.random;
  const handlers = new Map<string, JobHandler>();
  const inFlight = new Set<Promise<void>>();
  const abort = new AbortController();
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;

  const system = <T>(fn: (trx: Transaction<Schema>) => Promise<T>) => db.owner.transaction().execute(fn);

  async function claim(limit: number): Promise<Job[]> {
    const kinds = [...handlers.keys()];
    if (kinds.length === 0 || limit < 1) return [];
    const now = clock.now();
    const leaseUntil = new Date(now.getTime() + leaseMs);
    return system(async (trx) => {
      const { rows } = await sql<Job>`
        update jobs set status = 'running', attempts = attempts + 1, locked_by = ${nodeId},
               locked_until = ${leaseUntil}, updated_at = ${now}
        where id in (
          select id from jobs
          where kind = any(${kinds}::text[])
            and ((status = 'queued' and run_at <= ${now}) or (status = 'running' and locked_until < ${now}))
          order by run_at, id
          limit ${limit}
          for update skip locked)
        returning *`.execute(trx);
      return rows;
    });
  }

  /** Writes the outcome only while this node still holds the lease. */
  async function settle(job: Job, outcome: { ok: true } | { ok: false; error: unknown }): Promise<void> {
    const now = clock.now();
    const recurring = job.recurring_key !== null && job.interval_seconds !== null;
    let update: Record<string, unknown>;
    if (outcome.ok) {
      update = recurring
        ? { status: 'queued', attempts: 0, last_error: null, run_at: nextSlot(job.run_at, job.interval_seconds!, now) }
        : { status: 'succeeded', finished_at: now, last_error: null };
    } else if (job.attempts < job.max_attempts) {
      update = { status: 'queued', last_error: errorText(outcome.error), run_at: new Date(now.getTime() + backoffMs(job.attempts, backoff, random)) };
    } else if (recurring) {
      log.error({ job: job.id, kind: job.kind, attempts: job.attempts }, 'recurring job failed every attempt; rescheduled for its next slot');
      update = { status: 'queued', attempts: 0, last_error: errorText(outcome.error), run_at: nextSlot(job.run_at, job.interval_seconds!, now) };
    } else {
      log.error({ job: job.id, kind: job.kind, attempts: job.attempts }, 'job is dead after its last attempt');
      update = { status: 'dead', finished_at: now, last_error: errorText(outcome.error) };
    }
    await system((trx) =>
      trx
        .updateTable('jobs')
        .set({ ...update, locked_by: null, locked_until: null, updated_at: now })
        .where('id', '=', job.id)
        .where('status', '=', 'running')
        .where('locked_by', '=', nodeId)
        .execute(),
    );
  }

  async function run(job: Job): Promise<void> {
    const handler = handlers.get(job.kind);
    const jobLog = log.child({ job: job.id, kind: job.kind, attempt: job.attempts });
    if (!handler) return settle(job, { ok: false, error: new Error(`no handler for ${job.kind}`) });
    if (job.attempts > job.max_attempts) return settle(job, { ok: false, error: new Error(job.last_error ?? 'lease expired on every attempt') });
    const timeout = AbortSignal.timeout(leaseMs);
    const signal = AbortSignal.any([timeout, abort.signal]);
    try {
      await handler({ job, payload: job.payload, log: jobLog, signal });
      await settle(job, { ok: true });
    } catch (error) {
      jobLog.warn({ err: { message: errorText(error) } }, 'job failed');
      await settle(job, { ok: false, error });
    }
  }

  async function runDue(limit = concurrency): Promise<number> {
    const jobs = await claim(limit);
    await Promise.all(
      jobs.map((job) => {
        const running = run(job).catch((error) => log.error({ err: { message: errorText(error) }, job: job.id }, 'job bookkeeping failed'));
        inFlight.add(running);
        return running.finally(() => inFlight.delete(running));
      }),
    );
    return jobs.length;
  }

  async function poll(): Promise<void> {
    while (!abort.signal.aborted) {
      let ran = 0;
      try {
        ran = await runDue(concurrency);
      } catch (error) {
        log.warn({ err: { message: errorText(error) } }, 'job poll failed');
      }
      if (ran === 0 && !abort.signal.aborted) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollIntervalMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  const validateKind = (kind: string) => {
    if (!KIND.test(kind)) throw new RampartError('validation_failed', { issues: [{ pointer: '/kind', message: 'lowercase name like "billing.renewal"' }] });
  };

  return {
    nodeId,
    register(kind, handler) {
      validateKind(kind);
      if (handlers.has(kind)) throw new Error(`job kind ${kind} is registered twice`);
      handlers.set(kind, handler);
    },
    async enqueue(input, trx) {
      validateKind(input.kind);
      const now = clock.now();
      const row = {
        id: uuidv7(now.getTime()),
        tenant_id: input.tenantId ?? null,
        kind: input.kind,
        payload: JSON.stringify(input.payload ?? {}),
        run_at: input.runAt ?? now,
        max_attempts: input.maxAttempts ?? 5,
        created_at: now,
        updated_at: now,
        last_error: null,
        locked_by: null,
        locked_until: null,
        recurring_key: null,
        interval_seconds: null,
        finished_at: null,
      };
      const insert = (executor: Transaction<Schema>) => executor.insertInto('jobs').values(row).returningAll().executeTakeFirstOrThrow();
      const job = trx ? await insert(trx) : await system(insert);
      wake?.();
      return job;
    },
    async schedule(input) {
      validateKind(input.kind);
      if (!Number.isInteger(input.intervalSeconds) || input.intervalSeconds < 1) throw new RampartError('validation_failed', { issues: [{ pointer: '/intervalSeconds', message: 'a positive whole number of seconds' }] });
      const now = clock.now();
      return system(async (trx) => {
        const { rows } = await sql<Job>`
          insert into jobs (id, kind, payload, run_at, max_attempts, recurring_key, interval_seconds, created_at, updated_at)
          values (${uuidv7(now.getTime())}, ${input.kind}, ${JSON.stringify(input.payload ?? {})}::jsonb, ${input.firstRunAt ?? now},
                  ${input.maxAttempts ?? 5}, ${input.key}, ${input.intervalSeconds}, ${now}, ${now})
          on conflict (recurring_key) do update
            set kind = excluded.kind, payload = excluded.payload, interval_seconds = excluded.interval_seconds,
                max_attempts = excluded.max_attempts, updated_at = excluded.updated_at
          returning *`.execute(trx);
        return rows[0]!;
      });
    },
    runDue,
    start() {
      if (loop || abort.signal.aborted) return;
      loop = poll();
    },
    async stop() {
      abort.abort();
      wake?.();
      await loop;
      await Promise.allSettled([...inFlight]);
    },
    list: ({ status, limit = 50 } = {}) =>
      system((trx) => {
        let query = trx.selectFrom('jobs').selectAll().orderBy('updated_at', 'desc').limit(Math.min(limit, 200));
        if (status) query = query.where('status', '=', status);
        return query.execute();
      }),
    async counts() {
      const rows = await system((trx) => trx.selectFrom('jobs').select(['status', sql<bigint>`count(*)`.as('n')]).groupBy('status').execute());
      return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
    },
    retry: (id) =>
      system(async (trx) => {
        const job = await trx
          .updateTable('jobs')
          .set({ status: 'queued', attempts: 0, run_at: clock.now(), finished_at: null, updated_at: clock.now() })
          .where('id', '=', id)
          .where('status', '=', 'dead')
          .returningAll()
          .executeTakeFirst();
        if (!job) throw new RampartError('not_found', { detail: 'no dead job with that id' });
        return job;
      }),
  };
}
