import type { Server as Server_ } from 'node:https';
import { securityHeaders } from './security-headers.js';
import Fastify, { type FastifyHttpsOptions, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { requestId, type Logger, type RampartConfig } from '../core/index.js';
import { clientErrorHandler, installJsonParser, parseQuery } from './edge.js';
import { refuseForeignHosts } from './public-host.js';
import { installProblemHandlers, sendProblem, toRampartError } from './problem.js';
import { enforceRouteDeclarations, noAuthenticator, registerRoute, type Authenticator, type Authorizer, type DenialReporter, type RegisteredRoute, type RouteDefinition, type SessionAuthenticator } from './routes.js';

export type ServerOptions = {
  config: RampartConfig;
  log: Logger;
  routes: RouteDefinition[];
  authenticate?: Authenticator;
  /** The browser session for `self` routes; a server with such a route and no session authenticator does not start. */
  authenticateSession?: SessionAuthenticator;
  /** Required: a server without a policy authorizer does not start (deny by default, AZ-2). */
  authorize: Authorizer;
  /** Told of every 403/404 a declared route sends to an authenticated principal (denied attempts are audited). */
  onDenied?: DenialReporter;
  /**
   * Handlers that need the raw request (the OIDC provider reads its own bodies). Each registers its
   * routes in its own encapsulated scope; the deny-by-default guard still sees every one of them.
   */
  mounts?: Array<(app: FastifyInstance) => Promise<void>>;
  /** PEM key and certificate; when given the listener is HTTPS with TLS 1.2 as the floor (control: DA-3). */
  tls?: { key: Buffer; cert: Buffer };
};

/** `routeTable` is every route Fastify holds (raw mounts included); `routes` the declared ones, with their handlers. */
export type Server = { app: FastifyInstance; routeTable: RegisteredRoute[]; routes: readonly RouteDefinition[] };

/** JSON with bigint as a decimal string (money is bigint; JSON.stringify throws on it). */
const bigintAsText = (_key: string, value: unknown) => (typeof value === 'bigint' ? value.toString() : value);

/**
 * JSON with bigint (money in minor units) as decimal strings. Plain JSON.stringify first: a replacer
 * function runs for every key, which costs most replies for the few that carry a bigint, and those
 * make the plain call throw a TypeError at once.
 */
export const stringifyJson = (payload: unknown): string => {
  try {
    return JSON.stringify(payload);
  } catch (error) {
    if (error instanceof TypeError) return JSON.stringify(payload, bigintAsText);
    throw error;
  }
};

/** What a request looks like in the log: no query string (it may carry tokens), no headers. */
const requestSerializer = (request: { id: string; method: string; url: string; ip?: string; socket?: { remoteAddress?: string } }) => ({
  id: request.id,
  method: request.method,
  // The first-admin setup link carries its one-time token in the path (the page reads it there).
  path: request.url.split('?')[0]?.replace(/^\/setup\/[^/]+/, '/setup/[redacted]'),
  ip: request.ip ?? request.socket?.remoteAddress,
});

export async function buildServer(options: ServerOptions): Promise<Server> {
  const { config } = options;
  // Types require it; a caller casting round them still cannot start a server that allows by default.
  if (typeof options.authorize !== 'function') throw new Error('buildServer: an authorizer is required (compose the policy authorizer); there is no default');
  const headers = securityHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
  });
  const httpLog = options.log.child({}, { serializers: { req: requestSerializer, res: (reply: { statusCode: number }) => ({ status: reply.statusCode }) } });
  const fastifyOptions: FastifyServerOptions = {
    loggerInstance: httpLog,
    genReqId: (raw) => requestId(raw.headers['x-request-id']),
    bodyLimit: config.http.bodyLimitBytes,
    trustProxy: config.http.trustProxy,
    // Slow clients (slowloris) cannot hold a connection open forever.
    requestTimeout: config.http.requestTimeoutMs,
    connectionTimeout: config.http.requestTimeoutMs + 5_000,
    keepAliveTimeout: 5_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 200, ignoreTrailingSlash: false, querystringParser: parseQuery },
    // Node's parser refuses a request (431, bad request line) before Fastify sees it: problem+json too.
    clientErrorHandler: clientErrorHandler(headers),
    // Errors the router raises before any hook runs (bad percent-encoding, an over-long parameter).
    frameworkErrors: (error, request, reply) => {
      reply.headers(headers);
      reply.header('x-request-id', request.id);
      return sendProblem(reply, request, toRampartError(error));
    },
  };
  const app = (
    options.tls
      ? Fastify({ ...(fastifyOptions as unknown as FastifyHttpsOptions<Server_>), https: { key: options.tls.key, cert: options.tls.cert, minVersion: 'TLSv1.2' } })
      : Fastify(fastifyOptions)
  ) as unknown as FastifyInstance;

  const routeTable = enforceRouteDeclarations(app);
  installProblemHandlers(app);
  app.setReplySerializer(stringifyJson);
  // An API of JSON only: a text/plain body is refused (415) rather than half-understood.
  app.removeContentTypeParser('text/plain');

  // First thing on every request, so error replies and hijacked ones (OIDC) carry them too.
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
  // JSON depth, URL length (issue 12 §4); after the headers so the refusal carries them.
  installJsonParser(app);
  if (config.http.publicUrl) refuseForeignHosts(app, config.http.publicUrl);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=()');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });

  const services = {
    authenticate: options.authenticate ?? noAuthenticator,
    authorize: options.authorize,
    ...(options.authenticateSession ? { session: options.authenticateSession } : {}),
    ...(options.onDenied ? { onDenied: options.onDenied } : {}),
  };
  for (const route of options.routes) registerRoute(app, services, route);
  for (const mount of options.mounts ?? []) await mount(app);
  await app.ready();
  return { app, routeTable, routes: options.routes };
}
