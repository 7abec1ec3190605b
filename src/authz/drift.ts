import { sql } from 'kysely';
import { canonicalJson, type AuditLog } from '../audit/index.js';
import { systemClock, uuidv7, type Clock, type Logger } from '../core/index.js';
import { listTenants, unsafeAsSystem, type Database, type GrantTriple } from '../db/index.js';
import { diffGrants, grantKey, loadPolicyData, policyDigest, type StoredPolicy } from './store.js';
import type { AttributeRule } from './types.js';

/**
 * Permission drift (control AZ-4). A snapshot of each tenant's effective matrix, rules and custom
 * policies is taken on a schedule and diffed against the previous one. Every grant that appeared
 * (or vanished) must be explained by an applied change recorded since that snapshot — the only
 * path the API and CLI have. A grant written any other way (a direct SQL fix, a bug, an intruder)
 * is unexplained: it is reported and raises an `authz.drift.detected` audit event, which the
 * `permission-drift` alert rule turns into a critical alert (MO-2).
 */

export type DriftReport = {
  tenantId: string;
  snapshotId: string;
  previousSnapshotAt: Date | null;
  added: GrantTriple[];
  removed: GrantTriple[];
  unexplainedAdded: GrantTriple[];
  unexplainedRemoved: GrantTriple[];
  policiesChanged: string[];
  unexplainedPolicies: string[];
  rulesChanged: string[];
  unexplainedRules: string[];
  drifted: boolean;
};

/** Changes applied shortly before the previous snapshot may have committed after it read. */
const SLACK_MS = 5 * 60_000;

type ChangeRow = { kind: string; added: unknown; removed: unknown };

export async function runDrift({ db, audit, tenantId, clock = systemClock, log }: { db: Database; audit: AuditLog; tenantId: string; clock?: Clock; log?: Logger }): Promise<DriftReport> {
  return unsafeAsSystem(db, { reason: 'drift snapshots are written by the system', ...(log ? { log } : {}) }, async (trx) => {
    // One drift run per tenant at a time (the nightly job and `rampart drift` may overlap).
    await sql`select pg_advisory_xact_lock(72617003, hashtext(${tenantId}))`.execute(trx);
    const now = clock.now();
    const current = await loadPolicyData(trx, tenantId);
    const last = await trx.selectFrom('authz_snapshots').selectAll().where('tenant_id', '=', tenantId).orderBy('taken_at', 'desc').limit(1).executeTakeFirst();
    const before = { grants: (last?.grants ?? []) as GrantTriple[], policies: (last?.policies ?? []) as StoredPolicy[], rules: (last?.rules ?? []) as AttributeRule[] };
    const { added, removed } = diffGrants(before.grants, current.grants);

    let changes = trx.selectFrom('authz_changes').select(['kind', 'added', 'removed']).where('tenant_id', '=', tenantId).where('status', '=', 'applied');
    if (last) changes = changes.where('applied_at', '>=', new Date(last.taken_at.getTime() - SLACK_MS));
    const applied: ChangeRow[] = await changes.execute();
    const explainedAdded = new Set(applied.flatMap((c) => (c.kind === 'policy' ? [] : (c.added as GrantTriple[]).map(grantKey))));
    const explainedRemoved = new Set(applied.flatMap((c) => (c.kind === 'policy' ? [] : (c.removed as GrantTriple[]).map(grantKey))));
    const explainedPolicies = new Set(applied.flatMap((c) => (c.kind === 'policy' ? [...(c.added as StoredPolicy[]), ...(c.removed as StoredPolicy[])].map((p) => p.id) : [])));
    const explainedRules = new Set(applied.flatMap((c) => (c.kind === 'rule' ? [...(c.added as AttributeRule[]), ...(c.removed as AttributeRule[])].map((r) => r.id) : [])));
    const beforeRules = new Map(before.rules.map((r) => [r.id, canonicalJson(r)]));
    const afterRules = new Map(current.rules.map((r) => [r.id, canonicalJson(r)]));
    const rulesChanged = [...new Set([...beforeRules.keys(), ...afterRules.keys()])].filter((id) => beforeRules.get(id) !== afterRules.get(id)).sort();

    const beforePolicies = new Map(before.policies.map((p) => [p.id, p.cedar]));
    const afterPolicies = new Map(current.policies.map((p) => [p.id, p.cedar]));
    const policiesChanged = [...new Set([...beforePolicies.keys(), ...afterPolicies.keys()])].filter((id) => beforePolicies.get(id) !== afterPolicies.get(id)).sort();

    const report: DriftReport = {
      tenantId,
      snapshotId: uuidv7(now.getTime()),
      previousSnapshotAt: last?.taken_at ?? null,
      added,
      removed,
      unexplainedAdded: added.filter((g) => !explainedAdded.has(grantKey(g))),
      unexplainedRemoved: removed.filter((g) => !explainedRemoved.has(grantKey(g))),
      policiesChanged,
      unexplainedPolicies: policiesChanged.filter((id) => !explainedPolicies.has(id)),
      rulesChanged,
      unexplainedRules: rulesChanged.filter((id) => !explainedRules.has(id)),
      drifted: false,
    };
    report.drifted = report.unexplainedAdded.length + report.unexplainedRemoved.length + report.unexplainedPolicies.length + report.unexplainedRules.length > 0;

    await trx
      .insertInto('authz_snapshots')
      .values({ tenant_id: tenantId, id: report.snapshotId, taken_at: now, grants: JSON.stringify(current.grants), rules: JSON.stringify(current.rules), policies: JSON.stringify(current.policies), digest: policyDigest(current) })
      .execute();
    if (report.drifted) {
      await audit.record(trx, {
        tenantId,
        actor: { type: 'system', id: 'drift' },
        action: 'authz.drift.detected',
        target: { type: 'matrix', id: tenantId },
        diff: {
          unexplained_added: { after: report.unexplainedAdded.map(grantKey) },
          unexplained_removed: { after: report.unexplainedRemoved.map(grantKey) },
          unexplained_policies: { after: report.unexplainedPolicies },
          unexplained_rules: { after: report.unexplainedRules },
        },
      });
      log?.warn({ tenant: tenantId, added: report.unexplainedAdded.length, removed: report.unexplainedRemoved.length, policies: report.unexplainedPolicies.length }, 'permission drift detected');
    }
    return report;
  });
}

export async function runDriftForAllTenants(options: { db: Database; audit: AuditLog; clock?: Clock; log?: Logger }): Promise<DriftReport[]> {
  const reports: DriftReport[] = [];
  for (const tenant of await listTenants(options.db)) reports.push(await runDrift({ ...options, tenantId: tenant.id }));
  return reports;
}
