import Fastify, { type InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Rampart } from '../src/app.js';
import { createCapturingLogger, RampartError } from '../src/core/index.js';
import { defineRoute, enforceRouteDeclarations, installProblemHandlers as installProblem, isPublicAuth, isSelfAuth, registerRoute, type Principal, type RouteDefinition } from '../src/http/index.js';
import { bearerAuthenticator, testRampart } from './support/rampart.js';

const TENANT = '01900000-0000-7000-8000-000000000001';
const principals: Record<string, Principal> = {
  'token-user': { type: 'user', id: 'u1', tenantId: TENANT, roles: ['member'] },
  'token-denied': { type: 'user', id: 'u2', tenantId: TENANT, roles: ['nobody'] },
};

/** Routes only this test registers, to reach every error path of the pipeline. */
const probeRoutes: RouteDefinition[] = [
  defineRoute({
    method: 'POST',
    url: '/api/v1/probe/validate',
    auth: { public: true },
    body: z.strictObject({ name: z.string().min(2), quantity: z.number().int().positive(), email: z.email().optional() }),
    query: z.strictObject({ mode: z.enum(['a', 'b']).optional() }),
    handler: async ({ body }) => ({ received: body }),
  }),
  defineRoute({
    method: 'GET',
    url: '/api/v1/probe/crash',
    auth: { public: true },
    handler: async () => {
      throw new Error('connect ECONNREFUSED 10.0.0.7:5432 password=hunter2');
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/api/v1/probe/unique',
    auth: { public: true },
    handler: async () => {
      const error = Object.assign(new Error('duplicate key value violates unique constraint "contacts_email_key"'), {
        code: '23505',
        detail: 'Key (email)=(ann.customer@example.com) already exists.',
      });
      throw error;
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/api/v1/probe/throttled',
    auth: { public: true },
    handler: async () => {
      throw new RampartError('rate_limited', { detail: 'too many attempts', extensions: { retry_after_seconds: 41.2 } });
    },
  }),
  defineRoute({ method: 'GET', url: '/api/v1/probe/money', auth: { public: true }, handler: async () => ({ amount: 9_007_199_254_740_993n, currency: 'EUR' }) }),
  defineRoute({ method: 'GET', url: '/api/v1/probe/private', auth: { action: 'read', resource: 'probe' }, handler: async ({ principal }) => ({ id: principal?.id }) }),
  defineRoute({ method: 'DELETE', url: '/api/v1/probe/nothing', auth: { action: 'delete', resource: 'probe' }, handler: async () => undefined }),
];

/** Public routes, reviewed one by one. A new public route fails the walk until it is added here. */
/** Sign-in steps are public by nature: each checks its own credential (password, pending session cookie, invitation token). */
const IDENTITY_PUBLIC = [
  'GET /api/v1/identity/challenge',
  'HEAD /api/v1/identity/challenge',
  'POST /api/v1/identity/:tenant/sign-in',
  'POST /api/v1/identity/:tenant/invitations/accept',
  // Identity extras: each checks its own credential (assertion, link, setup token) or none by design.
  'POST /api/v1/identity/:tenant/passkeys/sign-in/options',
  'POST /api/v1/identity/:tenant/passkeys/sign-in/verify',
  'POST /api/v1/identity/:tenant/magic-link',
  'POST /api/v1/identity/:tenant/magic-link/consume',
  'POST /api/v1/identity/:tenant/setup',
  // Development only (never registered in production): the mail outbox page.
  'GET /dev/outbox',
  'HEAD /dev/outbox',
];
/**
 * `self` routes: the caller's own browser session, read and validated by the pipeline (never a
 * bearer token). `pending` ones also take a session that finished only the first factor (ID-4).
 */
const SELF_ROUTES: Record<string, true | 'pending'> = {
  'POST /api/v1/identity/totp/enroll': 'pending',
  'POST /api/v1/identity/totp/confirm': 'pending',
  'POST /api/v1/identity/totp/verify': 'pending',
  'POST /api/v1/identity/recovery': 'pending',
  'POST /api/v1/identity/passkeys/register/options': 'pending',
  'POST /api/v1/identity/passkeys/register/verify': 'pending',
  'POST /api/v1/identity/passkeys/authenticate/options': 'pending',
  'POST /api/v1/identity/passkeys/authenticate/verify': 'pending',
  'POST /api/v1/identity/sign-out': 'pending',
  'POST /api/v1/identity/step-up/options': true,
  'POST /api/v1/identity/step-up/verify': true,
  'GET /api/v1/me/passkeys': true,
  'HEAD /api/v1/me/passkeys': true,
  'PATCH /api/v1/me/passkeys/:id': true,
  'DELETE /api/v1/me/passkeys/:id': true,
  'DELETE /api/v1/me/totp': true,
};
/**
 * The OpenID Connect provider's protocol endpoints: each authenticates its caller by the protocol
 * (client authentication, PKCE, the user's session, the token). Mounted raw, documented by
 * discovery rather than OpenAPI.
 */
const OIDC_PROTOCOL = ['/oidc/*', '/.well-known/openid-configuration'];
const OIDC_PUBLIC = [
  ...['GET', 'POST', 'OPTIONS', 'DELETE', 'HEAD'].map((m) => `${m} /oidc/*`),
  ...['GET', 'OPTIONS', 'HEAD'].map((m) => `${m} /.well-known/openid-configuration`),
  'GET /oidc/interaction/:uid',
  'HEAD /oidc/interaction/:uid',
];
/** The hosted login pages and their static assets: HTML shells over the public sign-in API. */
const LOGIN_UI_PUBLIC = ['/login/:tenant', '/login/:tenant/state', '/login/:tenant/magic-link', '/invite/:tenant', '/account/:tenant', '/setup/:token', '/assets/login/:name'].flatMap((url) => [`GET ${url}`, `HEAD ${url}`]);
/** Payment-provider webhooks: authenticated by their signature over the raw body (BI-2), not by a session. */
const BILLING_PUBLIC = ['POST /api/v1/billing/webhooks/:provider'];
/** The admin dashboard's static files (HTML, JS, CSS): every piece of data it shows comes from the API. */
const DASHBOARD_PUBLIC = ['/dashboard', '/dashboard/', '/dashboard/assets/:name', '/dashboard/*'].flatMap((url) => [`GET ${url}`, `HEAD ${url}`]);
/** Anonymous list/read of app resources a spec marks public: true, as the tenant's anonymous role under RLS (test/apps-public.test.ts). */
const APPS_PUBLIC = ['/api/v1/public/:tenant/apps/:app/:resource', '/api/v1/public/:tenant/apps/:app/:resource/:id'].flatMap((url) => [`GET ${url}`, `HEAD ${url}`]);
const REVIEWED_PUBLIC = new Set([...IDENTITY_PUBLIC, ...OIDC_PUBLIC, ...LOGIN_UI_PUBLIC, ...BILLING_PUBLIC, ...DASHBOARD_PUBLIC, ...APPS_PUBLIC, 'GET /healthz', 'HEAD /healthz', 'GET /readyz', 'HEAD /readyz', 'GET /api/v1/openapi.json', 'HEAD /api/v1/openapi.json', ...probeRoutes.filter((r) => 'public' in r.auth).flatMap((r) => [`${String(r.method)} ${r.url}`, `HEAD ${r.url}`])]);

describe('HTTP edge', () => {
  let rampart: Rampart;
  const capture = createCapturingLogger('info');

  beforeAll(async () => {
    rampart = await testRampart({
      log: capture.log,
      routes: probeRoutes,
      authenticate: bearerAuthenticator(principals),
      authorize: async ({ principal }) => !principal.roles.includes('nobody'),
      configOverrides: { http: { bodyLimitBytes: 2048 } },
    });
  });
  afterAll(() => rampart.close());

  const inject = (options: InjectOptions) => rampart.server.app.inject(options);

  describe('AZ-2 deny by default', () => {
    it('AZ-2 a route registered without { action, resource } or public: true is refused at start-up', async () => {
      const app = Fastify();
      enforceRouteDeclarations(app);
      expect(() => app.get('/sneaky', async () => 'ok')).toThrow(/deny by default/);
      expect(() => app.route({ method: 'GET', url: '/half', config: { auth: { action: 'read' } }, handler: async () => 'ok' })).toThrow(/deny by default/);
      expect(() => app.route({ method: 'GET', url: '/both', config: { auth: { public: true, action: 'x' } }, handler: async () => 'ok' })).toThrow(/deny by default/);
      expect(() => registerRoute(app, { authenticate: async () => null, authorize: async () => true }, { method: 'GET', url: '/x', auth: {} as never, handler: async () => 1 })).toThrow(/auth must be/);
      app.route({ method: 'GET', url: '/fine', config: { auth: { action: 'read', resource: 'thing' } }, handler: async () => 'ok' });
      await app.close();
    });

    it('AZ-5 a mutation of an admin resource must declare justify: true, or it cannot be registered', async () => {
      const app = Fastify();
      enforceRouteDeclarations(app);
      const services = { authenticate: async () => null, authorize: async () => true };
      expect(() => registerRoute(app, services, { method: 'PUT', url: '/roles/:id', auth: { action: 'update', resource: 'role' }, handler: async () => 1 })).toThrow(/must declare justify: true \(AZ-5\)/);
      expect(() => registerRoute(app, services, { method: 'PUT', url: '/roles2/:id', auth: { action: 'update', resource: 'role', justify: true }, handler: async () => 1 })).not.toThrow();
      expect(() => registerRoute(app, services, { method: 'GET', url: '/roles', auth: { action: 'list', resource: 'role' }, handler: async () => 1 })).not.toThrow();
      expect(() => app.route({ method: 'GET', url: '/odd', config: { auth: { action: 'read', resource: 'x', justify: 'yes' } }, handler: async () => 'ok' })).toThrow(/deny by default/);
      await app.close();
    });

    it('AZ-5 the pipeline refuses a justified route without a justification, after authorization and before the handler', async () => {
      let handled = 0;
      const app = Fastify();
      enforceRouteDeclarations(app);
      const member: Principal = { type: 'user', id: 'm', tenantId: TENANT, roles: ['member'] };
      registerRoute(app, { authenticate: async () => member, authorize: async ({ principal }) => principal.roles.includes('admin') }, { method: 'POST', url: '/denied', auth: { action: 'update', resource: 'role', justify: true }, handler: async () => ++handled });
      registerRoute(app, { authenticate: async () => member, authorize: async () => true }, { method: 'POST', url: '/allowed', auth: { action: 'update', resource: 'role', justify: true }, handler: async () => ++handled });
      installProblem(app);
      expect((await app.inject({ method: 'POST', url: '/denied', payload: {} })).statusCode).toBe(403);
      const missing = await app.inject({ method: 'POST', url: '/allowed', payload: { justification: 'short' } });
      expect(missing.statusCode).toBe(400);
      expect(missing.json().errors[0].pointer).toBe('/justification');
      expect(handled).toBe(0);
      expect((await app.inject({ method: 'POST', url: '/allowed', payload: { justification: 'rotating a leaked credential' } })).statusCode).toBe(200);
      expect(handled).toBe(1);
      await app.close();
    });

    it('AZ-2 every registered route is either reviewed public, or refuses anonymous (401) and unauthorized (403) callers', async () => {
      const table = rampart.server.routeTable;
      expect(table.length).toBeGreaterThan(5);
      for (const route of table) {
        const label = `${route.method} ${route.url}`;
        if (isPublicAuth(route.auth)) {
          expect(REVIEWED_PUBLIC, `unreviewed public route ${label}`).toContain(label);
          continue;
        }
        const url = route.url.replace(/:(\w+)/g, '00000000-0000-7000-8000-000000000000');
        const method = route.method as 'GET';
        const anonymous = await inject({ method, url });
        expect(anonymous.statusCode, `${label} anonymous`).toBe(401);
        expect(anonymous.headers['content-type']).toMatch(/^application\/problem\+json/);
        if (isSelfAuth(route.auth)) {
          expect(SELF_ROUTES[label], `unreviewed self route ${label}`).toBe(route.auth.self);
          // A bearer token is not the browser session: self routes answer it as anonymous.
          expect((await inject({ method, url, headers: { authorization: 'Bearer token-user' } })).statusCode, `${label} bearer`).toBe(401);
          continue;
        }
        const denied = await inject({ method, url, headers: { authorization: 'Bearer token-denied' } });
        expect(denied.statusCode, `${label} unauthorized`).toBe(403);
        if (route.method !== 'HEAD') expect(denied.json()).toMatchObject({ code: 'forbidden', detail: `not allowed to ${route.auth.action} ${route.auth.resource}` });
      }
    });

    it('AZ-2 ID-6 no route handler reads the session cookie: public routes never see it, self routes are handed it by the pipeline', async () => {
      // Anything that reads the cookie by itself: the reader, the raw header, or a helper named for it.
      const readsCookie = /readSessionCookie|headers\.cookie|headers\[['"]cookie|SESSION_COOKIE|cookieToken/;
      const declared = rampart.server.routes;
      expect(declared.filter((r) => isSelfAuth(r.auth)).length).toBeGreaterThan(10);
      for (const route of declared) {
        const label = `${String(route.method)} ${route.url} (${isPublicAuth(route.auth) ? 'public' : isSelfAuth(route.auth) ? 'self' : 'action'})`;
        expect(route.handler.toString(), `${label}: a handler reads the session cookie; declare { self } or { public: true, session: 'optional' }`).not.toMatch(readsCookie);
      }
      // Nor through a helper: on the request path only the session authenticator reads the cookie.
      // (The OIDC provider's own account lookup, src/identity/oidc/provider.ts, runs inside oidc-provider's raw mount.)
      const { readdir, readFile } = await import('node:fs/promises');
      const files = (await readdir('src', { recursive: true })).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
      const readers: string[] = [];
      for (const file of files) if (/readSessionCookie\(|headers\.cookie/.test(await readFile(`src/${file}`, 'utf8'))) readers.push(file.replaceAll('\\', '/'));
      // logger.ts names the header only to redact it; cookie.ts defines the reader.
      expect(readers.sort()).toEqual(['core/logger.ts', 'identity/oidc/provider.ts', 'identity/sessions/authenticator.ts', 'identity/sessions/cookie.ts']);
    });

    it('AZ-2 the handler of a public route gets no principal, even from a caller who sent a valid token', async () => {
      const seen: unknown[] = [];
      const app = Fastify();
      registerRoute(app, { authenticate: async () => principals['token-user']!, authorize: async () => true }, defineRoute({ method: 'GET', url: '/open', auth: { public: true }, handler: async ({ principal }) => void seen.push(principal) }));
      // A self route needs a session authenticator: refused at start-up without one.
      expect(() => registerRoute(app, { authenticate: async () => null, authorize: async () => true }, defineRoute({ method: 'GET', url: '/mine', auth: { self: true }, handler: async ({ principal }) => principal.id }))).toThrow(/session authenticator/);
      expect((await app.inject({ method: 'GET', url: '/open', headers: { authorization: 'Bearer token-user' } })).statusCode).toBe(204);
      expect(seen).toEqual([null]);
      defineRoute({
        method: 'GET',
        url: '/typed',
        auth: { public: true },
        // @ts-expect-error a public route's principal is null: there is nobody to read an id from
        handler: async ({ principal }) => principal.id,
      });
      await app.close();
    });

    it('AZ-2 a server composed without an authorizer does not start (no allow-by-default fallback)', async () => {
      const { buildServer } = await import('../src/http/index.js');
      const { testConfig } = await import('./support/rampart.js');
      // @ts-expect-error authorize is required
      await expect(buildServer({ config: testConfig(), log: createCapturingLogger('silent').log, routes: [] })).rejects.toThrow(/authorizer is required/);
    });

    it('an authorized caller passes the pipeline; an empty result is 204', async () => {
      const ok = await inject({ method: 'GET', url: '/api/v1/probe/private', headers: { authorization: 'Bearer token-user' } });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({ id: 'u1' });
      const empty = await inject({ method: 'DELETE', url: '/api/v1/probe/nothing', headers: { authorization: 'Bearer token-user' } });
      expect(empty.statusCode).toBe(204);
    });
  });

  describe('RFC 9457 problem+json for every error', () => {
    const expectProblem = (response: Awaited<ReturnType<typeof inject>>, status: number, code: string) => {
      expect(response.statusCode).toBe(status);
      expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      const body = response.json();
      expect(body).toMatchObject({ type: `urn:rampart:problem:${code.replaceAll('_', '-')}`, status, code });
      expect(body.request_id).toBe(response.headers['x-request-id']);
      expect(response.body).not.toMatch(/at .+\.(ts|js):\d+/); // no stack trace
      return body;
    };

    it('unknown route -> 404', async () => {
      const body = expectProblem(await inject({ method: 'GET', url: '/api/v1/nope?x=1' }), 404, 'not_found');
      expect(body.detail).toBe('no route for this GET request');
      expect(body.instance).toBeUndefined();
    });

    it('malformed JSON -> 400 with a clear message', async () => {
      const body = expectProblem(await inject({ method: 'POST', url: '/api/v1/probe/validate', headers: { 'content-type': 'application/json' }, payload: '{"name": "ab",' }), 400, 'malformed_json');
      expect(body.detail).toBe('the request body is not valid JSON');
    });

    it('empty JSON body -> 400', async () => {
      expectProblem(await inject({ method: 'POST', url: '/api/v1/probe/validate', headers: { 'content-type': 'application/json' }, payload: '' }), 400, 'malformed_json');
    });

    it('oversized body -> 413', async () => {
      const payload = JSON.stringify({ name: 'x'.repeat(5000), quantity: 1 });
      expectProblem(await inject({ method: 'POST', url: '/api/v1/probe/validate', headers: { 'content-type': 'application/json' }, payload }), 413, 'payload_too_large');
    });

    it('a body that is not JSON -> 415', async () => {
      expectProblem(await inject({ method: 'POST', url: '/api/v1/probe/validate', headers: { 'content-type': 'text/plain' }, payload: 'name=x' }), 415, 'unsupported_media_type');
      expectProblem(await inject({ method: 'POST', url: '/api/v1/probe/validate', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=x' }), 415, 'unsupported_media_type');
    });

    it('validation failure -> 400 naming every bad field with a JSON pointer', async () => {
      const body = expectProblem(
        await inject({ method: 'POST', url: '/api/v1/probe/validate', payload: { name: 'a', quantity: -1, extra: true } }),
        400,
        'validation_failed',
      );
      const pointers = (body.errors as Array<{ pointer: string; in: string }>).map((e) => `${e.in}${e.pointer}`);
      expect(pointers).toEqual(expect.arrayContaining(['body/name', 'body/quantity', 'body/']));
      expect(body.detail).toMatch(/^body \//);
    });

    it('bad query parameters -> 400 naming the parameter', async () => {
      const body = expectProblem(await inject({ method: 'POST', url: '/api/v1/probe/validate?mode=z', payload: { name: 'abc', quantity: 1 } }), 400, 'validation_failed');
      expect(body.errors[0]).toMatchObject({ in: 'query', pointer: '/mode' });
    });

    it('a valid request passes validation', async () => {
      const response = await inject({ method: 'POST', url: '/api/v1/probe/validate?mode=a', payload: { name: 'abc', quantity: 2 } });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ received: { name: 'abc', quantity: 2 } });
    });

    it('an unexpected error -> 500 that says nothing about internals', async () => {
      const body = expectProblem(await inject({ method: 'GET', url: '/api/v1/probe/crash' }), 500, 'internal');
      expect(body.detail).toBeUndefined();
      expect(JSON.stringify(body)).not.toMatch(/ECONNREFUSED|hunter2|10\.0\.0\.7/);
    });

    it('a unique violation -> 409 without the conflicting value', async () => {
      const body = expectProblem(await inject({ method: 'GET', url: '/api/v1/probe/unique' }), 409, 'conflict');
      expect(JSON.stringify(body)).not.toContain('ann.customer@example.com');
    });

    it('ID-9 a throttled request is 429 with Retry-After in whole seconds', async () => {
      const response = await inject({ method: 'GET', url: '/api/v1/probe/throttled' });
      const body = expectProblem(response, 429, 'rate_limited');
      expect(response.headers['retry-after']).toBe('42');
      expect(body.retry_after_seconds).toBe(41.2);
    });

    it('bigint money serialises as a decimal string, exactly', async () => {
      const response = await inject({ method: 'GET', url: '/api/v1/probe/money' });
      expect(response.json()).toEqual({ amount: '9007199254740993', currency: 'EUR' });
    });
  });

  describe('headers', () => {
    it('DA-3 strict security headers on success and on errors', async () => {
      for (const url of ['/healthz', '/api/v1/nope']) {
        const response = await inject({ method: 'GET', url });
        const csp = String(response.headers['content-security-policy']);
        expect(csp).toContain("default-src 'self'");
        expect(csp).toContain("frame-ancestors 'none'");
        expect(csp).toContain("object-src 'none'");
        expect(csp).not.toContain('unsafe-inline');
        expect(csp).not.toContain('unsafe-eval');
        expect(response.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
        expect(response.headers['x-content-type-options']).toBe('nosniff');
        expect(response.headers['referrer-policy']).toBe('no-referrer');
        expect(response.headers['x-frame-options']).toBe('DENY');
        expect(response.headers['cache-control']).toBe('no-store');
        expect(response.headers['x-powered-by']).toBeUndefined();
      }
    });

    it('request ids: a sane incoming id is kept, a hostile one is replaced', async () => {
      const kept = await inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'trace-abc-123456' } });
      expect(kept.headers['x-request-id']).toBe('trace-abc-123456');
      const replaced = await inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'evil\r\nid with spaces' } });
      expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe('OpenAPI', () => {
    it('AZ-2 /api/v1/openapi.json describes every route with its authorization declaration', async () => {
      const response = await inject({ method: 'GET', url: '/api/v1/openapi.json' });
      expect(response.statusCode).toBe(200);
      const doc = response.json();
      expect(doc.openapi).toBe('3.1.0');
      for (const route of rampart.server.routeTable.filter((r) => r.method !== 'HEAD' && !OIDC_PROTOCOL.includes(r.url))) {
        const path = route.url.replace(/:(\w+)/g, '{$1}');
        const operation = doc.paths[path]?.[route.method.toLowerCase()];
        expect(operation, `${route.method} ${route.url} missing from OpenAPI`).toBeDefined();
        expect(operation['x-rampart-authz']).toEqual(route.auth);
      }
      const validate = doc.paths['/api/v1/probe/validate'].post;
      expect(validate.requestBody.content['application/json'].schema).toMatchObject({ type: 'object', required: ['name', 'quantity'], additionalProperties: false });
      expect(validate.parameters).toEqual([{ name: 'mode', in: 'query', required: false, schema: { type: 'string', enum: ['a', 'b'] } }]);
      expect(doc.paths['/api/v1/tenant'].get.security).toEqual([{ bearer: [] }]);
      // The real requirement of a self route: the caller's session cookie, shown as such.
      expect(doc.paths['/api/v1/me/passkeys'].get).toMatchObject({ 'x-rampart-authz': { self: true }, security: [{ session: [] }] });
      expect(doc.paths['/api/v1/identity/totp/verify'].post['x-rampart-authz']).toEqual({ self: 'pending' });
      expect(doc.components.securitySchemes.session).toEqual({ type: 'apiKey', in: 'cookie', name: '__Host-rampart_session' });
    });
  });

  describe('health', () => {
    it('/healthz and /readyz answer', async () => {
      expect((await inject({ method: 'GET', url: '/healthz' })).json()).toMatchObject({ status: 'ok' });
      expect((await inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready', checks: { database: 'ok', migrations: 'ok', policy_engine: 'ok' } });
    });
  });

  describe('DA-4 logs', () => {
    it('DA-4 tokens, cookies, query strings and driver details never reach a log line', async () => {
      await inject({ method: 'GET', url: '/api/v1/probe/private?access_token=qs-secret-123', headers: { authorization: 'Bearer token-user', cookie: 'sid=cookie-secret-456' } });
      await inject({ method: 'GET', url: '/api/v1/probe/unique' });
      await inject({ method: 'GET', url: '/api/v1/probe/crash' });
      await inject({ method: 'GET', url: '/setup/setup-token-secret-789' });
      const text = capture.lines().join('\n');
      expect(text).toContain('request failed'); // the 500 was logged...
      expect(text).toContain('/setup/[redacted]'); // ...and the setup request, without its token
      for (const secret of ['token-user', 'qs-secret-123', 'cookie-secret-456', 'ann.customer@example.com', 'setup-token-secret-789']) {
        expect(text, `log leaks ${secret}`).not.toContain(secret);
      }
    });
  });
});

describe('graceful shutdown', () => {
  it('drains an in-flight request, refuses new connections, then closes the database', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const rampart = await testRampart({
      routes: [
        defineRoute({
          method: 'GET',
          url: '/api/v1/probe/slow',
          auth: { public: true },
          handler: async () => {
            entered();
            await gate;
            return { finished: true };
          },
        }),
      ],
    });
    const address = await rampart.server.app.listen({ host: '127.0.0.1', port: 0 });
    const slow = fetch(`${address}/api/v1/probe/slow`);
    await inside;
    const closing = rampart.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(fetch(`${address}/healthz`)).rejects.toThrow();
    release();
    const response = await slow;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ finished: true });
    await closing;
    await expect(rampart.db.ping()).rejects.toThrow();
  });

  it('close() is idempotent', async () => {
    const rampart = await testRampart();
    await Promise.all([rampart.close(), rampart.close()]);
    await rampart.close();
  });
});

describe('RampartError', () => {
  it('5xx errors never expose their detail by default', () => {
    expect(new RampartError('internal', { detail: 'x' }).expose).toBe(false);
    expect(new RampartError('conflict', { detail: 'x' }).expose).toBe(true);
  });
});
