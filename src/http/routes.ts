import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { z } from 'zod';
import { RampartError, requireJustification, toPointer, type FieldIssue } from '../core/index.js';
import { toRampartError } from './problem.js';
import { assertFreshAuth, isFreshAuthRequirement, type AuthenticationFacts, type FreshAuthRequirement } from './step-up.js';

/**
 * Deny by default (invariant 2, control: AZ-2). Every route declares exactly one of:
 * - `{ action, resource }`: a principal (session or access token) the policy engine allows;
 * - `{ self: true }`: the signed-in browser session acting on its own account (factors, passkeys,
 *   step-up); `{ self: 'pending' }` also accepts a session that finished only the first factor
 *   (second-factor steps, enrollment, sign-out). The pipeline reads and validates the cookie;
 * - `{ public: true }`: nobody in particular. The handler gets no principal and never sees the
 *   cookie; `{ public: true, session: 'optional' }` is handed the cookie's token (unvalidated) for
 *   pages whose answer for a signed-out browser is a valid one (the login page's state probe).
 * The server refuses to start with a route that declares none of them, however it was registered.
 */
export type ActionAuth = { action: string; resource: string; justify?: true; fresh?: FreshAuthRequirement };
export type SelfAuth = { self: true | 'pending' };
export type PublicAuth = { public: true; session?: 'optional' };
export type RouteAuth = ActionAuth | SelfAuth | PublicAuth;

export const isPublicAuth = (auth: RouteAuth): auth is PublicAuth => 'public' in auth;
export const isSelfAuth = (auth: RouteAuth): auth is SelfAuth => 'self' in auth;
export const isActionAuth = (auth: RouteAuth): auth is ActionAuth => 'action' in auth;

/**
 * Resources whose mutation is an admin action (control AZ-5): a route that changes one must
 * declare `justify: true`, and the pipeline then refuses a request without a `justification` of
 * at least 10 characters before the handler runs. Registration refuses a mutation route on these
 * resources that does not declare it. Feature modules extend this set with their admin resources.
 */
export const ADMIN_RESOURCES = new Set(['tenant', 'role', 'matrix', 'authz_policy', 'member', 'client', 'signing_key', 'payout', 'app_spec']);
const MUTATIONS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
export { MIN_JUSTIFICATION as MIN_JUSTIFICATION_LENGTH } from '../core/index.js';

/** Who is calling, as established by an Authenticator (an access token or the browser session). */
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

/** The browser session a `self` route acts for: its cookie token (read once, by the pipeline) and its id. */
export type SessionCredential = { token: string; id: string };
/**
 * The session authenticator `self` routes use: the session cookie alone (never a bearer token),
 * a pending session only when asked. `readToken` is the cookie read for `session: 'optional'`.
 */
export type SessionAuthenticator = {
  authenticate: (request: FastifyRequest, options: { allowPending: boolean }) => Promise<{ principal: Principal; session: SessionCredential } | null>;
  readToken: (request: FastifyRequest) => string | undefined;
};

export type AuthorizationRequest = { principal: Principal; action: string; resource: string; request: FastifyRequest };
export type Authorizer = (input: AuthorizationRequest) => Promise<boolean>;

/** A server composed without an identity module authenticates nobody (deny by default). */
export const noAuthenticator: Authenticator = async () => null;

/** For a server of public routes only (benchmarks, the dashboard's own tests): every decision is no. */
export const denyAll: Authorizer = async () => false;

const ACTION = /^[a-z][a-z0-9_:-]{0,63}$/;
const RESOURCE = /^[a-z][a-z0-9_.:-]{0,127}$/;

export function isRouteAuth(value: unknown): value is RouteAuth {
  if (!value || typeof value !== 'object') return false;
  const auth = value as Record<string, unknown>;
  if (auth.public === true) return Object.keys(auth).every((key) => key === 'public' || (key === 'session' && auth.session === 'optional'));
  if ('self' in auth) return Object.keys(auth).length === 1 && (auth.self === true || auth.self === 'pending');
  const known = Object.keys(auth).every((key) => key === 'action' || key === 'resource' || key === 'justify' || key === 'fresh');
  return known && (auth.justify === undefined || auth.justify === true) && (auth.fresh === undefined || isFreshAuthRequirement(auth.fresh)) && typeof auth.action === 'string' && ACTION.test(auth.action) && typeof auth.resource === 'string' && RESOURCE.test(auth.resource);
}

/** What the handler of a route declared `A` is handed: no principal on public routes, always one elsewhere. */
type PrincipalFor<A extends RouteAuth> = A extends PublicAuth ? null : Principal;
type SessionFor<A extends RouteAuth> = A extends SelfAuth ? SessionCredential : A extends { session: 'optional' } ? { token: string } | null : undefined;

export type RouteContext<P, Q, B, A extends RouteAuth = RouteAuth> = {
  request: FastifyRequest;
  reply: FastifyReply;
  params: P;
  query: Q;
  body: B;
  principal: PrincipalFor<A>;
  /** The session cookie's token, for `self` routes (and `public` ones declaring `session: 'optional'`). */
  session: SessionFor<A>;
  log: FastifyBaseLogger;
};

type Schema = z.ZodType;
type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export type RouteSpec<PS extends Schema | undefined, QS extends Schema | undefined, BS extends Schema | undefined, A extends RouteAuth = RouteAuth> = {
  method: HTTPMethods | HTTPMethods[];
  url: string;
  auth: A;
  summary?: string;
  params?: PS;
  query?: QS;
  body?: BS;
  handler: (context: RouteContext<Out<PS>, Out<QS>, Out<BS>, A>) => Promise<unknown>;
};

/**
 * A route as the server holds it: the declaration, the schemas and a handler of the erased
 * context. The pipeline builds a context that matches the declaration (runPipeline), so erasing
 * the handler's parameter type here is sound; `defineRoute` is the only place that does it.
 */
export type RouteDefinition = Omit<RouteSpec<Schema | undefined, Schema | undefined, Schema | undefined>, 'handler'> & {
  handler: (context: RouteContext<unknown, unknown, unknown>) => Promise<unknown>;
};

/** The one typed erasure: a handler checked against its own declaration, stored with the pipeline's context type. */
const eraseHandler = <C>(handler: (context: C) => Promise<unknown>): RouteDefinition['handler'] => handler as (context: RouteContext<unknown, unknown, unknown>) => Promise<unknown>;

export const defineRoute = <A extends RouteAuth, PS extends Schema | undefined = undefined, QS extends Schema | undefined = undefined, BS extends Schema | undefined = undefined>(
  spec: RouteSpec<PS, QS, BS, A>,
): RouteDefinition => ({ ...spec, handler: eraseHandler(spec.handler) });

export type RegisteredRoute = { method: string; url: string; auth: RouteAuth };

/**
 * A refusal the pipeline sent to an authenticated principal on a declared route: 403, or the 404
 * that answers for a record the caller may not see (another tenant's, one row-level security or
 * the policy hides) exactly as for one that does not exist. Reported once, here, for every route.
 */
/** What the pipeline knows of a refusal: what a denial reporter and the audit log receive. */
export type DenialFacts = {
  /** The action and resource the route declares. */
  action: string;
  resource: string;
  /** The record the request named (its `:id` or `:clientId` path parameter), when there is one. */
  recordId?: string | undefined;
  /** The route pattern, e.g. `DELETE /api/v1/apps/:app/:resource/:id`. */
  route: string;
  /** The requested path without its query string (it names the concrete app resource and ids). */
  path: string;
  status: 403 | 404;
  /** The problem's catalogued `reason`, when it has one (e.g. `self_approval`). */
  reason?: string | undefined;
};

export type Denial = DenialFacts & { principal: Principal; request: FastifyRequest };
export type DenialReporter = (denial: Denial) => Promise<void>;

export type PipelineServices = { authenticate: Authenticator; session?: SessionAuthenticator; authorize: Authorizer; onDenied?: DenialReporter };

function parsePart<S extends Schema>(schema: S | undefined, value: unknown, part: NonNullable<FieldIssue['in']>): unknown {
  if (!schema) return undefined;
  const result = schema.safeParse(value ?? (part === 'body' ? undefined : {}));
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({ in: part, pointer: toPointer(issue.path), message: issue.message }));
  const first = issues[0]!;
  throw new RampartError('validation_failed', { detail: `${part} ${first.pointer}: ${first.message}`, issues });
}

/** Who the route's declaration lets in, established once per request (the handler reads no cookie). */
type Caller = { principal: Principal | null; session: SessionCredential | { token: string } | null | undefined };

/**
 * The request pipeline, one row per step:
 * authenticate -> resolve tenant -> authorize -> step-up freshness -> validate -> handle.
 * A 403/404 out of any step after authentication is reported as a denial (registerRoute).
 */
async function runPipeline(route: RouteDefinition, services: PipelineServices, caller: Caller, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const { auth } = route;
  if (caller.principal && isActionAuth(auth)) {
    await authorize(auth, services, caller.principal, request);
    // ID-7: after authorization (no hint to callers who may not act at all), before anything else.
    if (auth.fresh) assertFreshAuth(caller.principal, auth.fresh);
    if (auth.justify) requireBodyJustification(request.body);
  }
  const context: RouteContext<unknown, unknown, unknown> = {
    request,
    reply,
    params: parsePart(route.params, request.params, 'params'),
    query: parsePart(route.query, request.query, 'query'),
    body: parsePart(route.body, request.body, 'body'),
    principal: caller.principal,
    session: caller.session as RouteContext<unknown, unknown, unknown>['session'],
    log: request.log,
  };
  return route.handler(context);
}

/** AZ-5: checked after authorization (no hints to callers who may not act) and before the handler. */
const requireBodyJustification = (body: unknown): void =>
  void requireJustification(body && typeof body === 'object' ? (body as { justification?: unknown }).justification : undefined);

const unauthenticated = () => new RampartError('unauthenticated', { detail: 'sign in or present a valid access token' });

/** The authenticate row: public routes get nobody, self routes the session cookie, action routes any authenticator. */
async function authenticate(auth: RouteAuth, services: PipelineServices, request: FastifyRequest): Promise<Caller> {
  if (isPublicAuth(auth)) {
    if (!auth.session) return { principal: null, session: undefined };
    const token = services.session?.readToken(request);
    return { principal: null, session: token ? { token } : null };
  }
  if (isSelfAuth(auth)) {
    const found = await services.session?.authenticate(request, { allowPending: auth.self === 'pending' });
    if (!found) throw new RampartError('unauthenticated', { detail: 'sign in first' });
    return found;
  }
  const principal = await services.authenticate(request);
  if (!principal) throw unauthenticated();
  return { principal, session: undefined };
}

async function authorize(auth: ActionAuth, services: PipelineServices, principal: Principal, request: FastifyRequest): Promise<void> {
  const allowed = await services.authorize({ principal, action: auth.action, resource: auth.resource, request });
  if (!allowed) throw new RampartError('forbidden', { detail: `not allowed to ${auth.action} ${auth.resource}` });
}

/** The pipeline's refusal path: the one place a denial becomes evidence (the reporter writes it apart from the request's transaction). */
async function reportDenial(report: DenialReporter, auth: ActionAuth, principal: Principal, request: FastifyRequest, error: unknown): Promise<void> {
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
  if (!isRouteAuth(route.auth)) throw new Error(`route ${String(route.method)} ${route.url}: auth must be { action, resource }, { self: true | 'pending' } or { public: true }`);
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const { auth } = route;
  if ((isSelfAuth(auth) || (isPublicAuth(auth) && auth.session)) && !services.session) {
    throw new Error(`route ${methods.join(',')} ${route.url} needs the browser session, and this server has no session authenticator`);
  }
  if (isActionAuth(auth) && ADMIN_RESOURCES.has(auth.resource) && methods.some((m) => MUTATIONS.has(m)) && !auth.justify) {
    throw new Error(`route ${methods.join(',')} ${route.url} changes the admin resource "${auth.resource}" and must declare justify: true (AZ-5)`);
  }
  app.route({
    method: route.method,
    url: route.url,
    config: { auth: route.auth },
    handler: async (request, reply) => {
      const caller = await authenticate(auth, services, request);
      let result: unknown;
      try {
        result = await runPipeline(route, services, caller, request, reply);
      } catch (error) {
        if (caller.principal && isActionAuth(auth) && services.onDenied) await reportDenial(services.onDenied, auth, caller.principal, request, error);
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
      throw new Error(`route ${methods.join(',')} ${options.url} declares none of { action, resource }, { self }, { public: true }: refused (deny by default)`);
    }
    for (const method of methods) table.push({ method: String(method), url: options.url, auth });
  });
  return table;
}
