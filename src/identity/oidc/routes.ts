import { z } from 'zod';
import type { AuditLog } from '../../audit/index.js';
import { toAuthzPrincipal, type Authz } from '../../authz/index.js';
import { RampartError, type Clock, type KekRing } from '../../core/index.js';
import { findTenantBySlug, unsafeAsSystem, withTenant, type Database, type Tenant } from '../../db/index.js';
import { actorOf, defineRoute, requestContext, requireFreshAuth, withCaller, type RouteDefinition } from '../../http/index.js';
import { validateSession } from '../sessions/index.js';
import { clientInputSchema, clientUpdateSchema, createClient, deleteClient, getClient, listClients, rotateClientSecret, updateClient } from './clients.js';
import { INTERACTION_TTL_SECONDS } from './provider.js';
import { clientApiScopes, grantableApiScopes, heldApiScopes, isApiScope } from './scopes.js';
import type { Oidc } from './service.js';

/**
 * The interaction endpoint (where the provider sends a browser that must sign in or grant) and the
 * admin API for clients and signing keys.
 *
 * Sign-in itself happens in the hosted login UI, which creates a Rampart session (password, then a
 * second factor, ID-4/ID-5). The interaction accepts that session only when it belongs to the
 * client's tenant and is fresh enough for `prompt=login` / `max_age`; otherwise it sends the browser
 * to the login page with a safe return path. Clients are first-party (registered by the tenant's
 * admins or by the platform), so consent is implied, but never wider than the user's own rights (ID-8).
 */

const justification = z.string().max(2000);
const clientIdParam = z.object({ clientId: z.string().regex(/^[A-Za-z0-9._-]{3,128}$/) });

export function oidcRoutes({ oidc, db, audit, authz, ring, clock }: { oidc: Oidc; db: Database; audit: AuditLog; authz: Authz; ring: KekRing; clock: Clock }): RouteDefinition[] {
  const tenantById = (id: string) => unsafeAsSystem(db, { reason: 'resolve the tenant of an OIDC client' }, (trx) => trx.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst());

  return [
    defineRoute({
      method: 'GET',
      url: '/oidc/interaction/:uid',
      auth: { public: true, session: 'optional' },
      summary: 'OIDC interaction: completes sign-in from the Rampart session or sends the browser to the login page',
      params: z.object({ uid: z.string().regex(/^[A-Za-z0-9_-]{8,128}$/) }),
      handler: async ({ request, reply, params, session: browser }) => {
        const provider = oidc.provider();
        const details = await provider.interactionDetails(request.raw, reply.raw).catch(() => undefined);
        if (!details || details.uid !== params.uid) throw new RampartError('not_found', { detail: 'this sign-in request is unknown or has expired; start again from the application' });
        const finish = async (result: Record<string, unknown>, merge = false) => {
          const to = await provider.interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission: merge });
          return reply.redirect(to, 303);
        };

        const clientId = String(details.params.client_id ?? '');
        const client = await provider.Client.find(clientId);
        if (!client) return finish({ error: 'invalid_client', error_description: 'unknown client' });
        const ownTenant = client.metadata()['rampart_tenant'];
        const tenant: Tenant | undefined =
          typeof ownTenant === 'string' ? await tenantById(ownTenant) : typeof details.params.tenant === 'string' && /^[a-z0-9-]{1,63}$/.test(details.params.tenant) ? await findTenantBySlug(db, details.params.tenant) : undefined;
        if (!tenant || tenant.status !== 'active') return finish({ error: 'invalid_request', error_description: 'the sign-in request names no active tenant (platform clients send `tenant`)' });

        const valid = browser ? await validateSession({ db, clock }, browser.token) : null;
        const session = valid && valid.session.tenant_id === tenant.id ? valid : null;

        if (details.prompt.name === 'login') {
          const createdAt = ((details.exp as number) - INTERACTION_TTL_SECONDS) * 1000;
          const maxAge = Number(details.params.max_age);
          const mustReauthenticate = details.prompt.reasons.includes('login_prompt') || Number.isFinite(maxAge);
          const fresh =
            session &&
            (!details.prompt.reasons.includes('login_prompt') || session.session.auth_time.getTime() >= createdAt - 1000) &&
            (!Number.isFinite(maxAge) || session.session.auth_time.getTime() >= clock.now().getTime() - maxAge * 1000);
          if (!fresh) {
            const returnTo = `/oidc/interaction/${details.uid}`;
            return reply.redirect(`/login/${tenant.slug}?return_to=${encodeURIComponent(returnTo)}${mustReauthenticate ? '&prompt=login' : ''}`, 303);
          }
          await withTenant(db, { tenantId: tenant.id, actor: { type: 'user', id: session.user.id } }, (trx) =>
            audit.record(trx, { tenantId: tenant.id, actor: { type: 'user', id: session.user.id }, action: 'identity.oidc.signed_in', target: { type: 'client', id: clientId }, diff: { acr: { after: session.session.acr }, amr: { after: session.session.amr } }, context: requestContext(request) }),
          );
          return finish({ login: { accountId: session.user.id, acr: session.session.acr, amr: session.session.amr, ts: Math.floor(session.session.auth_time.getTime() / 1000), remember: false } });
        }

        if (details.prompt.name === 'consent') {
          const accountId = details.session?.accountId;
          if (!accountId || !session || session.user.id !== accountId) return finish({ error: 'login_required', error_description: 'sign in again' });
          const set = await authz.policySet(tenant.id);
          const held = heldApiScopes(set, toAuthzPrincipal({ type: 'user', id: accountId, tenantId: tenant.id, roles: session.user.roles, attributes: { department: session.user.department, region: session.user.region } }));
          const clientScopes = new Set([...String(client.scope ?? '').split(' ').filter(Boolean), ...clientApiScopes(client)]);
          const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId });
          if (!grant) return finish({ error: 'access_denied', error_description: 'the grant is gone' });
          const promptDetails = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
          // What cannot be granted is recorded as rejected, so the provider issues the narrower grant
          // instead of asking again.
          const missingOidc = promptDetails.missingOIDCScope ?? [];
          const oidcScopes = missingOidc.filter((s) => !isApiScope(s) && (s === 'openid' || clientScopes.has(s)));
          if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
          const refusedOidc = missingOidc.filter((s) => !oidcScopes.includes(s));
          if (refusedOidc.length) grant.rejectOIDCScope(refusedOidc.join(' '));
          // How the user authenticated always travels with the ID token (ID-7: acr/amr reflect it).
          grant.addOIDCClaims(['acr', 'amr', 'auth_time', ...(promptDetails.missingOIDCClaims ?? [])]);
          for (const [resource, scopes] of Object.entries(promptDetails.missingResourceScopes ?? {})) {
            const grantable = grantableApiScopes({ requested: scopes, clientScopes, held });
            if (grantable.length) grant.addResourceScope(resource, grantable.join(' '));
            const refused = scopes.filter((s) => !grantable.includes(s));
            if (refused.length) grant.rejectResourceScope(resource, refused.join(' '));
          }
          const grantId = await grant.save();
          return finish({ consent: { grantId } }, true);
        }
        return finish({ error: 'access_denied', error_description: 'unsupported interaction' });
      },
    }),

    defineRoute({
      method: 'GET',
      url: '/api/v1/oidc/clients',
      auth: { action: 'list', resource: 'client' },
      summary: 'OIDC clients registered by the caller’s tenant',
      handler: async ({ principal }) => ({ clients: await withCaller(db, principal, (trx) => listClients(trx), { readOnly: true }) }),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/oidc/clients/:clientId',
      auth: { action: 'read', resource: 'client' },
      params: clientIdParam,
      handler: async ({ principal, params }) => withCaller(db, principal, (trx) => getClient(trx, params.clientId), { readOnly: true }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/oidc/clients',
      auth: { action: 'create', resource: 'client', justify: true },
      summary: 'Registers a client (the secret of a confidential client is returned once)',
      body: clientInputSchema.extend({ justification }),
      handler: async ({ principal, body, request, reply }) => {
        const { justification: why, ...input } = body;
        const created = await withCaller(db, principal, (trx) => createClient({ trx, tenantId: principal.tenantId, ring, audit, actor: actorOf(principal), justification: why, context: requestContext(request) }, input));
        reply.code(201);
        return created;
      },
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/oidc/clients/:clientId',
      auth: { action: 'update', resource: 'client', justify: true },
      params: clientIdParam,
      body: clientUpdateSchema.extend({ justification }),
      handler: async ({ principal, params, body, request }) => {
        const { justification: why, ...patch } = body;
        return withCaller(db, principal, (trx) => updateClient({ trx, tenantId: principal.tenantId, ring, audit, actor: actorOf(principal), justification: why, context: requestContext(request) }, params.clientId, patch));
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/oidc/clients/:clientId/secret',
      auth: { action: 'update', resource: 'client', justify: true },
      summary: 'Issues a new secret for a confidential client (the old one stops working)',
      params: clientIdParam,
      body: z.strictObject({ justification }),
      handler: async ({ principal, params, body, request }) =>
        withCaller(db, principal, (trx) => rotateClientSecret({ trx, tenantId: principal.tenantId, ring, audit, actor: actorOf(principal), justification: body.justification, context: requestContext(request) }, params.clientId)),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/oidc/clients/:clientId',
      auth: { action: 'delete', resource: 'client', justify: true },
      summary: 'Deletes a client and revokes every token it holds',
      params: clientIdParam,
      body: z.strictObject({ justification }),
      handler: async ({ principal, params, body, request }) => {
        await withCaller(db, principal, (trx) => deleteClient({ trx, tenantId: principal.tenantId, ring, audit, actor: actorOf(principal), justification: body.justification, context: requestContext(request) }, params.clientId));
        // The provider's store is closed to the app role; the client is already gone from the tenant.
        await oidc.revokeClient(params.clientId);
      },
    }),

    defineRoute({
      method: 'GET',
      url: '/api/v1/oidc/keys',
      auth: { action: 'list', resource: 'signing_key' },
      summary: 'Token signing keys and their state (no private material)',
      handler: async () => ({ keys: await oidc.keys.list() }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/oidc/keys/rotate',
      // ID-3 + ID-7: a rotation is one call, audited, and needs a passkey proven in the last 5 minutes.
      auth: { action: 'rotate', resource: 'signing_key', justify: true, fresh: requireFreshAuth({ maxAgeSeconds: 300, factor: 'webauthn' }) },
      summary: 'Rotates the signing keys: the staged key starts signing, the current one is retired',
      body: z.strictObject({ justification }),
      handler: async ({ principal, body, request }) => {
        const result = await oidc.keys.rotate({ actor: actorOf(principal), reason: body.justification, context: requestContext(request) });
        await oidc.refreshKeys();
        return result;
      },
    }),
  ];
}
