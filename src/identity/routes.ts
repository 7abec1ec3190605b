import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { z } from 'zod';
import { RampartError } from '../core/index.js';
import { findTenantBySlug } from '../db/index.js';
import { actorOf, defineRoute, requestContext, type RouteDefinition } from '../http/index.js';
import {
  acceptInvitation,
  beginPasskeyAuthentication,
  beginPasskeyRegistration,
  beginTotpEnrollment,
  confirmTotpEnrollment,
  createInvitation,
  finishPasskeyAuthentication,
  finishPasskeyRegistration,
  passwordSignIn,
  useRecoveryCode,
  verifyTotpForSession,
  type AccountDeps,
} from './accounts/index.js';
import { clearSessionCookie, listSessions, readSessionCookie, revokeAllSessions, revokeSession, sessionCookie, validateSession, type SessionView } from './sessions/index.js';
import { challengeRequiredProblem, type Challenger, type Throttle } from './throttle/index.js';

/**
 * The identity JSON API (the hosted login pages will call the same operations). Sign-in is two
 * steps: the password yields a *pending* session cookie that only the second-factor routes accept
 * (ID-4); the second factor replaces it with a full session under a new token (no fixation).
 * Every cookie is `__Host-`, HttpOnly, Secure, SameSite=Strict (ID-6).
 */

export type IdentityRouteDeps = { accounts: AccountDeps; throttle: Throttle; challenger: Challenger };

const slug = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'a tenant slug');
const code = z.string().min(1).max(64);

/**
 * WebAuthn responses as the browser serializes them (PublicKeyCredential.toJSON): shape and sizes
 * are checked here, everything else by @simplewebauthn/server. Unknown members pass through
 * (browsers add fields over time).
 */
const b64url = (max: number) => z.string().min(1).max(max).regex(/^[A-Za-z0-9_-]+={0,2}$/, 'base64url');
const credentialBase = {
  id: b64url(1400),
  rawId: b64url(1400),
  type: z.literal('public-key'),
  clientExtensionResults: z.record(z.string().max(64), z.unknown()).default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
};
const transports = z.array(z.string().max(32)).max(10).optional();
const registrationResponse = z.looseObject({
  ...credentialBase,
  response: z.looseObject({ clientDataJSON: b64url(8192), attestationObject: b64url(65_536), transports }),
});
const authenticationResponse = z.looseObject({
  ...credentialBase,
  response: z.looseObject({ clientDataJSON: b64url(8192), authenticatorData: b64url(8192), signature: b64url(2048), userHandle: b64url(1024).optional() }),
});

async function tenantFromSlug(deps: IdentityRouteDeps, value: string): Promise<string> {
  const tenant = await findTenantBySlug(deps.accounts.db, value);
  if (!tenant || tenant.status !== 'active') throw new RampartError('not_found', { detail: 'no such tenant' });
  return tenant.id;
}

const secondsUntil = (date: Date) => Math.max(0, Math.floor((date.getTime() - Date.now()) / 1000));

function setSession(reply: FastifyReply, token: string, session: SessionView): void {
  reply.header('set-cookie', sessionCookie(token, secondsUntil(session.absolute_expires_at)));
}

function cookieToken(request: FastifyRequest): string {
  const token = readSessionCookie(request.headers.cookie);
  if (!token) throw new RampartError('unauthenticated', { detail: 'sign in first' });
  return token;
}

export function identityRoutes(deps: IdentityRouteDeps): RouteDefinition[] {
  const { accounts, throttle, challenger } = deps;
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/identity/challenge',
      auth: { public: true },
      summary: 'A proof-of-work challenge for the sign-in forms (ID-10)',
      handler: async () => challenger.issue(),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/:tenant/sign-in',
      auth: { public: true },
      summary: 'Password step of a sign-in; sets a pending session cookie (ID-4, ID-9, ID-10)',
      params: z.strictObject({ tenant: slug }),
      body: z.strictObject({ email: z.string().min(1).max(320), password: z.string().min(1).max(1024), altcha: z.string().max(4096).optional() }),
      handler: async ({ params, body, request, reply }) => {
        const tenantId = await tenantFromSlug(deps, params.tenant);
        const context = requestContext(request);
        // A solution is verified (and spent) whenever one is sent, so `challengeSolved` is never
        // just "a field was present", even when the throttle's view changes between two checks.
        const challengeSolved = body.altcha ? await challenger.verify(body.altcha) : false;
        if (!challengeSolved && (await throttle.needsChallenge({ ip: request.ip, account: `${tenantId}/${body.email.normalize('NFKC').trim().toLowerCase()}` }))) throw challengeRequiredProblem();
        const result = await passwordSignIn(accounts, { tenantId, email: body.email, password: body.password, ip: request.ip, userAgent: context.userAgent, requestId: context.requestId, throttle, challengeSolved });
        setSession(reply, result.token, result.session);
        return { stage: result.stage, user: result.user };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/:tenant/invitations/accept',
      auth: { public: true },
      summary: 'Accept an invitation: set a password and create the account',
      params: z.strictObject({ tenant: slug }),
      body: z.strictObject({ token: z.string().min(16).max(200), password: z.string().max(1024), displayName: z.string().min(1).max(200) }),
      handler: async ({ params, body, request, reply }) => {
        const tenantId = await tenantFromSlug(deps, params.tenant);
        const result = await acceptInvitation(accounts, { tenantId, token: body.token, password: body.password, displayName: body.displayName, context: requestContext(request) });
        reply.code(201);
        return result;
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/totp/enroll',
      auth: { public: true },
      summary: 'Start TOTP enrollment for the signed-in (or pending) user',
      handler: async ({ request }) => {
        const enrollment = await beginTotpEnrollment(accounts, { token: cookieToken(request), context: requestContext(request) });
        return { otpauthUri: enrollment.otpauthUri, qrDataUri: enrollment.qrDataUri, secret: enrollment.secret };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/totp/confirm',
      auth: { public: true },
      summary: 'Confirm TOTP enrollment with a code; returns recovery codes once',
      body: z.strictObject({ code }),
      handler: async ({ request, reply, body }) => {
        const result = await confirmTotpEnrollment(accounts, { token: cookieToken(request), code: body.code, context: requestContext(request) });
        setSession(reply, result.token, result.session);
        return { stage: result.stage, recoveryCodes: result.recoveryCodes };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/totp/verify',
      auth: { public: true },
      summary: 'Second factor: a TOTP code',
      body: z.strictObject({ code }),
      handler: async ({ request, reply, body }) => {
        const result = await verifyTotpForSession(accounts, { token: cookieToken(request), code: body.code, context: requestContext(request), throttle, ip: request.ip });
        setSession(reply, result.token, result.session);
        return { stage: result.stage };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/recovery',
      auth: { public: true },
      summary: 'Second factor: a one-time recovery code',
      body: z.strictObject({ code }),
      handler: async ({ request, reply, body }) => {
        const result = await useRecoveryCode(accounts, { token: cookieToken(request), code: body.code, context: requestContext(request), throttle, ip: request.ip });
        setSession(reply, result.token, result.session);
        return { stage: result.stage };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/passkeys/register/options',
      auth: { public: true },
      summary: 'Start registering a passkey (discoverable, user verification required) for the signed-in (or pending) user',
      handler: async ({ request }) => beginPasskeyRegistration(accounts, { token: cookieToken(request), context: requestContext(request) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/passkeys/register/verify',
      auth: { public: true },
      summary: 'Finish registering a passkey; completes the second factor (ID-4, ID-5)',
      body: z.strictObject({ response: registrationResponse, name: z.string().trim().min(1).max(100).optional() }),
      handler: async ({ request, reply, body }) => {
        const result = await finishPasskeyRegistration(accounts, {
          token: cookieToken(request),
          response: body.response as unknown as RegistrationResponseJSON,
          ...(body.name ? { name: body.name } : {}),
          context: requestContext(request),
        });
        setSession(reply, result.token, result.session);
        return { stage: result.stage, credentialId: result.credentialId };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/passkeys/authenticate/options',
      auth: { public: true },
      summary: 'Start the passkey step of a sign-in',
      handler: async ({ request }) => beginPasskeyAuthentication(accounts, { token: cookieToken(request), context: requestContext(request) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/passkeys/authenticate/verify',
      auth: { public: true },
      summary: 'Second factor: a passkey assertion with user verification',
      body: z.strictObject({ response: authenticationResponse }),
      handler: async ({ request, reply, body }) => {
        const result = await finishPasskeyAuthentication(accounts, { token: cookieToken(request), response: body.response as unknown as AuthenticationResponseJSON, context: requestContext(request) });
        setSession(reply, result.token, result.session);
        return { stage: result.stage };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/sign-out',
      auth: { public: true },
      summary: 'Revoke this session and clear its cookie',
      handler: async ({ request, reply }) => {
        const token = readSessionCookie(request.headers.cookie);
        const valid = token ? await validateSession(accounts, token, { allowPending: true }) : null;
        if (valid) {
          await revokeSession(accounts, { tenantId: valid.session.tenant_id, actor: { type: 'user', id: valid.user.id }, userId: valid.user.id, sessionId: valid.session.id, reason: 'sign-out', context: requestContext(request) });
        }
        reply.header('set-cookie', clearSessionCookie());
        return undefined;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/me/sessions',
      auth: { action: 'list', resource: 'session' },
      summary: 'My active sessions',
      handler: async ({ principal }) => ({ items: await listSessions(accounts, { tenantId: principal!.tenantId, actor: actorOf(principal!), userId: principal!.id }) }),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/me/sessions/:id',
      auth: { action: 'revoke', resource: 'session' },
      summary: 'Revoke one of my sessions',
      params: z.strictObject({ id: z.uuid() }),
      handler: async ({ principal, params, request }) =>
        revokeSession(accounts, { tenantId: principal!.tenantId, actor: actorOf(principal!), userId: principal!.id, sessionId: params.id, reason: 'revoked by its user', context: requestContext(request) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/me/sessions/revoke-all',
      auth: { action: 'revoke', resource: 'session' },
      summary: 'Sign out everywhere (ID-6)',
      handler: async ({ principal, request, reply }) => {
        const result = await revokeAllSessions(accounts, { tenantId: principal!.tenantId, actor: actorOf(principal!), userId: principal!.id, reason: 'signed out everywhere', context: requestContext(request) });
        reply.header('set-cookie', clearSessionCookie());
        return result;
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/members/invitations',
      auth: { action: 'invite', resource: 'member', justify: true },
      summary: 'Invite someone with a role (justification required; the token is shown once)',
      body: z.strictObject({ email: z.email().max(320), role: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/), justification: z.string().max(2000) }),
      handler: async ({ principal, body, request, reply }) => {
        const result = await createInvitation(accounts, { tenantId: principal!.tenantId, actor: actorOf(principal!), email: body.email, role: body.role, justification: body.justification, context: requestContext(request), inviterRoles: principal!.roles });
        reply.code(201);
        return result;
      },
    }),
  ];
}
