import Provider, { errors, interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Clock, Logger } from '../../core/index.js';
import { withTenant, type Database } from '../../db/index.js';
import { ACR } from '../credentials/index.js';
import { readSessionCookie, validateSession } from '../sessions/index.js';
import { createAdapterFactory, revocationRetentionSeconds, type ClientLookup } from './adapter.js';
import type { PrivateJwk } from './keys.js';
import { API_WILDCARD, clientApiScopes, isApiScope, isWellFormedApiScope, OIDC_SCOPES } from './scopes.js';
import { burnCodeOnFailedRedemption, pinPublicOrigin, providerCookies } from './hardening.js';
import { errorPage, logoutPage, postLogoutPage } from './pages.js';

/**
 * The OpenID Connect provider (panva's oidc-provider, OpenID Certified) configured for Rampart's
 * controls. Each line of `configuration` that tightens a default names the control it serves.
 */

export type OidcSettings = {
  issuer: string;
  /** The resource indicator of Rampart's own API (tokens for it carry `rampart:*` scopes). */
  apiResource: string;
  /** Every API scope that exists (`rampart:<resource>` and `…:read`); a client registered with `rampart:*` may ask for any. */
  apiScopes: () => string[];
  accessTokenTtlSeconds: number;
  idTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  sessionTtlSeconds: number;
  /** Keys that sign the provider's own cookies (derived from the identity secret). */
  cookieKeys: string[];
  trustProxy: boolean;
  /** The issuer is the configured public URL: every absolute URL comes from it, never from the request. */
  issuerIsPublicUrl: boolean;
};

export type OidcAccount = { id: string; tenantId: string; email: string; displayName: string; status: string };

export const INTERACTION_TTL_SECONDS = 10 * 60;

async function findAccountRow(db: Database, sub: string): Promise<OidcAccount | undefined> {
  if (!/^[0-9a-f-]{36}$/.test(sub)) return undefined;
  // The subject is a user id (a uuid, unique across tenants); the provider asks before any tenant
  // is known, so this one lookup by primary key runs as the owner.
  const row = await db.owner.selectFrom('users').select(['id', 'tenant_id', 'email', 'display_name', 'status']).where('id', '=', sub).executeTakeFirst();
  return row ? { id: row.id, tenantId: row.tenant_id, email: row.email, displayName: row.display_name, status: row.status } : undefined;
}

/**
 * The provider's own session (its cookie) remembers who signed in; the Rampart session is the one
 * a user signs out of and that "sign out everywhere" and the idle/absolute timeouts end (ID-6).
 * Left alone, the provider kept issuing codes for the remembered account after that Rampart
 * session was gone, and to the next person on the browser it issued codes for the previous user.
 * So the login prompt is raised (the interaction then signs in whoever the Rampart session says,
 * or sends the browser to the login page) unless:
 * - the Rampart session the provider session came from is still live: same user, full, not
 *   revoked, within its timeouts, and its auth_time is the provider's login time (the interaction
 *   logs in with exactly that). This holds without the cookie, which SameSite=Strict keeps off a
 *   relying party's cross-site redirect;
 * - and, when the browser does send its Rampart cookie, that session is the same user's.
 */
function interactionsBoundToRampartSession(db: Database, clock: Clock) {
  const liveOrigin = async (accountId: string, loginTs: number | undefined) => {
    const account = await findAccountRow(db, accountId);
    if (!account || typeof loginTs !== 'number') return false;
    const now = clock.now();
    const sessions = await withTenant(
      db,
      { tenantId: account.tenantId, actor: { type: 'system', id: 'oidc' } },
      (trx) => trx.selectFrom('sessions').select('auth_time').where('user_id', '=', accountId).where('stage', '=', 'ok').where('revoked_at', 'is', null).where('idle_expires_at', '>', now).where('absolute_expires_at', '>', now).execute(),
      { readOnly: true },
    );
    return sessions.some((row) => Math.floor(row.auth_time.getTime() / 1000) === loginTs);
  };
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(
    new interactionPolicy.Check('rampart_session', 'the Rampart session ended or belongs to another user', async (ctx: KoaContextWithOIDC) => {
      const { session } = ctx.oidc;
      if (!session?.accountId || ctx.oidc.result?.['login']) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      const token = readSessionCookie(ctx.get('cookie'));
      const browser = token ? await validateSession({ db, clock }, token) : null;
      if (browser && browser.user.id !== session.accountId) return interactionPolicy.Check.REQUEST_PROMPT;
      return (await liveOrigin(session.accountId, session.loginTs)) ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
    }),
  );
  return policy;
}

export function buildProvider({ settings, db, clock, log, findClient, jwks }: { settings: OidcSettings; db: Database; clock: Clock; log: Logger; findClient: ClientLookup; jwks: PrivateJwk[] }): Provider {
  const adapter = createAdapterFactory({ db, clock, findClient, retentionSeconds: revocationRetentionSeconds(settings) });
  const configuration: Configuration = {
    adapter: adapter as unknown as Configuration['adapter'],
    jwks: { keys: jwks as unknown as NonNullable<Configuration['jwks']>['keys'] },
    // ID-6: prefixed, Secure behind TLS, HttpOnly, SameSite=Lax (why Lax: providerCookies).
    cookies: providerCookies({ keys: settings.cookieKeys, secure: new URL(settings.issuer).protocol === 'https:' }),
    // ID-2: the authorization code flow only; no implicit, no hybrid.
    responseTypes: ['code'],
    // ID-2: PKCE (S256, the only method oidc-provider 9 implements) for every client, public or not.
    pkce: { required: () => true },
    scopes: [...OIDC_SCOPES],
    // ID-7: every ID token says how and when the user authenticated (acr, amr, auth_time).
    claims: {
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      profile: ['name', 'tenant'],
      email: ['email', 'email_verified'],
      sid: null,
    },
    acrValues: Object.values(ACR),
    extraParams: ['tenant'],
    extraClientMetadata: { properties: ['rampart_tenant', 'rampart_api_scopes'] },
    clientDefaults: { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], id_token_signed_response_alg: 'ES256', token_endpoint_auth_method: 'none' },
    enabledJWA: {
      idTokenSigningAlgValues: ['ES256', 'RS256'],
      userinfoSigningAlgValues: ['ES256', 'RS256'],
      introspectionSigningAlgValues: ['ES256', 'RS256'],
      dPoPSigningAlgValues: ['ES256', 'EdDSA', 'RS256', 'PS256'],
    },
    conformIdTokenClaims: true,
    // ID-1: a refresh token is rotated on every use; presenting a used one revokes the grant.
    rotateRefreshToken: () => true,
    ttl: {
      AccessToken: () => settings.accessTokenTtlSeconds,
      AuthorizationCode: () => 60,
      IdToken: () => settings.idTokenTtlSeconds,
      // A rotated refresh token inherits what is left of its predecessor's lifetime, so rotation
      // never extends a grant past its absolute lifetime.
      RefreshToken: (ctx: KoaContextWithOIDC) => ctx?.oidc?.entities.RotatedRefreshToken?.remainingTTL ?? settings.refreshTokenTtlSeconds,
      Interaction: () => INTERACTION_TTL_SECONDS,
      Session: () => settings.sessionTtlSeconds,
      Grant: () => settings.refreshTokenTtlSeconds,
    },
    interactions: { policy: interactionsBoundToRampartSession(db, clock), url: (_ctx: KoaContextWithOIDC, interaction: { uid: string }) => `/oidc/interaction/${interaction.uid}` },
    routes: {
      authorization: '/oidc/auth',
      token: '/oidc/token',
      jwks: '/oidc/jwks',
      userinfo: '/oidc/me',
      revocation: '/oidc/token/revocation',
      introspection: '/oidc/token/introspection',
      end_session: '/oidc/session/end',
      pushed_authorization_request: '/oidc/request',
      code_verification: '/oidc/device',
      device_authorization: '/oidc/device/auth',
      backchannel_authentication: '/oidc/backchannel',
      challenge: '/oidc/challenge',
      registration: '/oidc/reg',
    },
    // (cast: @types/oidc-provider lags the 9.x feature options used here)
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: false },
      clientCredentials: { enabled: false },
      deviceFlow: { enabled: false },
      introspection: {
        enabled: true,
        // Only a confidential client of the same tenant may introspect a token.
        allowedPolicy: async (ctx: KoaContextWithOIDC, client: { clientAuthMethod?: string | undefined; clientId: string; metadata(): Record<string, unknown> }, token: { clientId?: string | undefined }) => {
          if (client.clientAuthMethod === 'none') return false;
          if (token.clientId === client.clientId) return true;
          const owner = token.clientId ? await ctx.oidc.provider.Client.find(token.clientId) : undefined;
          const tenantOf = (c: { metadata(): Record<string, unknown> } | undefined) => c?.metadata()['rampart_tenant'];
          return Boolean(owner && tenantOf(owner) && tenantOf(owner) === tenantOf(client));
        },
      },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      // ID-7: sender-constrained tokens. A client registered with dpop_bound_access_tokens must prove.
      dPoP: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource: logoutPage, postLogoutSuccessSource: postLogoutPage },
      // ID-8: audience-restricted tokens per resource, with that resource's narrow scopes.
      resourceIndicators: {
        enabled: true,
        // A request for API scopes is for the API; one for OIDC scopes only gets a userinfo token.
        defaultResource: async (ctx: KoaContextWithOIDC, _client: unknown, oneOf?: readonly string[]) =>
          oneOf ?? (String(ctx.oidc.params?.['scope'] ?? '').split(' ').some(isApiScope) ? settings.apiResource : undefined),
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx: KoaContextWithOIDC, resourceIndicator: string, client: { metadata(): Record<string, unknown> }) => {
          if (resourceIndicator !== settings.apiResource) throw new errors.InvalidTarget('unknown resource indicator');
          const registered = clientApiScopes(client);
          // A wildcard client may name any well-formed API scope, app resources included (their
          // names depend on the tenant's installed apps); the consent step keeps only what the
          // user holds, so the wildcard never widens a token beyond the user's rights.
          const named = [...String(ctx.oidc.params?.['scope'] ?? '').split(' '), ...String(ctx.oidc.entities.Grant?.getResourceScope(resourceIndicator) ?? '').split(' ')].filter(isWellFormedApiScope);
          const scope = [...new Set(registered.includes(API_WILDCARD) ? [...settings.apiScopes(), ...named] : registered)].join(' ');
          return { scope, audience: settings.apiResource, accessTokenTTL: settings.accessTokenTtlSeconds, accessTokenFormat: 'opaque' };
        },
      },
    } as unknown as Configuration['features'],
    async findAccount(ctx: KoaContextWithOIDC, sub: string) {
      const account = await findAccountRow(db, sub);
      if (!account || account.status !== 'active') return undefined;
      // A tenant's client serves only that tenant's users, whatever the token or session says.
      const tenant = ctx.oidc.client?.metadata()['rampart_tenant'];
      if (typeof tenant === 'string' && tenant !== account.tenantId) return undefined;
      return {
        accountId: account.id,
        claims: async () => ({ sub: account.id, email: account.email, email_verified: true, name: account.displayName, tenant: account.tenantId }),
      };
    },
    // The tenant travels with every token; how and when the user authenticated travels too, from
    // the code or refresh token it was exchanged for, so step-up (ID-7) can judge a token principal.
    extraTokenClaims: async (ctx: KoaContextWithOIDC, token: object) => {
      const accountId = (token as { accountId?: unknown }).accountId;
      if (typeof accountId !== 'string') return undefined;
      const account = await findAccountRow(db, accountId);
      if (!account) return undefined;
      const source = (ctx.oidc.entities.AuthorizationCode ?? ctx.oidc.entities.RefreshToken) as { authTime?: number; amr?: string[]; acr?: string } | undefined;
      return { tenant: account.tenantId, ...(source?.authTime ? { auth_time: source.authTime, amr: source.amr ?? [], acr: source.acr } : {}) };
    },
    renderError: errorPage,
    clockTolerance: 15,
  };
  const provider = new Provider(settings.issuer, configuration);
  provider.proxy = settings.trustProxy;
  if (settings.issuerIsPublicUrl) pinPublicOrigin(provider, settings.issuer);
  burnCodeOnFailedRedemption(provider);
  provider.on('server_error', (_ctx: unknown, error: Error) => log.error({ err: { message: error.message, name: error.name } }, 'oidc provider error'));
  return provider;
}
