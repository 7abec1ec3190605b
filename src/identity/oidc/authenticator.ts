import type { FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { Clock } from '../../core/index.js';
import { withTenant, type Database } from '../../db/index.js';
import type { Authenticator, Authorizer, Principal, SessionAuthenticator } from '../../http/index.js';
import type { OnceStore } from '../throttle/index.js';
import { verifyDpopProof } from './dpop.js';
import { scopeAllows } from './scopes.js';

/**
 * The request pipeline's Authenticator for OAuth access tokens issued by Rampart's provider
 * (controls ID-1, ID-7, ID-8). Opaque tokens, looked up in the provider's store: a revoked grant
 * (logout, refresh-token reuse) stops its tokens at once, with no wait for expiry.
 *
 * - the token must be for Rampart's API (audience = the API resource indicator);
 * - a DPoP-bound token must come with `Authorization: DPoP` and a valid proof; a bound token sent
 *   as `Bearer` is refused (RFC 9449 §7.1), so a stolen token alone is useless;
 * - the principal carries the token's scopes, which the scoped authorizer intersects with policy;
 * - only a DPoP-bound token carries `authTime`/`amr`, so step-up guards (ID-7) accept tokens only
 *   when they are sender-constrained.
 */
export function tokenAuthenticator({ provider, db, clock, proofClock = clock, apiResource, issuer, replay, issuerIsConfigured = true }: {
  provider: () => Provider;
  db: Database;
  /** Identity time: when the request was authenticated (`validatedAt`, what step-up freshness is measured against). */
  clock: Clock;
  /** Wall-clock time for a DPoP proof's `iat`, which the client's own clock wrote. Defaults to `clock`. */
  proofClock?: Clock;
  apiResource: string;
  issuer: string;
  replay: OnceStore;
  /**
   * With a configured public URL, a DPoP proof must name that origin. Without one (development on
   * localhost), the origin the request actually came to (localhost or 127.0.0.1) is the one.
   */
  issuerIsConfigured?: boolean;
}): Authenticator {
  const configuredOrigin = new URL(issuer).origin;
  return async (request: FastifyRequest): Promise<Principal | null> => {
    const header = request.headers.authorization;
    if (!header) return null;
    const match = /^(Bearer|DPoP) ([A-Za-z0-9._~+/-]{20,512}=*)$/i.exec(header);
    if (!match) return null;
    const scheme = match[1]!.toLowerCase();
    const value = match[2]!;
    const token = await provider().AccessToken.find(value);
    if (!token || token.isExpired || !token.accountId) return null;
    if (token.aud !== apiResource && !(Array.isArray(token.aud) && token.aud.includes(apiResource))) return null;
    const jkt = token.jkt as string | undefined;
    if (jkt) {
      if (scheme !== 'dpop') return null;
      const proof = request.headers.dpop;
      const origin = issuerIsConfigured ? configuredOrigin : `${request.protocol}://${request.host}`;
      const ok = await verifyDpopProof({ proof: typeof proof === 'string' ? proof : undefined, method: request.method, url: `${origin}${request.url}`, accessToken: value, boundJkt: jkt }, replay, Math.floor(proofClock.now().getTime() / 1000));
      if (!ok) return null;
    } else if (scheme !== 'bearer') {
      return null;
    }
    const extra = (token.extra ?? {}) as { tenant?: unknown; auth_time?: unknown; amr?: unknown; acr?: unknown };
    const tenantId = extra.tenant;
    if (typeof tenantId !== 'string') return null;
    const user = await withTenant(db, { tenantId, actor: { type: 'system', id: 'oidc' } }, async (trx) => {
      const row = await trx.selectFrom('users').select(['id', 'status', 'department', 'region']).where('id', '=', token.accountId!).executeTakeFirst();
      if (!row || row.status !== 'active') return undefined;
      const roles = await trx.selectFrom('user_roles').select('role').where('user_id', '=', row.id).execute();
      return { ...row, roles: roles.map((r) => r.role).sort() };
    }, { readOnly: true });
    if (!user) return null;
    const grant = token.grantId ? await provider().Grant.find(token.grantId) : undefined;
    if (!grant) return null;
    return {
      type: 'user',
      id: user.id,
      tenantId,
      roles: user.roles,
      attributes: { department: user.department, region: user.region },
      scopes: new Set(String(token.scope ?? '').split(' ').filter(Boolean)),
      ...(jkt && typeof extra.auth_time === 'number' ? { authTime: new Date(extra.auth_time * 1000), amr: Array.isArray(extra.amr) ? extra.amr.map(String) : [], acr: typeof extra.acr === 'string' ? extra.acr : undefined } : {}),
      validatedAt: clock.now(),
    };
  };
}

/** Wraps the policy authorizer: a token principal must also hold a scope covering the route (ID-8). */
export function scopedAuthorizer(inner: Authorizer): Authorizer {
  return async (input) => {
    const scopes = input.principal.scopes;
    if (scopes && !scopeAllows(scopes, input.action, input.resource)) return false;
    return inner(input);
  };
}

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A state-changing request the browser itself labels as coming from another origin of this site
 * or another site (Fetch Metadata). SameSite=Strict keeps the session cookie off cross-site
 * requests, but a sibling subdomain is "same site": its page could still send a body-less POST
 * (sign out everywhere, sign out, start an enrollment) with the cookie attached. Such a request
 * is not authenticated by the cookie. Requests without the header (non-browser clients, tests)
 * are unaffected; tokens are unaffected (a page cannot attach them for another origin).
 */
export function isCrossOriginWrite(request: Pick<FastifyRequest, 'method' | 'headers'>): boolean {
  const site = request.headers['sec-fetch-site'];
  return UNSAFE_METHODS.has(request.method) && (site === 'cross-site' || site === 'same-site');
}

/** Tokens first when an Authorization header is present (never falling back to the cookie), else the session. */
export function firstAuthenticator(byToken: Authenticator, bySession: Authenticator): Authenticator {
  return async (request) => (request.headers.authorization ? byToken(request) : isCrossOriginWrite(request) ? null : bySession(request));
}

/** The session of `self` routes, with the same rule: a write from another origin of the site carries no session. */
export function sameOriginSession(sessions: SessionAuthenticator): SessionAuthenticator {
  return {
    readToken: (request) => (isCrossOriginWrite(request) ? undefined : sessions.readToken(request)),
    authenticate: async (request, options) => (isCrossOriginWrite(request) ? null : sessions.authenticate(request, options)),
  };
}
