import { z } from 'zod';
import { RampartError } from '../core/index.js';
import type { Database } from '../db/index.js';
import { defineRoute, withCaller, type RouteDefinition } from '../http/index.js';
import { verifyAuditLog } from './verify.js';
import type { CheckpointVerifier } from './checkpoint.js';

/** The audit log as the admin API shows it: searchable, paginated, verifiable (MO-1). */

const listQuery = z.strictObject({
  action: z.string().max(100).optional(),
  actor: z.string().max(200).optional(),
  target_type: z.string().max(100).optional(),
  target_id: z.string().max(200).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  /** Cursor: return events with seq below this one (newest first). */
  before: z.coerce.bigint().positive().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export function auditRoutes({ db, verifier }: { db: Database; verifier: CheckpointVerifier }): RouteDefinition[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/audit/events',
      auth: { action: 'list', resource: 'audit_event' },
      summary: 'Audit events of the caller’s tenant, newest first, filtered',
      query: listQuery,
      handler: async ({ principal, query }) => {
        const caller = principal;
        const items = await withCaller(
          db,
          caller,
          (trx) => {
            let q = trx.selectFrom('audit_events').selectAll().orderBy('seq', 'desc').limit(query.limit + 1);
            if (query.action) q = q.where('action', query.action.endsWith('*') ? 'like' : '=', query.action.endsWith('*') ? `${query.action.slice(0, -1).replace(/[\\%_]/g, '\\$&')}%` : query.action);
            if (query.actor) q = q.where((eb) => eb.or([eb('actor_id', '=', query.actor!), eb('on_behalf_of', '=', query.actor!)]));
            if (query.target_type) q = q.where('target_type', '=', query.target_type);
            if (query.target_id) q = q.where('target_id', '=', query.target_id);
            if (query.from) q = q.where('occurred_at', '>=', new Date(query.from));
            if (query.to) q = q.where('occurred_at', '<', new Date(query.to));
            if (query.before) q = q.where('seq', '<', query.before);
            return q.execute();
          },
          { readOnly: true },
        );
        const page = items.slice(0, query.limit);
        return { items: page, next_cursor: items.length > query.limit ? page.at(-1)!.seq.toString() : null };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/audit/events/:id',
      auth: { action: 'read', resource: 'audit_event' },
      summary: 'One audit event with its before/after diff',
      params: z.strictObject({ id: z.uuid() }),
      handler: async ({ principal, params }) => {
        const event = await withCaller(db, principal, (trx) => trx.selectFrom('audit_events').selectAll().where('id', '=', params.id).executeTakeFirst(), { readOnly: true });
        if (!event) throw new RampartError('not_found', { detail: 'no such audit event' });
        return event;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/audit/verify',
      auth: { action: 'verify', resource: 'audit_event' },
      summary: 'Verify the caller’s tenant chain and its signed checkpoints',
      handler: async ({ principal }) => {
        const report = await verifyAuditLog({ db, verifier, chains: [principal.tenantId] });
        return report.chains[0] ?? { chain: principal.tenantId, events: 0, checkpoints: 0, lastCheckpointSeq: null, problem: null };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/alerts',
      auth: { action: 'list', resource: 'alert' },
      summary: 'Alerts raised in the caller’s tenant, newest first',
      query: z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
      handler: async ({ principal, query }) => ({
        items: await withCaller(db, principal, (trx) => trx.selectFrom('alerts').selectAll().orderBy('seq', 'desc').limit(query.limit).execute(), { readOnly: true }),
      }),
    }),
  ];
}
