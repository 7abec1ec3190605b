import type { AuditLog } from '../../../audit/index.js';
import { systemClock, type Clock, type Logger } from '../../../core/index.js';
import { unsafeAsSystem, type Database, type JobQueue } from '../../../db/index.js';

/**
 * Housekeeping for identity secrets that outlived their use: sessions revoked or expired more than
 * `retentionDays` ago (kept that long for "your devices" history and incident review), unused
 * invitations past their expiry, magic links, setup tokens and WebAuthn challenges that are spent
 * or expired. Every tenant at once, so it runs as the owner role through `unsafeAsSystem` with a
 * stated reason, and records one system audit event with the counts. Only hashes are deleted:
 * nothing here could be replayed anyway, but a smaller table is a smaller leak.
 */

export const IDENTITY_PURGE_JOB = 'identity.purge';
export const DEFAULT_SESSION_RETENTION_DAYS = 30;

export type PurgeCounts = { sessions: number; invitations: number; magicLinks: number; setupTokens: number; webauthnChallenges: number };

export async function purgeExpiredIdentityData(deps: { db: Database; audit: AuditLog; clock?: Clock; log?: Logger }, options: { retentionDays?: number } = {}): Promise<PurgeCounts> {
  const now = (deps.clock ?? systemClock).now();
  const retentionDays = options.retentionDays ?? DEFAULT_SESSION_RETENTION_DAYS;
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  return unsafeAsSystem(deps.db, { reason: 'purge expired identity tokens and sessions in every tenant', ...(deps.log ? { log: deps.log } : {}) }, async (trx) => {
    const count = (rows: unknown[]) => rows.length;
    const webauthnChallenges = count(await trx.deleteFrom('webauthn_challenges').where((eb) => eb.or([eb('expires_at', '<', now), eb('used_at', 'is not', null)])).returning('id').execute());
    const sessions = count(
      await trx
        .deleteFrom('sessions')
        .where((eb) => eb.or([eb('revoked_at', '<', cutoff), eb('absolute_expires_at', '<', cutoff), eb('idle_expires_at', '<', cutoff)]))
        .returning('id')
        .execute(),
    );
    const invitations = count(await trx.deleteFrom('invitations').where('used_at', 'is', null).where('expires_at', '<', now).returning('id').execute());
    const magicLinks = count(await trx.deleteFrom('magic_links').where((eb) => eb.or([eb('expires_at', '<', now), eb('used_at', 'is not', null)])).returning('id').execute());
    const setupTokens = count(
      await trx
        .deleteFrom('setup_tokens')
        .where((eb) => eb.or([eb('expires_at', '<', now), eb('revoked_at', 'is not', null), eb('used_at', 'is not', null)]))
        .returning('id')
        .execute(),
    );
    const counts = { sessions, invitations, magicLinks, setupTokens, webauthnChallenges };
    await deps.audit.record(trx, {
      tenantId: null,
      actor: { type: 'system', id: IDENTITY_PURGE_JOB },
      action: 'identity.purge.completed',
      diff: Object.fromEntries([...Object.entries(counts).map(([k, v]) => [k, { after: v }]), ['retention_days', { after: retentionDays }]]),
    });
    return counts;
  });
}

/** Registers the purge job kind on the queue (the composition root schedules it). */
export function registerIdentityJobs(jobs: JobQueue, deps: { db: Database; audit: AuditLog; log?: Logger; retentionDays?: number }): void {
  jobs.register(IDENTITY_PURGE_JOB, async () => {
    const counts = await purgeExpiredIdentityData(deps, deps.retentionDays ? { retentionDays: deps.retentionDays } : {});
    deps.log?.info({ purged: counts }, 'identity purge finished');
  });
}
