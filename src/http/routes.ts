import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { z } from 'zod';
import { RampartError, requireJustification, toPointer, type FieldIssue } from '../core/index.js';
import { toRampartError } from './problem.js';
import { assertFreshAuth, isFreshAuthRequirement, type AuthenticationFacts, type FreshAuthRequirement } from './step-up.js';

/**
 * Deny by default (invariant 2, control: AZ-2). Every route declares what it does, as an
 * `{ action, resource }` pair the policy engine decides on, or says out loud that it is public.
 * The server refuses to start with a route that declares neither, however it was registered.
 */
export type RouteAuth = { action: string; resource: string; justify?: true; fresh?: FreshAuthRequirement } | { public: true };

/**
 * Resources whose mutation is an admin action (control AZ-5): a route that changes one must
 * declare `justify: true`, and the pipeline then refuses a request without a `justification` of
 * at least 10 characters before the handler runs. Registration refuses a mutation route on these
 * resources that does not declare it. Feature modules extend this set with their admin resources.
 */
export const ADMIN_RESOURCES = new Set(['tenant', 'role', 'matrix', 'authz_policy', 'member', 'client', 'signing_key', 'payout', 'app_spec']);
const MUTATIONS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
export { MIN_JUSTIFICATION as MIN_JUSTIFICATION_LENGTH } from '../core/index.js';

/** Who is calling, as established by an Authenticator (identity lands with the identity module). */
export type Principal = {
  type: 'user' | 'agent' | 'service';
  id: string;
  tenantId: string;
  roles: readonly string[];
  onBehalfOf?: string;
  /** Attributes attribute rules may test (AZ-3). */
  attributes?: { department?: string | null; region?: string | null };
  /**
   * Present for OAuth access tokens: the token's scopes (ID-8). A request must fit them as well as
   * the policy; a session principal has none and is decided by the policy alone.
   */
  scopes?: ReadonlySet<string>;
} & AuthenticationFacts;

export type Authenticator = (request: FastifyRequest) => Promise<Principal | null>;

export type AuthorizationRequest = { principal: Principal; action: string; resource: string; request: FastifyRequest };
export type Authorizer = (input: AuthorizationRequest) => Promise<boolean>;

/** Nobody is authenticated until the identity module provides an authenticator. */
export const noAuthenticator: Authenticator = async () => null;

/**
 * Interim authorizer until the policy engine lands: an authenticated principal acting inside its
 * own tenant passes; the engine replaces this with per-action, per-record decisions.
 */
export const authenticatedOnly: Authorizer = async ({ principal }) => Boolean(principal.tenantId);

const ACTION = /^[a-z][a-z0-9_:-]{0,63}$/;
const RESOURCE = /^[a-z][a-z0-9_.:-]{0,127}$/;

export function isRouteAuth(value: unknown): value is RouteAuth {
  if (!value || typeof value !== 'object') return false;
  const auth = value as Record<string, unknown>;
  if (auth.public === true) return Object.keys(auth).length === 1;
  const known = Object.keys(auth).every((key) => key === 'action' || key === 'resource' || key === 'justify' || key === 'fresh');
  return known && (auth.justify === undefined || auth.justify === true) && (auth.fresh === undefined || isFreshAuthRequirement(auth.fresh)) && typeof auth.action === 'string' && ACTION.test(auth.action) && typeof auth.resource === 'string' && RESOURCE.test(auth.resource);
}

export type RouteContext<P, Q, B> = {
  request: FastifyRequest;
  reply: FastifyReply;
  params: P;
  query: Q;
  body: B;
  principal: Principal | null;
  log: FastifyBaseLogger;
};

type Schema = z.ZodType;
type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export type RouteSpec<PS extends Schema | undefined, QS extends Schema | undefined, BS extends Schema | undefined> = {
  method: HTTPMethods | HTTPMethods[];
  url: string;
  auth: RouteAuth;
  summary?: string;
  params?: PS;
  query?: QS;
  body?: BS;
  handler: (context: RouteContext<Out<PS>, Out<QS>, Out<BS>>) => Promise<unknown>;
};

export type RouteDefinition = RouteSpec<Schema | undefined, Schema | undefined, Schema | undefined>;

export const defineRoute = <PS extends Schema | undefined = undefined, QS extends Schema | undefined = undefined, BS extends Schema | undefined = undefined>(
  spec: RouteSpec<PS, QS, BS>,
): RouteDefinition => spec as unknown as RouteDefinition;

export type RegisteredRoute = { method: string; url: string; auth: RouteAuth };

/**
 * A refusal the pipeline sent to an authenticated principal on a declared route: 403, or the 404
 * that answers for a record the caller may not see (another tenant's, one row-level security or
 * the policy hides) exactly as for one that does not exist. Reported once, here, for every route.
 */
export type Denial = {
  principal: Principal;
  action: string;
  resource: string;
  /** The record the route names: its `:id` (or `:clientId`) path parameter, when it has one. */
  recordId?: string | undefined;
  route: string;
  /** The path as requested, without its query string (it names the concrete app resource and ids). */
  path: string;
  status: 403 | 404;
  reason?: string | undefined;
  request: FastifyRequest;
};
export type DenialReporter = (denial: Denial) => Promise<void>;

export type PipelineServices = { authenticate: Authenticator; authorize: Authorizer; onDenied?: DenialReporter };

function parsePart<S extends Schema>(schema: S | undefined, value: unknown, part: NonNullable<FieldIssue['in']>): unknown {
  if (!schema) return undefined;
  const result = schema.safeParse(value ?? (part === 'body' ? undefined : {}));
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({ in: part, pointer: toPointer(issue.path), message: issue.message }));
  const first = issues[0]!;
  throw new RampartError('validation_failed', { detail: `${part} ${first.pointer}: ${first.message}`, issues });
}

/**
 * The request pipeline, one row per step:
 * authenticate -> resolve tenant -> authorize -> step-up freshness -> validate -> handle.
 * A 403/404 out of any step after authentication is reported as a denial (registerRoute).
 */
async function runPipeline(route: RouteDefinition, services: PipelineServices, principal: Principal | null, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  if (principal && !('public' in route.auth)) await authorize(route.auth, services, principal, request);
  // ID-7: after authorization (no hint to callers who may not act at all), before anything else.
  if (principal && 'fresh' in route.auth && route.auth.fresh) assertFreshAuth(principal, route.auth.fresh);
  if ('justify' in route.auth && route.auth.justify) requireBodyJustification(request.body);
  const context: RouteContext<unknown, unknown, unknown> = {
    request,
    reply,
    params: parsePart(route.params, request.params, 'params'),
    query: parsePart(route.query, request.query, 'query'),
    body: parsePart(route.body, request.body, 'body'),
    principal,
    log: request.log,
  };
  return route.handler(context);
}

/** AZ-5: checked after authorization (no hints to callers who may not act) and before the handler. */
const requireBodyJustification = (body: unknown): void =>
  void requireJustification(body && typeof body === 'object' ? (body as { justification?: unknown }).justification : undefined);

async function authenticate(route: RouteDefinition, services: PipelineServices, request: FastifyRequest): Promise<Principal | null> {
  const principal = await services.authenticate(request);
  if (!principal && !('public' in route.auth)) throw new RampartError('unauthenticated', { detail: 'sign in or present a valid access token' });
  return principal;
}

async function authorize(auth: { action: string; resource: string }, services: PipelineServices, principal: Principal, request: FastifyRequest): Promise<void> {
  const allowed = await services.authorize({ principal, action: auth.action, resource: auth.resource, request });
  if (!allowed) throw new RampartError('forbidden', { detail: `not allowed to ${auth.action} ${auth.resource}` });
}

/** The pipeline's refusal path: the one place a denial becomes evidence (the reporter writes it apart from the request's transaction). */
async function reportDenial(report: DenialReporter, auth: { action: string; resource: string }, principal: Principal, request: FastifyRequest, error: unknown): Promise<void> {
  const problem = toRampartError(error);
  if (problem.status !== 403 && problem.status !== 404) return;
  const params = (request.params ?? {}) as Record<string, unknown>;
  const id = params.id ?? params.clientId;
  const reason = problem.extensions?.reason;
  try {
    await report({
      principal,
      action: auth.action,
      resource: auth.resource,
      recordId: typeof id === 'string' ? id.slice(0, 200) : undefined,
      route: `${request.method} ${request.routeOptions.url ?? ''}`,
      path: (request.url.split('?')[0] ?? '').slice(0, 300),
      status: problem.status === 403 ? 403 : 404,
      reason: typeof reason === 'string' ? reason : undefined,
      request,
    });
  } catch (failure) {
    request.log.error({ err: { message: (failure as Error).message } }, 'denied attempt not reported');
  }
}

export function registerRoute(app: FastifyInstance, services: PipelineServices, route: RouteDefinition): void {
  if (!isRouteAuth(route.auth)) throw new Error(`route ${String(route.method)} ${route.url}: auth must be { action, resource } or { public: true }`);
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (!('public' in route.auth) && ADMIN_RESOURCES.has(route.auth.resource) && methods.some((m) => MUTATIONS.has(m)) && !route.auth.justify) {
    throw new Error(`route ${methods.join(',')} ${route.url} changes the admin resource "${route.auth.resource}" and must declare justify: true (AZ-5)`);
  }
  app.route({
    method: route.method,
    url: route.url,
    config: { auth: route.auth },
    handler: async (request, reply) => {
      const principal = await authenticate(route, services, request);
      let result: unknown;
      try {
        result = await runPipeline(route, services, principal, request, reply);
      } catch (error) {
        if (principal && !('public' in route.auth) && services.onDenied) await reportDenial(services.onDenied, route.auth, principal, request, error);
        throw error;
      }
      if (reply.sent) return reply;
      return result === undefined ? reply.code(reply.statusCode === 200 ? 204 : reply.statusCode).send() : result;
    },
  });
}

/**
 * Installs the guard: any route registered on this instance or its children without a valid
 * `config.auth` (a plugin calling app.get directly, a typo) throws during start-up.
 */
export function enforceRouteDeclarations(app: FastifyInstance): RegisteredRoute[] {
  const table: RegisteredRoute[] = [];
  app.addHook('onRoute', (options) => {
    const auth = (options.config as { auth?: unknown } | undefined)?.auth;
    const methods = Array.isArray(options.method) ? options.method : [options.method];
    if (!isRouteAuth(auth)) {
      throw new Error(`route ${methods.join(',')} ${options.url} declares neither { action, resource } nor { public: true }: refused (deny by default)`);
    }
    for (const method of methods) table.push({ method: String(method), url: options.url, auth });
  });
  return table;
}
