import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../http/index.js';
import { RampartError } from '../core/index.js';
import type { DashboardBundle, DashboardFile } from './bundle.js';

/**
 * Serves the admin dashboard SPA under /dashboard/. Public on purpose: these are HTML, JS and CSS
 * only; every piece of data the dashboard shows comes from the API, which authenticates and
 * authorizes each call (AZ-2). The server-wide CSP (script-src and style-src 'self', no inline)
 * applies to these responses like to every other.
 *
 * - `/dashboard/assets/:name`: hashed build outputs, from the allowlist built at start-up, cached
 *   for a year (`immutable`: a new build has new names);
 * - any other `/dashboard/...` path without a file extension is a client route (the OIDC
 *   callback `/dashboard/callback` included) and gets index.html, revalidated on every load so a
 *   deployment takes effect at once;
 * - a path that looks like a file but is not in the allowlist is 404, never index.html (a script
 *   tag pointing at a missing file must not receive HTML).
 */

// control: AZ-2 (public static files only), DA-3 (the server's CSP and headers apply)
export const DASHBOARD_PREFIX = '/dashboard';

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dashboard not built · Rampart</title></head>
<body><main><h1>The dashboard is not built</h1><p>Run <code>npm run build:web</code> (or <code>npm start</code>, which builds it when missing) and reload.</p></main></body></html>
`;

const sendFile = (request: FastifyRequest, reply: FastifyReply, file: DashboardFile, cacheControl: string) => {
  reply.type(file.contentType).header('x-content-type-options', 'nosniff').header('cache-control', cacheControl).header('etag', file.etag);
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
  return reply.send(file.body);
};

/** Like every other error, problem+json (invariant 7). */
const notFound = (): never => {
  throw new RampartError('not_found', { detail: 'no such file' });
};

export function dashboardRoutes({ bundle }: { bundle: DashboardBundle | undefined }): RouteDefinition[] {
  const sendIndex = (request: FastifyRequest, reply: FastifyReply) => {
    if (!bundle) return reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT);
    return sendFile(request, reply, bundle.index, 'no-cache');
  };
  return [
    defineRoute({
      method: 'GET',
      url: DASHBOARD_PREFIX,
      auth: { public: true },
      summary: 'The admin dashboard (redirects to /dashboard/)',
      handler: async ({ reply }) => reply.redirect(`${DASHBOARD_PREFIX}/`, 308),
    }),
    defineRoute({
      method: 'GET',
      url: `${DASHBOARD_PREFIX}/`,
      auth: { public: true },
      summary: 'The admin dashboard (single-page app shell)',
      handler: async ({ request, reply }) => sendIndex(request, reply),
    }),
    defineRoute({
      method: 'GET',
      url: `${DASHBOARD_PREFIX}/assets/:name`,
      auth: { public: true },
      summary: 'Scripts and styles of the admin dashboard (build outputs, fixed allowlist)',
      params: z.strictObject({ name: z.string().max(200) }),
      handler: async ({ params, request, reply }) => {
        const file = bundle?.assets.get(params.name);
        if (!file) return notFound();
        return sendFile(request, reply, file, file.isHashed ? 'public, max-age=31536000, immutable' : 'public, max-age=300');
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${DASHBOARD_PREFIX}/*`,
      auth: { public: true },
      summary: 'Client routes of the admin dashboard (the OIDC callback included): the app shell',
      handler: async ({ request, reply }) => {
        const path = request.url.split('?')[0]!;
        // Anything shaped like a file that the allowlist does not hold is missing, not a client route.
        if (/\.[A-Za-z0-9]{1,8}$/.test(path)) return notFound();
        return sendIndex(request, reply);
      },
    }),
  ];
}
