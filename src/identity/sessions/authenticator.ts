import type { FastifyRequest } from 'fastify';
import { systemClock, type Clock } from '../../core/index.js';
import type { Database } from '../../db/index.js';
import type { Authenticator, Principal, SessionAuthenticator } from '../../http/index.js';
import type { SessionCache } from './cache.js';
import { readSessionCookie } from './cookie.js';
import { hashToken } from './tokens.js';
import { validateSession, type ValidSession } from './operations/validate-session.js';

/**
 * The Principal of a valid session. Besides who it is, it carries how and when it authenticated
 * (`authTime`, `amr`, `acr`) and when a passkey was last proven (`factorTimes.webauthn`), so a
 * route's step-up guard (ID-7) computes freshness from them at check time; `validatedAt` is the
 * authenticator's clock for that computation.
 */
export function principalOfSession(valid: ValidSession, now: Date): Principal {
  return {
    type: 'user',
    id: valid.user.id,
    tenantId: valid.session.tenant_id,
    roles: valid.user.roles,
    attributes: { department: valid.user.department, region: valid.user.region },
    authTime: valid.session.auth_time,
    amr: valid.session.amr,
    acr: valid.session.acr,
    factorTimes: { webauthn: valid.session.webauthn_verified_at ?? undefined },
    validatedAt: now,
  };
}

/**
 * The browser session as the pipeline sees it: the `__Host-` session cookie, read here and nowhere
 * else on the request path (`Authorization: Bearer` is ignored: access tokens have their own
 * authenticator). The tenant comes from the session row, found under RLS in the tenant named by
 * the token. A pending (MFA-incomplete) session authenticates only when the route asks for one
 * (`{ self: 'pending' }`, ID-4). With a `cache` (see cache.ts), a full session validated a moment
 * ago on this node is not read again; pending ones are always read.
 */
export function sessionCredentials({ db, clock = systemClock, cache }: { db: Database; clock?: Clock; cache?: SessionCache }): SessionAuthenticator {
  const readToken = (request: FastifyRequest) => readSessionCookie(request.headers.cookie);
  return {
    readToken,
    async authenticate(request, { allowPending }) {
      const token = readToken(request);
      if (!token) return null;
      const hash = cache ? hashToken(token) : '';
      const now = clock.now();
      const cached = cache?.get(hash, now);
      if (cached) return { principal: principalOfSession(cached, now), session: { token, id: cached.session.id } };
      const generation = cache?.generation ?? 0;
      const valid = await validateSession({ db, clock }, token, { allowPending });
      if (!valid) return null;
      if (valid.session.stage === 'ok') cache?.put(hash, valid, generation);
      return { principal: principalOfSession(valid, clock.now()), session: { token, id: valid.session.id } };
    },
  };
}

/** The Authenticator of `{ action, resource }` routes for browser sessions: a full session only (ID-4). */
export function sessionAuthenticator(deps: { db: Database; clock?: Clock; cache?: SessionCache }): Authenticator {
  const sessions = sessionCredentials(deps);
  return async (request) => (await sessions.authenticate(request, { allowPending: false }))?.principal ?? null;
}
