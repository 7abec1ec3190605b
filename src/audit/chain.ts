import { createHash } from 'node:crypto';
import type { AuditEvent } from '../db/index.js';

/**
 * The hash chain. Each event's hash covers the previous event's hash and a canonical JSON of every
 * field of the event (sorted keys, no whitespace, timestamps as ISO strings, bigint as decimal
 * strings), so altering, removing or reordering any event breaks every hash after it.
 */

export const GENESIS_HASH = '0'.repeat(64);
const DOMAIN = 'rampart-audit:v1';

export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
  return JSON.stringify(value);
}

export type ChainedFields = Omit<AuditEvent, 'hash'>;

/** The fields the hash covers: all of them except the hash itself. */
export function hashedPayload(event: ChainedFields): Record<string, unknown> {
  return {
    id: event.id,
    tenant_id: event.tenant_id,
    chain: event.chain,
    seq: event.seq,
    occurred_at: event.occurred_at,
    actor_type: event.actor_type,
    actor_id: event.actor_id,
    on_behalf_of: event.on_behalf_of,
    action: event.action,
    target_type: event.target_type,
    target_id: event.target_id,
    diff: event.diff ?? null,
    ip: event.ip,
    user_agent: event.user_agent,
    device_id: event.device_id,
    justification: event.justification,
    request_id: event.request_id,
    prev_hash: event.prev_hash,
  };
}

export function eventHash(event: ChainedFields): string {
  return createHash('sha256').update(`${DOMAIN}\n${event.prev_hash}\n${canonicalJson(hashedPayload(event))}`).digest('hex');
}
