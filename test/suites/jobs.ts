import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, manualClock } from '../../src/core/index.js';
import { createJobQueue, createTenant, withTenant, type Database } from '../../src/db/index.js';
import type { DbHarness } from './harness.js';

const log = createLogger({ level: 'silent' });

/** The shared job machinery: SKIP LOCKED claiming, leases, retries with backoff, recurring slots. */
export function jobsSuite(harness: DbHarness): void {
  describe(`jobs (${harness.kind})`, () => {
    let db: Database;
    beforeAll(async () => {
      db = await harness.migrated();
    });
    afterAll(() => harness.cleanup());

    it('runs a one-off job once and marks it succeeded', async () => {
      const queue = createJobQueue({ db, log });
      const seen: unknown[] = [];
      queue.register('test.once', async ({ payload }) => void seen.push(payload));
      const job = await queue.enqueue({ kind: 'test.once', payload: { n: 1 } });
      expect(await queue.runDue(10)).toBe(1);
      expect(await queue.runDue(10)).toBe(0);
      expect(seen).toEqual([{ n: 1 }]);
      const row = await db.owner.selectFrom('jobs').selectAll().where('id', '=', job.id).executeTakeFirstOrThrow();
      expect(row.status).toBe('succeeded');
      expect(row.locked_by).toBeNull();
    });

    it('retries a failing job with growing backoff, then marks it dead; retry re-queues it', async () => {
      const clock = manualClock(new Date('2026-03-01T00:00:00Z'));
      const queue = createJobQueue({ db, log, clock, backoff: { baseMs: 1000, maxMs: 60_000 }, random: () => 0.5 });
      let calls = 0;
      queue.register('test.flaky', async () => {
        calls += 1;
        throw new Error(`boom ${calls}`);
      });
      const job = await queue.enqueue({ kind: 'test.flaky', maxAttempts: 3 });
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 3; attempt += 1) {
        expect(await queue.runDue(5)).toBe(1);
        const row = await db.owner.selectFrom('jobs').selectAll().where('id', '=', job.id).executeTakeFirstOrThrow();
        expect(row.last_error).toBe(`Error: boom ${attempt}`);
        if (attempt < 3) {
          expect(row.status).toBe('queued');
          delays.push(row.run_at.getTime() - clock.now().getTime());
          expect(await queue.runDue(5)).toBe(0); // not due yet
          clock.set(row.run_at);
        } else {
          expect(row.status).toBe('dead');
        }
      }
      expect(delays).toEqual([1000, 2000]);
      await queue.retry(job.id);
      expect(await queue.runDue(5)).toBe(1);
      expect(calls).toBe(4);
    });

    it('claims only the kinds this node has handlers for', async () => {
      const queue = createJobQueue({ db, log });
      queue.register('test.mine', async () => {});
      await queue.enqueue({ kind: 'test.someone-elses' });
      await queue.enqueue({ kind: 'test.mine' });
      expect(await queue.runDue(10)).toBe(1);
      const other = await db.owner.selectFrom('jobs').select('status').where('kind', '=', 'test.someone-elses').executeTakeFirstOrThrow();
      expect(other.status).toBe('queued');
    });

    it('two nodes draining one queue run every job exactly once (FOR UPDATE SKIP LOCKED)', async () => {
      const runs = new Map<string, number>();
      const handler = async ({ job }: { job: { id: string } }) => {
        await new Promise((resolve) => setTimeout(resolve, 2));
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
      };
      const nodes = [createJobQueue({ db, log, nodeId: 'node-1' }), createJobQueue({ db, log, nodeId: 'node-2' })];
      for (const node of nodes) node.register('test.shared', handler);
      const ids = [];
      for (let i = 0; i < 30; i += 1) ids.push((await nodes[0]!.enqueue({ kind: 'test.shared', payload: { i } })).id);
      const drain = async (node: (typeof nodes)[number]) => {
        while ((await node.runDue(3)) > 0);
      };
      await Promise.all(nodes.map(drain));
      expect([...runs.keys()].sort()).toEqual([...ids].sort());
      expect([...runs.values()].every((count) => count === 1)).toBe(true);
    });

    it('a job whose node died is re-claimed after its lease; the dead node cannot settle it', async () => {
      const clock = manualClock(new Date('2026-04-01T00:00:00Z'));
      const crashed = createJobQueue({ db, log, clock, nodeId: 'crashed', leaseMs: 60_000 });
      const healthy = createJobQueue({ db, log, clock, nodeId: 'healthy', leaseMs: 60_000 });
      let release!: () => void;
      const hanging = new Promise<void>((resolve) => (release = resolve));
      crashed.register('test.lease', () => hanging);
      let healthyRuns = 0;
      healthy.register('test.lease', async () => void (healthyRuns += 1));
      const job = await crashed.enqueue({ kind: 'test.lease' });
      const stuck = crashed.runDue(1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await healthy.runDue(1)).toBe(0); // leased
      clock.advance(61_000);
      expect(await healthy.runDue(1)).toBe(1);
      expect(healthyRuns).toBe(1);
      release();
      await stuck; // the old worker finishes late; its settle must be ignored
      const row = await db.owner.selectFrom('jobs').selectAll().where('id', '=', job.id).executeTakeFirstOrThrow();
      expect(row.status).toBe('succeeded');
      expect(row.attempts).toBe(2);
    });

    it('recurring jobs are scheduled idempotently and advance to their next slot', async () => {
      const clock = manualClock(new Date('2026-05-01T02:00:00Z'));
      const queue = createJobQueue({ db, log, clock });
      let runs = 0;
      queue.register('test.nightly', async () => void (runs += 1));
      const first = await queue.schedule({ key: 'test.nightly', kind: 'test.nightly', intervalSeconds: 86_400 });
      const again = await queue.schedule({ key: 'test.nightly', kind: 'test.nightly', intervalSeconds: 86_400 });
      expect(again.id).toBe(first.id);
      expect(await queue.runDue(5)).toBe(1);
      clock.advance(3 * 86_400_000 + 5_000); // the node was down for three nights
      expect(await queue.runDue(5)).toBe(1);
      const row = await db.owner.selectFrom('jobs').selectAll().where('id', '=', first.id).executeTakeFirstOrThrow();
      expect(row.status).toBe('queued');
      expect(row.run_at.toISOString()).toBe('2026-05-05T02:00:00.000Z');
      expect(runs).toBe(2);
    });

    it('a tenant enqueues its own jobs inside its scope and cannot see system jobs', async () => {
      const tenant = await createTenant(db, { slug: `jobs-${Date.now()}`, name: 'Jobs tenant' });
      const queue = createJobQueue({ db, log });
      await queue.enqueue({ kind: 'test.system-only' });
      const visible = await withTenant(db, { tenantId: tenant.id, actor: { type: 'user', id: 'u' } }, async (trx) => {
        await queue.enqueue({ kind: 'test.tenant-job', tenantId: tenant.id }, trx);
        return trx.selectFrom('jobs').select(['kind', 'tenant_id']).execute();
      });
      expect(visible).toEqual([{ kind: 'test.tenant-job', tenant_id: tenant.id }]);
    });

    it('stop() waits for in-flight jobs and the poller picks up work', async () => {
      const queue = createJobQueue({ db, log, pollIntervalMs: 50 });
      let done = 0;
      queue.register('test.poll', async () => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        done += 1;
      });
      queue.start();
      await queue.enqueue({ kind: 'test.poll' });
      await queue.enqueue({ kind: 'test.poll' });
      for (let i = 0; i < 100 && done < 2; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
      await queue.stop();
      expect(done).toBe(2);
    });
  });
}

