import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirLockedError, LOCK_FILE, lockDataDir } from './lock.js';

const dirs: string[] = [];
const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-lock-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const writeLock = (dir: string, holder: unknown) => writeFileSync(join(dir, LOCK_FILE), typeof holder === 'string' ? holder : JSON.stringify(holder));

describe('the data directory lock (one process per embedded database)', () => {
  it('DE-2 a live holder refuses a second opener, naming its pid and role; release lets the next one in', async () => {
    const dir = freshDir();
    const lock = await lockDataDir(dir, 'serve');
    expect(JSON.parse(readFileSync(lock.path, 'utf8'))).toMatchObject({ pid: process.pid, role: 'serve' });
    const refused = await lockDataDir(dir, 'cli').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DataDirLockedError);
    expect((refused as DataDirLockedError).message).toContain(`rampart serve\` (pid ${process.pid}`);
    lock.release();
    lock.release(); // idempotent
    (await lockDataDir(dir, 'cli')).release();
  });

  it.each([
    ['a dead pid', () => ({ pid: 2 ** 22 + 7, started: '1', role: 'serve', since: '1970-01-01T00:00:00.000Z' })],
    ['a reused pid (alive, started at another time)', () => ({ pid: process.pid, started: 'not-this-process', role: 'serve', since: '1970-01-01T00:00:00.000Z' })],
  ])('a lock left by %s is stale and taken over', async (_label, holder) => {
    const dir = freshDir();
    writeLock(dir, holder());
    const lock = await lockDataDir(dir, 'cli');
    expect(JSON.parse(readFileSync(lock.path, 'utf8'))).toMatchObject({ pid: process.pid, role: 'cli' });
    lock.release();
  });

  it('an unreadable lock is taken over once it is old, never while it may still be being written', async () => {
    const dir = freshDir();
    writeLock(dir, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, LOCK_FILE), old, old);
    (await lockDataDir(dir, 'cli')).release();
  });

  it('release never removes a lock another process took over', async () => {
    const dir = freshDir();
    const lock = await lockDataDir(dir, 'cli');
    writeLock(dir, { pid: 1, started: 'x', role: 'serve', since: 'now' });
    lock.release();
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toContain('"pid":1');
  });
});
