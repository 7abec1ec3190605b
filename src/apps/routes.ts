import { z } from 'zod';
import { constraintFor, toAuthzPrincipal, type Authz } from '../authz/index.js';
import { RampartError } from '../core/index.js';
import { actorOf, defineRoute, requestContext, type Principal, type RouteDefinition } from '../http/index.js';
import { APP_RECORD } from './authorizer.js';
import { compileApp } from './compile/index.js';
import { exportRecords, listRecords } from './data/list.js';
import { createRecord, deleteRecord, readRecord, targetOf, updateRecord, type DataCall, type DataDeps } from './data/records.js';
import type { Apps } from './service.js';
import { appSpecJsonSchema } from './spec/parse.js';
import { identifier } from './spec/schema.js';
import { findTenantBySlug } from '../db/index.js';
import { anonymousPrincipal, createPublicLimiter, publicView, type PublicLimiter } from './public.js';

/** Admin API for app specs and plans (DE-4), and the data API of installed apps (AZ-2, DA-1). */

const justification = z.string().max(2000).optional();
const planId = z.strictObject({ id: z.uuid() });
const dataParams = z.strictObject({ app: identifier, resource: identifier });
const recordParams = z.strictObject({ app: identifier, resource: identifier, id: z.string().max(64) });
const anyQuery = z.record(z.string(), z.union([z.string(), z.array(z.string())]));
const tenantSlug = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'a tenant slug');
const publicParams = z.strictObject({ tenant: tenantSlug, app: identifier, resource: identifier });
const publicRecordParams = z.strictObject({ tenant: tenantSlug, app: identifier, resource: identifier, id: z.string().max(64) });

export function appsRoutes({ apps, authz, data, publicLimiter = createPublicLimiter() }: { apps: Apps; authz: Authz; data: DataDeps; publicLimiter?: PublicLimiter }): RouteDefinition[] {
  /** Resolves the installed resource and the policy set before any transaction opens. */
  async function callFor(principal: Principal, params: { app: string; resource: string }, request: Parameters<typeof requestContext>[0]): Promise<DataCall> {
    const installed = await apps.installedApp(principal.tenantId, params.app);
    const target = installed && targetOf(principal.tenantId, installed.spec, params.resource);
    if (!target) throw new RampartError('not_found', { detail: `no resource ${params.app}/${params.resource}` });
    const set = await authz.policySet(principal.tenantId);
    return { principal: toAuthzPrincipal(principal), actor: actorOf(principal), set, target, context: requestContext(request) };
  }
  /**
   * The anonymous counterpart (AZ-2): whoever calls, signed in elsewhere or not, acts as the named
   * tenant's `anonymous` role. The budget is taken before any lookup, so probing slugs costs it too.
   * A tenant, app or resource that is unknown, suspended, not `public: true`, or not granted to
   * anonymous all answer the same 404: the routes do not reveal what a tenant has.
   */
  async function publicCallFor(params: { tenant: string; app: string; resource: string }, action: 'list' | 'read', request: Parameters<typeof requestContext>[0]): Promise<DataCall> {
    const budget = await publicLimiter(request.ip);
    if (!budget.allowed) throw new RampartError('rate_limited', { detail: 'too many anonymous reads from this address; retry later', extensions: { retry_after_seconds: budget.retryAfterSeconds } });
    const missing = () => new RampartError('not_found', { detail: `no public resource ${params.app}/${params.resource}` });
    const tenant = await findTenantBySlug(data.db, params.tenant);
    if (!tenant || tenant.status !== 'active') throw missing();
    const installed = await apps.installedApp(tenant.id, params.app);
    const target = installed && targetOf(tenant.id, installed.spec, params.resource);
    if (!target?.resource.public) throw missing();
    const set = await authz.policySet(tenant.id);
    const principal = anonymousPrincipal(tenant.id);
    if (constraintFor(set, { principal, action, resourceType: target.type }).kind === 'none') throw missing();
    return { principal, actor: { type: 'anonymous' }, set, target, context: requestContext(request) };
  }
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/public/:tenant/apps/:app/:resource',
      auth: { public: true },
      summary: 'Anonymous list of a public: true resource of the named tenant (no pii, phi or secret fields; rate limited per IP)',
      params: publicParams,
      query: anyQuery,
      handler: async ({ params, query, request }) => {
        const call = await publicCallFor(params, 'list', request);
        // owner_id is not shown to anonymous callers; filtering or sorting on it would show it anyway.
        const byOwner = Object.entries(query).some(([key, value]) => /^owner_id(\[|$)/.test(key) || (key === 'sort' && typeof value === 'string' && value.replace(/^-/, '') === 'owner_id'));
        if (byOwner) throw new RampartError('validation_failed', { detail: 'query: owner_id is not available to anonymous callers', issues: [{ in: 'query', pointer: '/owner_id', message: 'not available' }] });
        const page = await listRecords(data, call, query);
        return { items: page.items.map((item) => publicView(call.target.resource, item)), next_cursor: page.next_cursor };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/public/:tenant/apps/:app/:resource/:id',
      auth: { public: true },
      summary: 'Anonymous read of one record of a public: true resource of the named tenant (rate limited per IP)',
      params: publicRecordParams,
      handler: async ({ params, request }) => {
        const call = await publicCallFor(params, 'read', request);
        return publicView(call.target.resource, await readRecord(data, call, params.id));
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/app-spec.schema.json',
      auth: { action: 'read', resource: 'app_spec' },
      summary: 'The JSON Schema of an app spec',
      handler: async () => appSpecJsonSchema(),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/apps',
      auth: { action: 'read', resource: 'tenant' },
      summary: 'Installed apps with their dashboard metadata, limited to resources the caller may list',
      handler: async ({ principal }) => {
        const set = await authz.policySet(principal.tenantId);
        const who = toAuthzPrincipal(principal);
        const items = (await apps.installed(principal.tenantId)).map((installed) => {
          const ui = compileApp(installed.spec).ui;
          const resources = ui.resources.filter((r) => constraintFor(set, { principal: who, action: 'list', resourceType: `${installed.app}__${r.name}` }).kind !== 'none');
          return { app: installed.app, version: installed.version, specHash: installed.specHash, title: ui.title, resources };
        });
        return { items: items.filter((item) => item.resources.length) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/apps/:app',
      auth: { action: 'read', resource: 'app_spec' },
      summary: 'An installed app: its spec and what was compiled from it (Cedar, OpenAPI, UI metadata)',
      params: z.strictObject({ app: identifier }),
      handler: async ({ principal, params }) => {
        const installed = await apps.installedApp(principal.tenantId, params.app);
        if (!installed) throw new RampartError('not_found', { detail: `no app "${params.app}"` });
        const compiled = compileApp(installed.spec);
        return { app: installed.app, version: installed.version, specHash: installed.specHash, planId: installed.planId, spec: installed.spec, cedar: compiled.cedar, openapi: compiled.openapi, ui: compiled.ui };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/app-plans',
      auth: { action: 'list', resource: 'app_spec' },
      summary: 'Migration plans of the tenant’s apps, newest first',
      query: z.strictObject({ app: identifier.optional(), limit: z.coerce.number().int().min(1).max(200).optional() }),
      handler: async ({ principal, query }) => ({ items: await apps.listPlans(principal.tenantId, { ...(query.app ? { app: query.app } : {}), ...(query.limit ? { limit: query.limit } : {}) }) }),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/app-plans/:id',
      auth: { action: 'read', resource: 'app_spec' },
      summary: 'One plan: steps, generated SQL, hashes, approval',
      params: planId,
      handler: async ({ principal, params }) => apps.getPlan(principal.tenantId, params.id),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/app-plans',
      auth: { action: 'plan', resource: 'app_spec', justify: true },
      summary: 'Lint a spec and store its migration plan; development applies it at once (destructive steps need confirmDestructive)',
      body: z.strictObject({ spec: z.unknown(), justification, confirmDestructive: z.boolean().optional() }),
      handler: async ({ principal, body, request, reply }) => {
        const caller = { tenantId: principal.tenantId, actor: actorOf(principal), author: toAuthzPrincipal(principal), context: requestContext(request) };
        const plan = await apps.plan({ ...caller, spec: body.spec, justification: body.justification });
        reply.code(201);
        if (apps.requireApproval || plan.requiresApproval || (plan.destructive && body.confirmDestructive !== true)) return plan;
        return apps.apply({ ...caller, planId: plan.id, confirmDestructive: body.confirmDestructive === true, justification: body.justification });
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/app-plans/:id/approve',
      auth: { action: 'approve', resource: 'app_spec', justify: true },
      summary: 'Approve a pending plan (a second admin, not its author)',
      params: planId,
      body: z.strictObject({ justification }),
      handler: async ({ principal, params, body, request }) => apps.approve({ tenantId: principal.tenantId, actor: actorOf(principal), planId: params.id, justification: body.justification, context: requestContext(request) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/app-plans/:id/apply',
      auth: { action: 'apply', resource: 'app_spec', justify: true },
      summary: 'Apply a plan in one transaction (production: approved first; destructive steps: confirmDestructive)',
      params: planId,
      body: z.strictObject({ justification, confirmDestructive: z.boolean().optional() }),
      handler: async ({ principal, params, body, request }) =>
        apps.apply({ tenantId: principal.tenantId, actor: actorOf(principal), planId: params.id, confirmDestructive: body.confirmDestructive === true, justification: body.justification, context: requestContext(request) }),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/apps/:app/:resource',
      auth: { action: 'list', resource: APP_RECORD },
      summary: 'List records (typed filters ?field=value or ?field[op]=value, sort, cursor, limit <= 200)',
      params: dataParams,
      query: anyQuery,
      handler: async ({ principal, params, query, request }) => listRecords(data, await callFor(principal, params, request), query),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/apps/:app/:resource/export',
      auth: { action: 'export', resource: APP_RECORD },
      summary: 'CSV export of the filtered records, masked by data class (audited)',
      params: dataParams,
      query: anyQuery,
      handler: async ({ principal, params, query, request, reply }) => {
        const result = await exportRecords(data, await callFor(principal, params, request), query);
        reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${params.app}-${params.resource}.csv"`);
        return reply.send(result.csv);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/apps/:app/:resource',
      auth: { action: 'create', resource: APP_RECORD },
      summary: 'Create a record',
      params: dataParams,
      body: z.unknown(),
      handler: async ({ principal, params, body, request, reply }) => {
        const record = await createRecord(data, await callFor(principal, params, request), body);
        reply.code(201);
        return record;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/apps/:app/:resource/:id',
      auth: { action: 'read', resource: APP_RECORD },
      summary: 'Read a record (fields masked by data class)',
      params: recordParams,
      handler: async ({ principal, params, request }) => readRecord(data, await callFor(principal, params, request), params.id),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/apps/:app/:resource/:id',
      auth: { action: 'update', resource: APP_RECORD },
      summary: 'Update some fields of a record',
      params: recordParams,
      body: z.unknown(),
      handler: async ({ principal, params, body, request }) => updateRecord(data, await callFor(principal, params, request), params.id, body),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/apps/:app/:resource/:id',
      auth: { action: 'delete', resource: APP_RECORD },
      summary: 'Delete a record',
      params: recordParams,
      handler: async ({ principal, params, request }) => {
        await deleteRecord(data, await callFor(principal, params, request), params.id);
      },
    }),
  ];
}
