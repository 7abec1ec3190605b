import type { FastifyRequest } from 'fastify';
import { withTenant, type Actor, type Database, type TenantTransaction } from '../db/index.js';
import type { Principal } from './routes.js';

/** Where and how a request came in, for audit events: IP, user agent, device, request id. */
export function requestContext(request: FastifyRequest): { ip?: string; userAgent?: string; deviceId?: string; requestId: string } {
  const userAgent = request.headers['user-agent'];
  const deviceId = request.headers['x-device-id'];
  return {
    ip: request.ip,
    ...(typeof userAgent === 'string' ? { userAgent } : {}),
    ...(typeof deviceId === 'string' ? { deviceId } : {}),
    requestId: request.id,
  };
}

/** The audit actor for a principal: an agent always acts on behalf of a user. */
export function actorOf(principal: Principal): Actor {
  return principal.type === 'agent' && principal.onBehalfOf ? { type: 'agent', id: principal.id, onBehalfOf: principal.onBehalfOf } : { type: 'user', id: principal.id };
}

/** `withTenant` as the caller: their tenant, their actor id (an agent on behalf of its user). */
export function withCaller<T>(db: Database, principal: Principal, fn: (trx: TenantTransaction) => Promise<T>, options: { readOnly?: boolean } = {}): Promise<T> {
  return withTenant(db, { tenantId: principal.tenantId, actor: actorOf(principal) }, fn, options);
}
