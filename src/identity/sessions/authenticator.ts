import type { FastifyRequest } from 'fastify';
import { systemClock, type Clock } from '../../core/index.js';
import type { Database } from '../../db/index.js';
import type { Authenticator, Principal } from '../../http/index.js';
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
 * The request pipeline's Authenticator for browser sessions. Reads only the `__Host-` session
 * cookie: `Authorization: Bearer` is deliberately ignored here (bearer tokens will be OIDC access
 * tokens, verified by their own authenticator). The tenant comes from the session row, found
 * under RLS in the tenant named by the token. A pending (MFA-incomplete) session authenticates
 * nothing (ID-4): the login UI reads it with `validateSession(..., { allowPending: true })`.
 * With a `cache` (see cache.ts), a full session validated a moment ago on this node is not read again.
 */
export function sessionAuthenticator({ db, clock = systemClock, cache }: { db: Database; clock?: Clock; cache?: SessionCache }): Authenticator {
  return async (request: FastifyRequest): Promise<Principal | null> => {
    const token = readSessionCookie(request.headers.cookie);
    if (!token) return null;
    const hash = cache ? hashToken(token) : '';
    const now = clock.now();
    const cached = cache?.get(hash, now);
    if (cached) return principalOfSession(cached, now);
    const generation = cache?.generation ?? 0;
    const valid = await validateSession({ db, clock }, token);
    if (!valid) return null;
    cache?.put(hash, valid, generation);
    return principalOfSession(valid, clock.now());
  };
}
