import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * One process per embedded data directory. PGlite is a single-user Postgres: a second process
 * opening the same directory works on its own copy of the pages, so its writes are lost or
 * corrupt the first one's (a CLI rotation that the server never saw, a `matrix set` that aborted).
 *
 * The lock is a file created with O_EXCL holding the owner's pid and process start time. A lock
 * whose pid is dead, or alive but started at another time (the pid was reused), is stale and
 * taken over. It is removed on close; a crash leaves a stale lock the next start takes over.
 */

export const LOCK_FILE = 'rampart.lock';

export type LockHolder = { pid: number; started: string; role: string; since: string };

export class DataDirLockedError extends Error {
  readonly holder: LockHolder;
  readonly dataDir: string;
  constructor(dataDir: string, holder: LockHolder) {
    super(`the data directory ${dataDir} is in use by \`rampart ${holder.role}\` (pid ${holder.pid}, since ${holder.since})`);
    this.name = 'DataDirLockedError';
    this.holder = holder;
    this.dataDir = dataDir;
  }
}

export type DataDirLock = { readonly path: string; release(): void };

/** This process's start time as the kernel records it (Linux), else its boot-relative estimate. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); the command name (field 2) may hold spaces, so count after its ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return pid === process.pid ? String(Math.round(Date.now() / 1000 - process.uptime())) : undefined;
  }
}

function isAlive(holder: LockHolder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const started = startTimeOf(holder.pid);
  return started === undefined || started === holder.started;
}

function readHolder(path: string): { raw: string; holder: LockHolder | undefined } | undefined {
  try {
    const raw = readFileSync(path, 'utf8');
    try {
      const parsed = JSON.parse(raw) as Partial<LockHolder>;
      return { raw, holder: typeof parsed.pid === 'number' && typeof parsed.started === 'string' ? (parsed as LockHolder) : undefined };
    } catch {
      return { raw, holder: undefined };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

const statMs = (path: string): number => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
};

/** Takes the data directory's lock or throws DataDirLockedError naming the live holder. */
export async function lockDataDir(dataDir: string, role: string): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, LOCK_FILE);
  const mine: LockHolder = { pid: process.pid, started: startTimeOf(process.pid) ?? '', role, since: new Date().toISOString() };
  for (let attempt = 0; attempt < 30; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, `${JSON.stringify(mine)}\n`);
      } finally {
        closeSync(fd);
      }
      let released = false;
      return {
        path,
        release() {
          if (released) return;
          released = true;
          // Only our own lock: never remove one a later owner took over.
          if (readHolder(path)?.holder?.pid === process.pid) unlinkSync(path);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const existing = readHolder(path);
    if (!existing) continue; // released between our attempt and the read
    if (existing.holder && isAlive(existing.holder)) throw new DataDirLockedError(dataDir, existing.holder);
    // A file that does not parse is being written right now, or was by a process that died then.
    if (!existing.holder && Date.now() - statMs(path) < 2000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    // Stale: remove it only if it is still the file we judged (another process may have taken over).
    if (readHolder(path)?.raw === existing.raw) unlinkSync(path);
  }
  const holder = readHolder(path)?.holder;
  if (holder) throw new DataDirLockedError(dataDir, holder);
  throw new Error(`could not take the lock ${path}`);
}
