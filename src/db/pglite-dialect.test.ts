import { PGlite } from '@electric-sql/pglite';
import { Kysely, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { execScript } from './connect.js';
import { DEFERRABLE_MARKER, PGliteDialect, pgliteParsers, SessionLock } from './pglite-dialect.js';

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

describe('the embedded driver: one call per statement, prepared statements, deferred BEGIN and scope', () => {
  const open = async () => {
    const pg = await PGlite.create({ parsers: pgliteParsers });
    const dialect = new PGliteDialect(pg);
    const db = new Kysely<Record<string, Record<string, unknown>>>({ dialect });
    return { pg, db, dialect, close: async () => (await db.destroy(), await pg.close()) };
  };

  it('serializes parameters as PGlite does, by the types the server describes (json, arrays, dates, bytea, bigint)', async () => {
    const { db, close } = await open();
    try {
      await sql`create table t (j jsonb, a text[], d timestamptz, b bytea, n int8, u uuid)`.execute(db);
      const when = new Date('2026-11-29T10:00:00.123Z');
      const values = { j: { k: ['v', 1] }, a: ['x', 'y"z'], d: when, b: new Uint8Array([0, 255, 16]), n: 9007199254740993n, u: '01a2293c-28d3-7f90-8bfd-ae56831a882a' };
      await sql`insert into t values (${values.j}, ${values.a}, ${values.d}, ${values.b}, ${values.n}, ${values.u})`.execute(db);
      // The same statement again: served from the prepared statement, same serializers.
      await sql`insert into t values (${values.j}, ${values.a}, ${values.d}, ${values.b}, ${values.n}, ${values.u})`.execute(db);
      const { rows } = await sql<Record<string, unknown>>`select * from t`.execute(db);
      expect(rows).toHaveLength(2);
      expect(rows[1]).toEqual({ ...values, b: expect.any(Uint8Array) });
      expect([...(rows[1]!.b as Uint8Array)]).toEqual([0, 255, 16]);
    } finally {
      await close();
    }
  });

  it('a schema change closes prepared statements: the same SQL text sees the new shape, not a stale plan', async () => {
    const { db, close } = await open();
    try {
      await sql`create table s (id int primary key, a text)`.execute(db);
      await sql`insert into s values (1, 'one')`.execute(db);
      const read = () => sql<Record<string, unknown>>`select * from s where id = ${1}`.execute(db);
      expect((await read()).rows).toEqual([{ id: 1, a: 'one' }]);
      await sql`alter table s add column b text default 'bee'`.execute(db);
      expect((await read()).rows).toEqual([{ id: 1, a: 'one', b: 'bee' }]);
      // A migration script (simple protocol) also starts the statements over.
      await execScript(db as never, 'alter table s drop column a; alter table s add column c int default 3;');
      expect((await read()).rows).toEqual([{ id: 1, b: 'bee', c: 3 }]);
    } finally {
      await close();
    }
  });

  it('a bad statement answers its error and leaves the session usable; a failed transaction rolls back whole', async () => {
    const { db, close } = await open();
    try {
      await sql`create table r (id int primary key)`.execute(db);
      await expect(sql`selec 1`.execute(db)).rejects.toMatchObject({ code: '42601' });
      await expect(sql`select ${'not-a-uuid'}::uuid`.execute(db)).rejects.toMatchObject({ code: '22P02' });
      // The statement that failed at bind time stays usable with good input.
      expect((await sql<{ u: string }>`select ${'01a2293c-28d3-7f90-8bfd-ae56831a882a'}::uuid as u`.execute(db)).rows).toEqual([{ u: '01a2293c-28d3-7f90-8bfd-ae56831a882a' }]);
      await expect(
        db.transaction().execute(async (trx) => {
          await sql`insert into r values (${1})`.execute(trx);
          await sql`insert into r values (${1})`.execute(trx); // unique violation
        }),
      ).rejects.toMatchObject({ code: '23505' });
      expect((await sql`select * from r`.execute(db)).rows).toEqual([]);
      expect((await sql<{ n: number }>`select 1 as n`.execute(db)).rows).toEqual([{ n: 1 }]);
    } finally {
      await close();
    }
  });

  it('DE-2 BEGIN and a deferrable statement (withTenant’s role and scope) go out with the next statement: its setting holds there, and its error fails the transaction', async () => {
    const { db, close } = await open();
    try {
      const seen = await db.transaction().execute(async (trx) => {
        await sql`${sql.raw(DEFERRABLE_MARKER)} select set_config('rampart.test', ${'scoped'}, true)`.execute(trx);
        return (await sql<{ v: string }>`select current_setting('rampart.test') as v`.execute(trx)).rows[0]!.v;
      });
      expect(seen).toBe('scoped');
      // Transaction-local: gone after commit.
      expect((await sql<{ v: string | null }>`select current_setting('rampart.test', true) as v`.execute(db)).rows[0]!.v).toBe('');
      // A deferred statement that fails makes the statement it went out with fail, and nothing commits.
      await sql`create table d (id int)`.execute(db);
      await expect(
        db.transaction().execute(async (trx) => {
          await sql`${sql.raw(DEFERRABLE_MARKER)} select set_config('role', ${'no_such_role'}, true)`.execute(trx);
          await sql`insert into d values (1)`.execute(trx);
        }),
      ).rejects.toMatchObject({ code: '22023' });
      expect((await sql`select * from d`.execute(db)).rows).toEqual([]);
      // Outside a transaction the marker does not defer (there is nothing to go out with).
      expect((await sql<{ v: string }>`${sql.raw(DEFERRABLE_MARKER)} select set_config('rampart.test', ${'now'}, false) as v`.execute(db)).rows).toEqual([{ v: 'now' }]);
      // A transaction that ran nothing still commits cleanly.
      await db.transaction().execute(async () => undefined);
      expect((await sql<{ n: number }>`select 1 as n`.execute(db)).rows).toEqual([{ n: 1 }]);
    } finally {
      await close();
    }
  });

  it('a batch runs its statements in one implicit transaction: settings hold to the end, the first error rolls back all of it', async () => {
    const { db, dialect, close } = await open();
    try {
      await sql`create table k (id int primary key, v text)`.execute(db);
      const set = (value: string) => sql`select set_config('rampart.test', ${value}, true)`.compile(db);
      const read = sql<{ v: string }>`select current_setting('rampart.test') as v, count(*)::int as n from k`.compile(db);
      // First sight (prepared in an extra call), then warm with other parameters.
      for (const value of ['one', 'two']) {
        const results = await dialect.batch([set(value), read]);
        expect(results).toHaveLength(2);
        expect(results[1]!.rows).toEqual([{ v: value, n: 0 }]);
      }
      // Warm means reused: one prepared statement per distinct text, also when a batch repeats a text.
      const twice = sql<{ n: number }>`select count(*)::int as n from k where id > ${0}`.compile(db);
      await dialect.batch([twice, twice]);
      const prepared = async (text: string) => (await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements where statement = ${text}`.execute(db)).rows[0]!.n;
      expect(await prepared(twice.sql)).toBe(1);
      expect(await prepared(read.sql)).toBe(1);
      expect(await prepared(set('x').sql)).toBe(1);
      // Transaction-local: the setting ended with the batch.
      expect((await sql<{ v: string }>`select current_setting('rampart.test', true) as v`.execute(db)).rows[0]!.v).toBe('');
      // A failing statement rolls back the write before it, and the session stays usable.
      await expect(dialect.batch([sql`insert into k values (${1}, ${'written'})`.compile(db), sql`select 1 / ${0}::int`.compile(db)])).rejects.toMatchObject({ code: '22012' });
      expect((await sql`select * from k`.execute(db)).rows).toEqual([]);
      const [inserted] = await dialect.batch([sql`insert into k values (${2}, ${'kept'})`.compile(db)]);
      expect(inserted!.numAffectedRows).toBe(1n);
      expect((await sql`select * from k`.execute(db)).rows).toEqual([{ id: 2, v: 'kept' }]);
      // Only DML: a schema change must go through the path that closes prepared statements; and no
      // transaction control, which would keep the batch's settings for whatever runs next.
      await expect(dialect.batch([sql`create table x (id int)`.compile(db)])).rejects.toThrow(/DML statements only/);
      await expect(dialect.batch([set('kept'), sql`begin`.compile(db)])).rejects.toThrow(/without transaction control/);
      expect((await sql<{ v: string }>`select current_setting('rampart.test', true) as v`.execute(db)).rows[0]!.v).toBe('');
      // A value that cannot be serialized fails before anything is sent; the session stays usable.
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      await expect(dialect.batch([sql`select ${circular}::jsonb`.compile(db)])).rejects.toThrow(/does not fit its declared type/);
      expect((await dialect.batch([read]))[0]!.rows).toEqual([{ v: '', n: 1 }]);
    } finally {
      await close();
    }
  });

  it('keeps at most a bounded number of prepared statements', async () => {
    const { pg, db, close } = await open();
    try {
      for (let i = 0; i < 1100; i++) await sql.raw(`select ${i} as n`).execute(db);
      const { rows } = await pg.query<{ n: number }>('select count(*)::int as n from pg_prepared_statements');
      expect(rows[0]!.n).toBeLessThanOrEqual(1000);
      expect(rows[0]!.n).toBeGreaterThan(0);
    } finally {
      await close();
    }
  });
});
