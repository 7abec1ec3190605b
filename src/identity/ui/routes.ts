import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { RampartError } from '../../core/index.js';
import { findTenantBySlug, type Tenant } from '../../db/index.js';
import { defineRoute, type RouteDefinition } from '../../http/index.js';
import type { AccountDeps } from '../accounts/index.js';
import { assetRoutes, loadAssets, type AssetCatalog } from './assets.js';
import { accountPage, invitePage, loginPage, magicLinkPage, notFoundPage, setupPage, type Features } from './pages.js';
import { safeReturnTo } from './return-to.js';
import { loginState } from './state.js';

/**
 * The hosted login UI (controls ID-4, ID-5, ID-6, ID-10): server-rendered pages whose scripts call
 * the identity JSON API with same-origin `fetch`. The entry point for the OIDC provider is
 * `GET /login/:tenant?return_to=<path>`; a finished sign-in goes to `return_to` when it is a safe
 * same-origin path (see safeReturnTo), else to `/account/:tenant`.
 */

// control: ID-4, ID-5, ID-6, ID-10 (the pages drive the API's forced enrollment, passkey rule and bot check)
export type LoginUiDeps = {
  accounts: AccountDeps;
  /** The tenant whose first admin the printed `/setup/<token>` link creates (the demo tenant of a fresh install). */
  setupTenantSlug?: string;
};

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const tenantParams = z.strictObject({ tenant: z.string().max(200) });
// A repeated or oversized parameter is treated as absent rather than failing the page.
const pageQuery = z.looseObject({ return_to: z.string().max(4096).optional().catch(undefined) });

/** Endpoints that other work adds to the identity API; pages offer what is there. */
function featuresOf(request: FastifyRequest): Features {
  const has = (method: 'GET' | 'POST', url: string) => request.server.hasRoute({ method, url });
  return {
    passkeySignIn: has('POST', '/api/v1/identity/:tenant/passkeys/sign-in/options'),
    magicLink: has('POST', '/api/v1/identity/:tenant/magic-link'),
    passkeyList: has('GET', '/api/v1/me/passkeys'),
  };
}

const sendHtml = (reply: FastifyReply, status: number, body: string) => reply.code(status).type('text/html; charset=utf-8').send(body);

export function loginUiRoutes(deps: LoginUiDeps, assets: AssetCatalog = loadAssets()): RouteDefinition[] {
  /** An active tenant for a slug; unknown, malformed and suspended all look the same (404). */
  const activeTenant = async (slug: string): Promise<Tenant | undefined> => {
    if (!SLUG.test(slug)) return undefined;
    const tenant = await findTenantBySlug(deps.accounts.db, slug);
    return tenant && tenant.status === 'active' ? tenant : undefined;
  };
  const notFound = (reply: FastifyReply) => sendHtml(reply, 404, notFoundPage(assets));

  const page = (url: string, summary: string, render: typeof loginPage) =>
    defineRoute({
      method: 'GET',
      url,
      auth: { public: true },
      summary,
      params: tenantParams,
      query: pageQuery,
      handler: async ({ params, query, request, reply }) => {
        const tenant = await activeTenant(params.tenant);
        if (!tenant) return notFound(reply);
        const returnTo = safeReturnTo(query.return_to) ?? `/account/${tenant.slug}`;
        return sendHtml(reply, 200, render({ assets, tenant: { slug: tenant.slug, name: tenant.name }, features: featuresOf(request), returnTo }));
      },
    });

  return [
    page('/login/:tenant', 'Hosted sign-in page (password, second factor, forced MFA enrollment)', loginPage),
    page('/invite/:tenant', 'Invitation page: choose a name and password', invitePage),
    page('/account/:tenant', 'Account page: who am I, sessions, passkeys, sign out', accountPage),
    page('/login/:tenant/magic-link', 'Request a sign-in link by email, and the page the link opens', magicLinkPage),
    defineRoute({
      method: 'GET',
      url: '/setup/:token',
      auth: { public: true },
      summary: 'First-admin setup page for the one-time link printed at start',
      params: z.strictObject({ token: z.string().max(200) }),
      handler: async ({ request, reply }) => {
        const tenant = await activeTenant(deps.setupTenantSlug ?? 'demo');
        if (!tenant) return notFound(reply);
        return sendHtml(reply, 200, setupPage({ assets, tenant: { slug: tenant.slug, name: tenant.name }, features: featuresOf(request), returnTo: `/account/${tenant.slug}` }));
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/login/:tenant/state',
      auth: { public: true, session: 'optional' },
      summary: "The login page's view of the browser's own (pending or full) session",
      params: tenantParams,
      handler: async ({ params, session }) => {
        const tenant = await activeTenant(params.tenant);
        if (!tenant) throw new RampartError('not_found', { detail: 'no such tenant' });
        return loginState(deps.accounts, { token: session?.token, tenantId: tenant.id });
      },
    }),
    ...assetRoutes(assets),
  ];
}
