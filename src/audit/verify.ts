import { sql } from 'kysely';
import type { AuditEvent, Database } from '../db/index.js';
import { unsafeAsSystem } from '../db/index.js';
import { eventHash, GENESIS_HASH } from './chain.js';
import { checkpointSignatureValid, type CheckpointVerifier } from './checkpoint.js';

/**
 * `rampart audit verify`: walks every chain in seq order and every checkpoint, and names the first
 * event that was altered, removed or reordered (control: MO-1).
 *
 * - altered: the stored hash is not the hash of the stored fields;
 * - removed: a seq is missing, or the next event's prev_hash is not the previous hash;
 * - reordered: an event's prev_hash points at a different predecessor than the one before it;
 * - truncated: a signed checkpoint names a seq or hash the chain no longer has;
 * - bad_checkpoint: a checkpoint's signature does not verify under a known key.
 */

export type ProblemKind = 'altered' | 'removed' | 'reordered' | 'truncated' | 'bad_checkpoint';
export type ChainProblem = { kind: ProblemKind; seq: bigint; eventId: string | null; message: string };
export type ChainReport = { chain: string; tenantId: string | null; events: number; checkpoints: number; lastCheckpointSeq: bigint | null; problem: ChainProblem | null };
export type VerifyReport = { ok: boolean; chains: ChainReport[]; events: number; durationMs: number };

const PAGE = 5000;

async function verifyChain(db: Database, chain: string, verifier: CheckpointVerifier): Promise<ChainReport> {
  const report: ChainReport = { chain, tenantId: null, events: 0, checkpoints: 0, lastCheckpointSeq: null, problem: null };
  const found = (problem: ChainProblem) => {
    report.problem ??= problem;
  };
  const hashesBySeq = new Map<bigint, string>();
  let expectedSeq = 1n;
  let previousHash = GENESIS_HASH;
  let afterSeq = 0n;
  for (;;) {
    const page: AuditEvent[] = await db.owner.selectFrom('audit_events').selectAll().where('chain', '=', chain).where('seq', '>', afterSeq).orderBy('seq').limit(PAGE).execute();
    for (const event of page) {
      report.events += 1;
      report.tenantId ??= event.tenant_id;
      if (report.problem) continue;
      const { hash, ...fields } = event;
      if (event.seq !== expectedSeq) {
        found({ kind: 'removed', seq: expectedSeq, eventId: event.id, message: `event seq ${expectedSeq} is missing before seq ${event.seq} (${event.id}): removed` });
      } else if (eventHash(fields) !== hash) {
        found({ kind: 'altered', seq: event.seq, eventId: event.id, message: `event seq ${event.seq} (${event.id}) was altered: its content does not match its hash` });
      } else if (event.prev_hash !== previousHash) {
        const kind: ProblemKind = hashesBySeq.size > 0 && [...hashesBySeq.values()].includes(event.prev_hash) ? 'reordered' : 'removed';
        found({ kind, seq: event.seq, eventId: event.id, message: `event seq ${event.seq} (${event.id}) does not follow seq ${expectedSeq - 1n}: the chain was ${kind === 'reordered' ? 'reordered' : 'cut'} here` });
      }
      hashesBySeq.set(event.seq, hash);
      previousHash = hash;
      expectedSeq = event.seq + 1n;
    }
    if (page.length < PAGE) break;
    afterSeq = page.at(-1)!.seq;
  }
  const checkpoints = await db.owner.selectFrom('audit_checkpoints').selectAll().where('chain', '=', chain).orderBy('seq').execute();
  report.checkpoints = checkpoints.length;
  for (const checkpoint of checkpoints) {
    report.tenantId ??= checkpoint.tenant_id;
    if (!checkpointSignatureValid(checkpoint, verifier)) {
      found({ kind: 'bad_checkpoint', seq: checkpoint.seq, eventId: null, message: `checkpoint at seq ${checkpoint.seq} has an invalid signature or an unknown key ${checkpoint.key_id}` });
      continue;
    }
    report.lastCheckpointSeq = checkpoint.seq;
    const stored = hashesBySeq.get(checkpoint.seq);
    if (stored === undefined) {
      found({ kind: 'truncated', seq: checkpoint.seq, eventId: null, message: `signed checkpoint covers seq ${checkpoint.seq} but the chain ends at seq ${expectedSeq - 1n}: events were removed from its end` });
    } else if (stored !== checkpoint.hash) {
      found({ kind: 'altered', seq: checkpoint.seq, eventId: null, message: `event seq ${checkpoint.seq} differs from its signed checkpoint` });
    }
  }
  return report;
}

export async function verifyAuditLog({ db, verifier, chains }: { db: Database; verifier: CheckpointVerifier; chains?: string[] }): Promise<VerifyReport> {
  const started = performance.now();
  const all = await unsafeAsSystem(db, { reason: 'audit verification reads every chain' }, async (trx) => {
    const { rows } = await sql<{ chain: string }>`select chain from audit_events union select chain from audit_checkpoints order by chain`.execute(trx);
    return rows.map((row) => row.chain);
  });
  const selected = chains ? all.filter((chain) => chains.includes(chain)) : all;
  const reports: ChainReport[] = [];
  for (const chain of selected) reports.push(await verifyChain(db, chain, verifier));
  return {
    ok: reports.every((r) => !r.problem),
    chains: reports,
    events: reports.reduce((n, r) => n + r.events, 0),
    durationMs: Math.round(performance.now() - started),
  };
}
