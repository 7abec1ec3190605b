import { sql } from 'kysely';
import type { Alert, AuditEvent, Database } from '../db/index.js';
import { alertToEcs, auditEventToEcs, type EcsDocument } from './ecs.js';
import type { Sink } from './sinks.js';

/**
 * At-least-once delivery from a persisted cursor per (sink, chain). Within a chain, seq order is
 * commit order (appends hold the chain lock until commit), so "everything after my cursor" never
 * skips an event that commits late. The cursor moves only after the sink accepted the batch.
 */

type Source = { table: 'audit_events' | 'alerts'; cursors: 'audit_sink_cursors' | 'alert_sink_cursors'; toEcs: (row: never) => EcsDocument };

const SOURCES = {
  audit: { table: 'audit_events', cursors: 'audit_sink_cursors', toEcs: (row: AuditEvent) => auditEventToEcs(row) },
  alerts: { table: 'alerts', cursors: 'alert_sink_cursors', toEcs: (row: Alert) => alertToEcs(row) },
} as const;

export type DeliveryResult = { delivered: number; batches: number };

export async function deliverPending({
  db,
  sink,
  source,
  batchSize = 500,
  perChain = 200,
  maxBatches = 20,
}: {
  db: Database;
  sink: Sink;
  source: keyof typeof SOURCES;
  batchSize?: number;
  perChain?: number;
  maxBatches?: number;
}): Promise<DeliveryResult> {
  const { table, cursors, toEcs } = SOURCES[source] as Source;
  const result: DeliveryResult = { delivered: 0, batches: 0 };
  while (result.batches < maxBatches) {
    // Up to perChain rows from each chain, so one busy tenant cannot starve the others.
    const { rows } = await sql<{ chain: string; seq: bigint } & Record<string, unknown>>`
      select * from (
        select e.*, row_number() over (partition by e.chain order by e.seq) as rank_in_chain
          from ${sql.table(table)} e
          left join ${sql.table(cursors)} c on c.sink = ${sink.name} and c.chain = e.chain
         where e.seq > coalesce(c.last_seq, 0)
      ) pending
      where rank_in_chain <= ${perChain}
      order by chain, seq
      limit ${batchSize}`.execute(db.owner);
    if (rows.length === 0) break;
    await sink.send(rows.map((row) => toEcs(row as never)));
    const heads = new Map<string, bigint>();
    for (const row of rows) heads.set(row.chain, row.seq > (heads.get(row.chain) ?? 0n) ? row.seq : heads.get(row.chain)!);
    await db.owner.transaction().execute(async (trx) => {
      for (const [chain, seq] of heads) {
        await sql`insert into ${sql.table(cursors)} (sink, chain, last_seq, updated_at) values (${sink.name}, ${chain}, ${seq}, now())
                  on conflict (sink, chain) do update set last_seq = greatest(${sql.table(cursors)}.last_seq, excluded.last_seq), updated_at = now()`.execute(trx);
      }
    });
    result.delivered += rows.length;
    result.batches += 1;
    if (rows.length < batchSize) break;
  }
  return result;
}

/** How far behind each sink is, per chain (for `rampart audit sinks` and readiness later). */
export async function sinkLag(db: Database, sinkName: string, source: keyof typeof SOURCES): Promise<number> {
  const { table, cursors } = SOURCES[source] as Source;
  const { rows } = await sql<{ n: bigint }>`
    select count(*) as n from ${sql.table(table)} e
      left join ${sql.table(cursors)} c on c.sink = ${sinkName} and c.chain = e.chain
     where e.seq > coalesce(c.last_seq, 0)`.execute(db.owner);
  return Number(rows[0]?.n ?? 0);
}
