import type { Alert, AuditEvent } from '../db/index.js';

/**
 * Events leave Rampart in the Elastic Common Schema (ECS 8.x), a documented standard most SIEMs
 * ingest (Elastic, Splunk CIM mappings, OpenSearch, Sentinel). `event.id` is the audit event's
 * UUID, so a SIEM that receives an event twice (delivery is at-least-once) can drop the copy.
 * Fields without an ECS home live under `rampart.*`. Mapping documented in docs/audit.md.
 */

export const ECS_VERSION = '8.11.0';

export type EcsDocument = Record<string, unknown> & { '@timestamp': string; event: { id: string } & Record<string, unknown> };

const categoryOf = (action: string): string[] => {
  if (action.startsWith('identity.')) return ['authentication'];
  if (action.startsWith('authz.') || action.startsWith('member.')) return ['iam'];
  if (action.startsWith('config.') || action.startsWith('app.')) return ['configuration'];
  if (action.startsWith('billing.') || action.startsWith('invoicing.')) return ['process'];
  return ['database'];
};

// `authz.denied.suppressed` summarises denials: a failure outcome like the events it stands for.
const outcomeOf = (action: string): 'success' | 'failure' | 'unknown' => (/\.(failed|denied|refused)(\.suppressed)?$/.test(action) ? 'failure' : 'success');

export function auditEventToEcs(event: AuditEvent): EcsDocument {
  const human = event.actor_type === 'agent' ? event.on_behalf_of : event.actor_id;
  return {
    '@timestamp': event.occurred_at.toISOString(),
    ecs: { version: ECS_VERSION },
    event: {
      id: event.id,
      kind: 'event',
      action: event.action,
      category: categoryOf(event.action),
      outcome: outcomeOf(event.action),
      dataset: 'rampart.audit',
      sequence: Number(event.seq),
      hash: event.hash,
      reason: event.justification ?? undefined,
    },
    organization: event.tenant_id ? { id: event.tenant_id } : undefined,
    user: human ? { id: human } : undefined,
    source: event.ip ? { ip: event.ip } : undefined,
    user_agent: event.user_agent ? { original: event.user_agent } : undefined,
    http: event.request_id ? { request: { id: event.request_id } } : undefined,
    rampart: {
      chain: event.chain,
      seq: event.seq.toString(),
      prev_hash: event.prev_hash,
      actor: { type: event.actor_type, id: event.actor_id, on_behalf_of: event.on_behalf_of },
      target: event.target_type ? { type: event.target_type, id: event.target_id } : undefined,
      device_id: event.device_id ?? undefined,
      diff: event.diff ?? undefined,
      justification: event.justification ?? undefined,
    },
  };
}

export function alertToEcs(alert: Alert): EcsDocument {
  return {
    '@timestamp': alert.created_at.toISOString(),
    ecs: { version: ECS_VERSION },
    event: { id: alert.id, kind: 'alert', dataset: 'rampart.alerts', severity: { low: 21, medium: 47, high: 73, critical: 99 }[alert.severity], action: alert.rule },
    organization: alert.tenant_id ? { id: alert.tenant_id } : undefined,
    message: alert.summary,
    rule: { id: alert.rule, name: alert.rule },
    rampart: { chain: alert.chain, seq: alert.seq.toString(), severity: alert.severity, event_id: alert.event_id },
  };
}

/** Drops undefined members so documents serialise compactly and identically. */
export const compactJson = (doc: unknown): string => JSON.stringify(doc);
