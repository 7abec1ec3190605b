import { sql, type Transaction } from 'kysely';
import { systemClock, uuidv7, type Clock } from '../core/index.js';
import type { Alert, AlertSeverity, AuditEvent, Schema } from '../db/index.js';

/**
 * Alert rules (control: MO-2), evaluated on every recorded event inside the same transaction, so
 * an alert exists exactly when its event does. Alerts are rows delivered to webhook and email
 * sinks from a persisted cursor, like audit events to the SIEM.
 */

export type AlertRule = {
  id: string;
  severity: AlertSeverity;
  /** Cheap filter on the event alone. */
  matches(event: AuditEvent): boolean;
  /** Optional second stage that may query (thresholds over a window). */
  confirm?(trx: Transaction<Schema>, event: AuditEvent): Promise<boolean>;
  summary(event: AuditEvent): string;
};

const after = (event: AuditEvent, field: string): unknown => ((event.diff ?? {}) as Record<string, { after?: unknown }>)[field]?.after;
const who = (event: AuditEvent) => (event.actor_type === 'agent' ? `agent ${event.actor_id} for ${event.on_behalf_of}` : `${event.actor_type} ${event.actor_id ?? ''}`.trim());

export type AlertRuleOptions = {
  highPrivilegeRoles?: string[];
  signInFailures?: { count: number; windowSeconds: number };
  /** Denials of one principal that make a burst (keep `count` at or below the recorder's per-minute limit). */
  denialBurst?: { count: number; windowSeconds: number };
};

export function builtInAlertRules(options: AlertRuleOptions = {}): AlertRule[] {
  const highPrivilege = new Set(options.highPrivilegeRoles ?? ['owner', 'admin', 'finance']);
  const spike = options.signInFailures ?? { count: 20, windowSeconds: 300 };
  const burst = options.denialBurst ?? { count: 10, windowSeconds: 60 };
  return [
    {
      id: 'permission-change',
      severity: 'high',
      matches: (e) => /^authz\.(matrix|policy|rule)\./.test(e.action),
      summary: (e) => `permissions changed (${e.action}) by ${who(e)}${e.target_id ? ` on ${e.target_id}` : ''}`,
    },
    {
      id: 'permission-drift',
      severity: 'critical',
      matches: (e) => e.action === 'authz.drift.detected',
      summary: () => 'permissions changed outside any recorded, approved change (drift)',
    },
    {
      id: 'role-escalation',
      severity: 'critical',
      matches: (e) => /^member\.role\.(granted|changed)$/.test(e.action) && highPrivilege.has(String(after(e, 'role'))),
      summary: (e) => `high-privilege role ${String(after(e, 'role'))} granted to ${e.target_id ?? 'a member'} by ${who(e)}`,
    },
    {
      id: 'payout-edit',
      severity: 'critical',
      matches: (e) => /^billing\.(payout|bank_details|payout_method)\./.test(e.action),
      summary: (e) => `payout or bank details changed (${e.action}) by ${who(e)}`,
    },
    {
      id: 'identity-attack',
      severity: 'high',
      matches: (e) => /^identity\.attack\./.test(e.action),
      summary: (e) => `${e.action.slice('identity.attack.'.length).replaceAll('_', ' ')} detected${e.ip ? ` from ${e.ip}` : ''}`,
    },
    {
      // control: ID-5 — a passkey whose signature counter went backwards may have been cloned.
      id: 'passkey-counter-regression',
      severity: 'high',
      matches: (e) => e.action === 'identity.passkey.counter_regression',
      summary: (e) => `passkey signature counter went backwards for ${e.target_type ?? 'user'} ${e.target_id ?? ''}: possible cloned authenticator`.trim(),
    },
    {
      id: 'signin-failure-spike',
      severity: 'high',
      matches: (e) => e.action === 'identity.signin.failed',
      async confirm(trx, e) {
        const since = new Date(e.occurred_at.getTime() - spike.windowSeconds * 1000);
        const failures = await trx
          .selectFrom('audit_events')
          .select(sql<bigint>`count(*)`.as('n'))
          .where('chain', '=', e.chain)
          .where('action', '=', 'identity.signin.failed')
          .where('occurred_at', '>', since)
          .executeTakeFirstOrThrow();
        if (Number(failures.n) < spike.count) return false;
        // One alert per window, not one per failure.
        const recent = await trx.selectFrom('alerts').select('id').where('chain', '=', e.chain).where('rule', '=', 'signin-failure-spike').where('created_at', '>', since).executeTakeFirst();
        return !recent;
      },
      summary: () => `sign-in failures reached ${spike.count} within ${spike.windowSeconds} s`,
    },
    {
      // control: AZ-2 — one principal refused again and again is probing: ids, routes or rights.
      id: 'authz-denial-burst',
      severity: 'high',
      matches: (e) => e.action === 'authz.denied' || e.action === 'authz.denied.suppressed',
      async confirm(trx, e) {
        const since = new Date(e.occurred_at.getTime() - burst.windowSeconds * 1000);
        const sameActor = (column: 'audit_events.actor_id') => (e.actor_id === null ? sql<boolean>`${sql.ref(column)} is null` : sql<boolean>`${sql.ref(column)} = ${e.actor_id}`);
        // A suppressed summary means the per-minute limit was exceeded: a burst by definition.
        if (e.action === 'authz.denied') {
          const denials = await trx
            .selectFrom('audit_events')
            .select(sql<bigint>`count(*)`.as('n'))
            .where('chain', '=', e.chain)
            .where('action', '=', 'authz.denied')
            .where(sameActor('audit_events.actor_id'))
            .where('occurred_at', '>', since)
            .executeTakeFirstOrThrow();
          if (Number(denials.n) < burst.count) return false;
        }
        // One alert per principal per window, not one per denial.
        const recent = await trx
          .selectFrom('alerts')
          .innerJoin('audit_events', 'audit_events.id', 'alerts.event_id')
          .select('alerts.id')
          .where('alerts.chain', '=', e.chain)
          .where('alerts.rule', '=', 'authz-denial-burst')
          .where('alerts.created_at', '>', since)
          .where(sameActor('audit_events.actor_id'))
          .executeTakeFirst();
        return !recent;
      },
      summary: (e) =>
        e.action === 'authz.denied.suppressed'
          ? `${String(after(e, 'suppressed'))} more authorization denials for ${who(e)} than the per-minute limit`
          : `${burst.count} authorization denials for ${who(e)} within ${burst.windowSeconds} s`,
    },
  ];
}

/** Runs the rules against one event; call with the chain lock held (recordAudit holds it). */
export async function evaluateAlerts(trx: Transaction<Schema>, event: AuditEvent, rules: AlertRule[], clock: Clock = systemClock): Promise<Alert[]> {
  const raised: Alert[] = [];
  for (const rule of rules) {
    if (!rule.matches(event)) continue;
    if (rule.confirm && !(await rule.confirm(trx, event))) continue;
    const head = await trx.selectFrom('alerts').select('seq').where('chain', '=', event.chain).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    const alert: Alert = {
      id: uuidv7(clock.now().getTime()),
      tenant_id: event.tenant_id,
      chain: event.chain,
      seq: (head?.seq ?? 0n) + 1n,
      rule: rule.id,
      severity: rule.severity,
      summary: rule.summary(event).slice(0, 500),
      event_id: event.id,
      created_at: clock.now(),
    };
    await trx.insertInto('alerts').values(alert).execute();
    raised.push(alert);
  }
  return raised;
}
