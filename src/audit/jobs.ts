import type { Logger } from '../core/index.js';
import type { Database, JobQueue } from '../db/index.js';
import { writeCheckpoints, type CheckpointSigner } from './checkpoint.js';
import { deliverPending } from './deliver.js';
import type { Sink } from './sinks.js';

export type AuditJobOptions = {
  db: Database;
  log: Logger;
  signer: CheckpointSigner;
  auditSinks: Sink[];
  alertSinks: Sink[];
};

/** Recurring work: signed checkpoints of every chain head, and delivery to each sink. */
export function registerAuditJobs(jobs: JobQueue, { db, log, signer, auditSinks, alertSinks }: AuditJobOptions): void {
  jobs.register('audit.checkpoint', async () => {
    const written = await writeCheckpoints({ db, signer, log });
    if (written.length) log.info({ checkpoints: written.length }, 'audit checkpoints written');
  });
  const sinks = [...auditSinks.map((sink) => ({ sink, source: 'audit' as const })), ...alertSinks.map((sink) => ({ sink, source: 'alerts' as const }))];
  for (const { sink, source } of sinks) {
    jobs.register(`audit.deliver.${source}.${sink.name}`, async () => {
      const result = await deliverPending({ db, sink, source });
      if (result.delivered) log.debug({ sink: sink.name, source, delivered: result.delivered }, 'delivered to sink');
    });
  }
}

export async function scheduleAuditJobs(jobs: JobQueue, { checkpointIntervalSeconds, deliverIntervalSeconds, sinkNames }: { checkpointIntervalSeconds: number; deliverIntervalSeconds: number; sinkNames: Array<{ name: string; source: 'audit' | 'alerts' }> }): Promise<void> {
  await jobs.schedule({ key: 'audit.checkpoint', kind: 'audit.checkpoint', intervalSeconds: checkpointIntervalSeconds });
  for (const { name, source } of sinkNames) {
    const kind = `audit.deliver.${source}.${name}`;
    // Many attempts: a sink that is down for a long time keeps being retried, never given up on.
    await jobs.schedule({ key: kind, kind, intervalSeconds: deliverIntervalSeconds, maxAttempts: 100 });
  }
}
