import { systemClock, type Clock, type Logger } from '../core/index.js';
import { actorId, withTenant, type Actor, type Database } from '../db/index.js';
import type { AuditLog } from './log.js';
import type { RequestContext } from './record.js';
import type { DenialFacts } from '../http/index.js';

/**
 * Denied attempts are evidence (AZ-2, MO-2). The HTTP pipeline reports every refusal it sends to
 * an authenticated principal (403, and the 404 a hidden or absent record gets) here, after the
 * request's own transaction has rolled back, and each is written in a transaction of its own.
 *
 * A scan must not flood the log: per principal, at most `perMinute` denials are written in each
 * window of `windowMs`; the rest are counted and written as one `authz.denied.suppressed` event
 * once the window has ended (on that principal's next denial, on the periodic sweep, or at close).
 * The windows live in this node's memory: with several nodes each writes up to the limit, and a
 * restart forgets the windows that were open (their suppressed counts are flushed at close).
 */

export const DENIED_ACTION = 'authz.denied';
export const SUPPRESSED_ACTION = 'authz.denied.suppressed';

/** A refusal as the audit log keeps it: the pipeline's facts (`http/routes.ts`), who and where. */
export type DeniedAttempt = DenialFacts & { tenantId: string; actor: Actor; context?: RequestContext };

export type DenialRecorder = {
  record(attempt: DeniedAttempt): Promise<void>;
  /** Writes the summary of every window that has ended. */
  flush(): Promise<void>;
  /** Stops the sweep and writes every pending summary, ended or not. */
  close(): Promise<void>;
};

export type DenialRecorderOptions = {
  db: Database;
  audit: AuditLog;
  log: Pick<Logger, 'error'>;
  clock?: Clock;
  perMinute?: number;
  windowMs?: number;
  /** Principals tracked at once; beyond it, windows that ended are dropped first. */
  maxPrincipals?: number;
  /** Sweep interval for ended windows; 0 disables the timer (tests call flush()). */
  sweepMs?: number;
};

type Window = { tenantId: string; actor: Actor; start: number; written: number; suppressed: number; last?: DeniedAttempt };

export function createDenialRecorder(options: DenialRecorderOptions): DenialRecorder {
  const { db, audit, log } = options;
  const clock = options.clock ?? systemClock;
  const limit = options.perMinute ?? 20;
  const windowMs = options.windowMs ?? 60_000;
  const maxPrincipals = options.maxPrincipals ?? 10_000;
  const windows = new Map<string, Window>();

  const write = (tenantId: string, actor: Actor, fn: Parameters<AuditLog['record']>[1]) =>
    withTenant(db, { tenantId, actor }, (trx) => audit.record(trx, fn)).then(
      () => undefined,
      // The refusal stands whatever happens here: a failed audit write is logged, never a 500.
      (error: Error) => log.error({ err: { message: error.message }, action: fn.action }, 'denied attempt not audited'),
    );

  const summarise = (w: Window) =>
    w.suppressed === 0
      ? Promise.resolve()
      : write(w.tenantId, w.actor, {
          tenantId: w.tenantId,
          actor: w.actor,
          action: SUPPRESSED_ACTION,
          target: { type: 'principal', id: actorId(w.actor) },
          diff: {
            suppressed: { after: w.suppressed },
            limit_per_window: { after: limit },
            window_start: { after: new Date(w.start).toISOString() },
            window_seconds: { after: windowMs / 1000 },
            last_action: { after: w.last?.action },
            last_resource: { after: w.last?.resource },
          },
          ...(w.last?.context ? { context: w.last.context } : {}),
        });

  const flushWhere = async (ended: (w: Window) => boolean) => {
    const due = [...windows].filter(([, w]) => ended(w));
    for (const [key] of due) windows.delete(key);
    for (const [, w] of due) await summarise(w);
  };
  const hasEnded = (w: Window) => clock.now().getTime() - w.start >= windowMs;

  const sweepMs = options.sweepMs ?? windowMs;
  const sweep = sweepMs > 0 ? setInterval(() => void flushWhere(hasEnded), sweepMs) : undefined;
  sweep?.unref();

  return {
    async record(attempt) {
      const key = `${attempt.tenantId}\u0000${attempt.actor.type}\u0000${actorId(attempt.actor)}`;
      let w = windows.get(key);
      if (w && hasEnded(w)) {
        windows.delete(key);
        await summarise(w);
        w = undefined;
      }
      if (!w) {
        if (windows.size >= maxPrincipals) await flushWhere(hasEnded);
        w = { tenantId: attempt.tenantId, actor: attempt.actor, start: clock.now().getTime(), written: 0, suppressed: 0 };
        // Still full of open windows: write this one unthrottled rather than lose it.
        if (windows.size < maxPrincipals) windows.set(key, w);
      }
      if (w.written >= limit) {
        w.suppressed += 1;
        w.last = attempt;
        return;
      }
      w.written += 1;
      await write(attempt.tenantId, attempt.actor, {
        tenantId: attempt.tenantId,
        actor: attempt.actor,
        action: DENIED_ACTION,
        target: { type: attempt.resource, ...(attempt.recordId ? { id: attempt.recordId } : {}) },
        diff: {
          action: { after: attempt.action },
          route: { after: attempt.route },
          path: { after: attempt.path },
          status: { after: attempt.status },
          ...(attempt.reason ? { reason: { after: attempt.reason } } : {}),
        },
        ...(attempt.context ? { context: attempt.context } : {}),
      });
    },
    flush: () => flushWhere(hasEnded),
    async close() {
      if (sweep) clearInterval(sweep);
      await flushWhere(() => true);
    },
  };
}
