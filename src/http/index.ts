export { buildServer, stringifyJson, type Server, type ServerOptions } from './server.js';
export { defineRoute, registerRoute, enforceRouteDeclarations, isRouteAuth, noAuthenticator, authenticatedOnly, ADMIN_RESOURCES, MIN_JUSTIFICATION_LENGTH } from './routes.js';
export type { RouteAuth, RouteDefinition, RouteContext, Principal, Authenticator, Authorizer, RegisteredRoute, Denial, DenialReporter } from './routes.js';
export { healthRoutes, type ReadinessCheck } from './health.js';
export { tenantRoutes } from './tenant-routes.js';
export { toRampartError, PROBLEM_CONTENT_TYPE, installProblemHandlers } from './problem.js';
export { buildOpenApiDocument, openApiRoute } from './openapi.js';
export { requestContext, actorOf, withCaller } from './context.js';
export { requireFreshAuth, assertFreshAuth, isFreshAuth, factorProvenAt, stepUpRequiredProblem, type FreshAuthRequirement, type FreshFactor, type AuthenticationFacts } from './step-up.js';
