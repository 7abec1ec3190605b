import { describe, expect, it } from 'vitest';
import { SessionLock } from './pglite-dialect.js';

describe('SessionLock (the embedded database is one session)', () => {
  it('hands the session out first come, first served', async () => {
    const lock = new SessionLock(1000);
    const order: number[] = [];
    const first = await lock.acquire();
    const waiting = [1, 2, 3].map((n) => lock.acquire().then((release) => (order.push(n), release)));
    first();
    for (const next of waiting) (await next)();
    expect(order).toEqual([1, 2, 3]);
  });

  it('a waiter gives up with a clear 503 instead of hanging (nested access inside a transaction)', async () => {
    const lock = new SessionLock(50);
    const held = await lock.acquire();
    await expect(lock.acquire()).rejects.toMatchObject({ status: 503, detail: expect.stringMatching(/outer database handle/) });
    held();
    const again = await lock.acquire(); // the timed-out waiter left the queue
    again();
  });

  it('releasing twice does not hand the session to two holders', async () => {
    const lock = new SessionLock(100);
    const release = await lock.acquire();
    const second = lock.acquire();
    release();
    release();
    const releaseSecond = await second;
    await expect(lock.acquire()).rejects.toBeDefined();
    releaseSecond();
  });
});
