import { isIP } from 'node:net';
import { sql, type Transaction } from 'kysely';
import { RampartError, systemClock, uuidv7, type Clock } from '../core/index.js';
import type { Actor, AuditEvent, Schema } from '../db/index.js';
import { eventHash, GENESIS_HASH } from './chain.js';
import type { AuditDiff } from './redact.js';

/**
 * Appends one event to its chain, inside the caller's transaction (invariant 3: the audit event
 * commits or rolls back with the change it records). Called inside `withTenant()` for tenant
 * events (RLS lets a tenant write only its own chain) and inside `unsafeAsSystem()` for system
 * events (`tenantId: null`).
 */

export type RequestContext = { ip?: string | undefined; userAgent?: string | undefined; deviceId?: string | undefined; requestId?: string | undefined };

export type AuditInput = {
  tenantId: string | null;
  actor: Actor;
  action: string;
  target?: { type: string; id?: string | undefined };
  diff?: AuditDiff | null;
  justification?: string | undefined;
  context?: RequestContext;
};

const ACTION = /^[a-z][a-z0-9_.:-]{0,99}$/;
/** Same lock space as nothing else in Rampart; the second key is the chain's hash. */
const CHAIN_LOCK_SPACE = 72_617_002;

const clip = (value: string | undefined, max: number) => (value === undefined || value === '' ? null : value.slice(0, max));

function actorColumns(actor: Actor): Pick<AuditEvent, 'actor_type' | 'actor_id' | 'on_behalf_of'> {
  switch (actor.type) {
    case 'anonymous':
      return { actor_type: 'anonymous', actor_id: null, on_behalf_of: null };
    case 'agent':
      return { actor_type: 'agent', actor_id: actor.id, on_behalf_of: actor.onBehalfOf };
    default:
      return { actor_type: actor.type, actor_id: actor.id, on_behalf_of: null };
  }
}

export const chainOf = (tenantId: string | null): string => tenantId ?? 'system';

/** Serialises appends to one chain until the transaction ends. */
export async function lockChain(trx: Transaction<Schema>, chain: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${CHAIN_LOCK_SPACE}, hashtext(${chain}))`.execute(trx);
}

export async function recordAudit(trx: Transaction<Schema>, input: AuditInput, clock: Clock = systemClock): Promise<AuditEvent> {
  if (!ACTION.test(input.action)) throw new RampartError('validation_failed', { detail: `audit action "${input.action.slice(0, 40)}" is not a dotted lowercase name` });
  const chain = chainOf(input.tenantId);
  await lockChain(trx, chain);
  const head = await trx.selectFrom('audit_events').select(['seq', 'hash']).where('chain', '=', chain).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  const now = clock.now();
  const fields = {
    id: uuidv7(now.getTime()),
    tenant_id: input.tenantId,
    chain,
    seq: (head?.seq ?? 0n) + 1n,
    occurred_at: now,
    ...actorColumns(input.actor),
    action: input.action,
    target_type: clip(input.target?.type, 100),
    target_id: clip(input.target?.id, 200),
    diff: input.diff ?? null,
    ip: input.context?.ip && isIP(input.context.ip) ? input.context.ip : null,
    user_agent: clip(input.context?.userAgent, 512),
    device_id: clip(input.context?.deviceId, 200),
    justification: clip(input.justification, 2000),
    request_id: clip(input.context?.requestId, 128),
    prev_hash: head?.hash ?? GENESIS_HASH,
  };
  const event: AuditEvent = { ...fields, hash: eventHash(fields) };
  await trx
    .insertInto('audit_events')
    .values({ ...event, diff: event.diff === null ? null : JSON.stringify(event.diff) })
    .execute();
  return event;
}
