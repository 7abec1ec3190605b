import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { AuditLog } from '../audit/index.js';
import type { Database } from '../db/index.js';
import { actorOf, defineRoute, requestContext, requireFreshAuth, type Authorizer, type Principal, type RouteDefinition } from '../http/index.js';
import { constraintFor } from './constraint.js';
import { decide } from './decide.js';
import { runDrift } from './drift.js';
import type { Authz } from './service.js';
import { toMatrix } from './store.js';
import type { AuthzPrincipal } from './types.js';

export const toAuthzPrincipal = (principal: Principal): AuthzPrincipal => ({
  id: principal.type === 'agent' && principal.onBehalfOf ? principal.onBehalfOf : principal.id,
  tenantId: principal.tenantId,
  roles: principal.roles,
  department: principal.attributes?.department ?? null,
  region: principal.attributes?.region ?? null,
});

/**
 * The request pipeline's authorize step (AZ-2): the route's `{ action, resource }` goes to the
 * tenant's compiled policy set. For a resource whose records carry no attributes the decision is
 * exact (custom Cedar policies included). For one whose records do, the route passes when some
 * record could be allowed (the constraint is not `none`); such routes then apply the constraint to
 * their query and check each loaded record with `authz.check`.
 */
export function policyAuthorizer(authz: Authz): Authorizer {
  return async ({ principal: caller, action, resource }) => {
    const principal = toAuthzPrincipal(caller);
    const set = await authz.policySet(principal.tenantId);
    if (constraintFor(set, { principal, action, resourceType: resource }).kind === 'none') return false;
    if (set.resources.get(resource)?.attributes.size) return true;
    return decide(set, { principal, action, resource: { type: resource } }).allowed;
  };
}

/**
 * Changing who may do what is a role grant in effect (ID-7): it needs a passkey proven within the
 * last five minutes (step-up), checked after authorization and computed at every request.
 */
const ROLE_GRANT_STEP_UP = requireFreshAuth({ maxAgeSeconds: 300, factor: 'webauthn' });

/** A change that waits for a second admin is accepted, not applied: 202. */
const pendingIs202 = <T extends { status: string }>(reply: FastifyReply, result: T): T => {
  if (result.status === 'pending') reply.code(202);
  return result;
};

const name = z.string().regex(/^[a-z][a-z0-9_.:-]{0,62}$/, 'lowercase name');
const justification = z.string().max(2000).optional();

export function authzRoutes({ authz, db, audit }: { authz: Authz; db: Database; audit: AuditLog }): RouteDefinition[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/authz/matrix',
      auth: { action: 'read', resource: 'matrix' },
      summary: 'The role-permission matrix of the caller’s tenant',
      handler: async ({ principal }) => {
        const data = await authz.data(principal.tenantId);
        return {
          roles: data.roles,
          resources: [...authz.resources, ...(data.resources ?? [])].map((r) => ({ name: r.name, actions: r.actions, attributes: Object.keys(r.attributes ?? {}) })),
          matrix: toMatrix(data.grants),
          rules: data.rules,
        };
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/authz/matrix/:role/:resource',
      auth: { action: 'update', resource: 'matrix', justify: true, fresh: ROLE_GRANT_STEP_UP },
      summary: 'Set the actions one role holds on one resource (justification required)',
      params: z.strictObject({ role: name, resource: name }),
      body: z.strictObject({ actions: z.array(name).max(64), justification }),
      handler: async ({ principal, params, body, request, reply }) =>
        pendingIs202(reply, await authz.setGrants({ tenantId: principal.tenantId, actor: actorOf(principal), author: toAuthzPrincipal(principal), role: params.role, resource: params.resource, actions: body.actions, justification: body.justification, context: requestContext(request) })),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/authz/policies',
      auth: { action: 'list', resource: 'authz_policy' },
      summary: 'Tenant-written Cedar policies',
      handler: async ({ principal }) => ({ items: (await authz.data(principal.tenantId)).policies }),
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/authz/policies/:id',
      auth: { action: 'create', resource: 'authz_policy', justify: true, fresh: ROLE_GRANT_STEP_UP },
      summary: 'Add or replace a Cedar policy (validated against the schema; justification required)',
      params: z.strictObject({ id: name }),
      body: z.strictObject({ cedar: z.string().min(1).max(20_000), description: z.string().max(500).optional(), justification }),
      handler: async ({ principal, params, body, request, reply }) =>
        pendingIs202(reply, await authz.putPolicy({ tenantId: principal.tenantId, actor: actorOf(principal), author: toAuthzPrincipal(principal), id: params.id, cedar: body.cedar, ...(body.description ? { description: body.description } : {}), justification: body.justification, context: requestContext(request) })),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/authz/policies/:id',
      auth: { action: 'delete', resource: 'authz_policy', justify: true, fresh: ROLE_GRANT_STEP_UP },
      summary: 'Remove a Cedar policy (justification required)',
      params: z.strictObject({ id: name }),
      body: z.strictObject({ justification }),
      handler: async ({ principal, params, body, request, reply }) =>
        pendingIs202(reply, await authz.deletePolicy({ tenantId: principal.tenantId, actor: actorOf(principal), author: toAuthzPrincipal(principal), id: params.id, justification: body.justification, context: requestContext(request) })),
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/authz/rules/:id',
      auth: { action: 'update', resource: 'matrix', justify: true, fresh: ROLE_GRANT_STEP_UP },
      summary: 'Add or replace an attribute rule (justification required)',
      params: z.strictObject({ id: name }),
      body: z.strictObject({ rule: z.record(z.string(), z.unknown()), justification }),
      handler: async ({ principal, params, body, request, reply }) =>
        pendingIs202(reply, await authz.putRule({ tenantId: principal.tenantId, actor: actorOf(principal), author: toAuthzPrincipal(principal), rule: { ...body.rule, id: params.id } as never, justification: body.justification, context: requestContext(request) })),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/authz/rules/:id',
      auth: { action: 'update', resource: 'matrix', justify: true, fresh: ROLE_GRANT_STEP_UP },
      summary: 'Remove an attribute rule (justification required)',
      params: z.strictObject({ id: name }),
      body: z.strictObject({ justification }),
      handler: async ({ principal, params, body, request, reply }) =>
        pendingIs202(reply, await authz.deleteRule({ tenantId: principal.tenantId, actor: actorOf(principal), author: toAuthzPrincipal(principal), id: params.id, justification: body.justification, context: requestContext(request) })),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/authz/changes/pending',
      auth: { action: 'read', resource: 'matrix' },
      summary: 'Changes that grant an owner-only permission and wait for a second admin',
      handler: async ({ principal }) => ({
        items: (await authz.pendingChanges(principal.tenantId)).map((c) => ({ id: c.id, kind: c.kind, summary: c.summary, requested_by: c.requestedBy, justification: c.justification, created_at: c.createdAt })),
      }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/authz/changes/:id/approve',
      auth: { action: 'update', resource: 'matrix', justify: true, fresh: ROLE_GRANT_STEP_UP },
      summary: 'Approve and apply a pending change (someone other than its author; justification required)',
      params: z.strictObject({ id: z.uuid() }),
      body: z.strictObject({ justification }),
      handler: async ({ principal, params, body, request }) =>
        authz.approveChange({ tenantId: principal.tenantId, actor: actorOf(principal), author: toAuthzPrincipal(principal), changeId: params.id, justification: body.justification, context: requestContext(request) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/authz/drift',
      auth: { action: 'run', resource: 'drift' },
      summary: 'Snapshot the effective permissions now and report unexplained changes',
      handler: async ({ principal }) => runDrift({ db, audit, tenantId: principal.tenantId }),
    }),
  ];
}
