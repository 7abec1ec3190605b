import { z } from 'zod';
import { defineRoute, isPublicAuth, isSelfAuth, type RouteDefinition } from './routes.js';

/**
 * OpenAPI 3.1 generated from the route definitions: the same zod schemas that validate a request
 * describe it, and each operation carries its authorization declaration as `x-rampart-authz`, so
 * the document doubles as evidence of what every endpoint requires. Never edited by hand.
 */

type JsonSchema = Record<string, unknown>;

const toSchema = (schema: z.ZodType): JsonSchema => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  return rest;
};

const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } });

function parameters(route: RouteDefinition): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const [where, schema] of [['path', route.params], ['query', route.query]] as const) {
    if (!schema) continue;
    const json = toSchema(schema);
    const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((json.required as string[] | undefined) ?? []);
    for (const [name, property] of Object.entries(properties)) {
      out.push({ name, in: where, required: where === 'path' || required.has(name), schema: property });
    }
  }
  return out;
}

/** Fastify's `/a/:id` becomes OpenAPI's `/a/{id}`. */
const openApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');

/**
 * `sessionCookie` names the browser session cookie `self` routes take (the identity module owns
 * the name; without it, self routes are documented with the bearer scheme's place left empty).
 */
export function buildOpenApiDocument({ routes, version, sessionCookie }: { routes: RouteDefinition[]; version: string; sessionCookie?: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map((m) => m.toLowerCase());
    const isPublic = isPublicAuth(route.auth);
    const security = isPublic ? [] : isSelfAuth(route.auth) ? (sessionCookie ? [{ session: [] }] : []) : [{ bearer: [] }];
    for (const method of methods) {
      const operation: Record<string, unknown> = {
        summary: route.summary ?? `${method.toUpperCase()} ${route.url}`,
        'x-rampart-authz': route.auth,
        security,
        parameters: parameters(route),
        responses: {
          '200': { description: 'Success', content: { 'application/json': { schema: {} } } },
          '400': problemResponse('Invalid request (validation_failed, malformed_json)'),
          ...(isPublic ? {} : { '401': problemResponse('Not authenticated'), '403': problemResponse('Not allowed') }),
          '500': problemResponse('Internal error (no details)'),
        },
      };
      if (route.body) operation.requestBody = { required: true, content: { 'application/json': { schema: toSchema(route.body) } } };
      (paths[openApiPath(route.url)] ??= {})[method] = operation;
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Rampart API', version, description: 'Generated from the route definitions; do not edit.' },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, ...(sessionCookie ? { session: { type: 'apiKey', in: 'cookie', name: sessionCookie } } : {}) },
      schemas: {
        Problem: {
          type: 'object',
          description: 'RFC 9457 problem details',
          required: ['type', 'title', 'status', 'code'],
          properties: {
            type: { type: 'string', description: 'urn:rampart:problem:<code>' },
            title: { type: 'string' },
            status: { type: 'integer' },
            code: { type: 'string' },
            detail: { type: 'string' },
            instance: { type: 'string' },
            request_id: { type: 'string' },
            errors: {
              type: 'array',
              items: { type: 'object', required: ['pointer', 'message'], properties: { in: { type: 'string' }, pointer: { type: 'string' }, message: { type: 'string' } } },
            },
          },
        },
      },
    },
  };
}

/** `GET /api/v1/openapi.json`, describing every route of this server including itself. */
export function openApiRoute({ routes, version, sessionCookie }: { routes: RouteDefinition[]; version: string; sessionCookie?: string }): RouteDefinition {
  let document: Record<string, unknown> | undefined;
  const self: RouteDefinition = defineRoute({
    method: 'GET',
    url: '/api/v1/openapi.json',
    auth: { public: true },
    summary: 'This OpenAPI document',
    handler: async (): Promise<unknown> => (document ??= buildOpenApiDocument({ routes: [...routes, self], version, ...(sessionCookie ? { sessionCookie } : {}) })),
  });
  return self;
}
