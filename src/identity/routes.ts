import type { FastifyReply } from 'fastify';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { z } from 'zod';
import { RampartError } from '../core/index.js';
import { findTenantBySlug } from '../db/index.js';
import { actorOf, defineRoute, requestContext, requireFreshAuth, type RouteDefinition } from '../http/index.js';
import {
  acceptInvitation,
  beginPasskeyAuthentication,
  beginPasskeySignIn,
  completeSetup,
  consumeMagicLink,
  finishPasskeySignIn,
  listPasskeys,
  memberRoutes,
  removePasskey,
  removeTotp,
  renamePasskey,
  requestMagicLink,
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
import { clearSessionCookie, listSessions, revokeAllSessions, revokeSession, sessionCookie, type SessionView } from './sessions/index.js';
import type { Mailer } from './mail/index.js';
import { beginStepUp, finishStepUp } from './stepup/index.js';
import { challengeRequiredProblem, throttledProblem, type Challenger, type RequestLimiter, type Throttle } from './throttle/index.js';

/**
 * The identity JSON API (the hosted login pages will call the same operations). Sign-in is two
 * steps: the password yields a *pending* session cookie that only the second-factor routes accept
 * (ID-4); the second factor replaces it with a full session under a new token (no fixation).
 * Every cookie is `__Host-`, HttpOnly, Secure, SameSite=Strict (ID-6).
 */

export type IdentityRouteDeps = {
  accounts: AccountDeps;
  throttle: Throttle;
  challenger: Challenger;
  /** Magic-link mail (SMTP, the development outbox, or disabled). */
  mailer: Mailer;
  /** Request budgets for endpoints that check no credential (ID-9). */
  limiter: RequestLimiter;
  /** Origin links in mail point to (the public URL, else http://localhost:PORT). */
  publicBaseUrl: string;
  /**
   * "Sign out everywhere" also ends what apps hold: the OIDC grants, refresh and access tokens
   * issued to this user (wired by the composition root to the provider's store).
   */
  revokeOidcGrants?: (userId: string) => Promise<number>;
};

/** Granting roles is high-risk (ID-7): a passkey proven within five minutes. */
export const ROLE_GRANT_STEP_UP = requireFreshAuth({ maxAgeSeconds: 300, factor: 'webauthn' });

const slug = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'a tenant slug');
const code = z.string().min(1).max(64);
/**
 * Text that is stored or looked up as a PostgreSQL `text` value: U+0000 cannot be one, and would
 * otherwise reach the database and come back as a 500 instead of a 400.
 */
const noNul = (value: string) => !value.includes('\u0000');
const text = (min: number, max: number) => z.string().min(min).max(max).refine(noNul, 'must not contain a NUL character');
const email = text(1, 320);
const passkeyName = z.string().trim().min(1).max(100).refine(noNul, 'must not contain a NUL character');

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

/**
 * The answer to a first factor alone (password, sign-in link): the stage, which is all the next
 * step needs (enroll, verify, or a passkey). No user id, tenant, profile, roles or factors before
 * the second factor (ID-4); the login page reads the factor kinds it must offer from
 * `/login/:tenant/state` with the pending cookie.
 */
const firstFactorReply = (result: { stage: string }) => ({ stage: result.stage });

async function spendBudget(limiter: RequestLimiter, bucket: Parameters<RequestLimiter['take']>[0], key: string) {
  const decision = await limiter.take(bucket, key);
  if (!decision.allowed) throw throttledProblem({ allowed: false, retryAfterSeconds: decision.retryAfterSeconds, reason: 'ip' });
  return decision;
}

export function identityRoutes(deps: IdentityRouteDeps): RouteDefinition[] {
  const { accounts, throttle, challenger } = deps;
  return [
    ...extraRoutes(deps),
    ...memberRoutes({ db: accounts.db }),
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
      summary: 'Password step of a sign-in; sets a pending session cookie and answers only the next stage (ID-4, ID-9, ID-10)',
      params: z.strictObject({ tenant: slug }),
      body: z.strictObject({ email, password: z.string().min(1).max(1024), altcha: z.string().max(4096).optional() }),
      handler: async ({ params, body, request, reply }) => {
        const tenantId = await tenantFromSlug(deps, params.tenant);
        const context = requestContext(request);
        // A solution is verified (and spent) whenever one is sent, so `challengeSolved` is never
        // just "a field was present", even when the throttle's view changes between two checks.
        const challengeSolved = body.altcha ? await challenger.verify(body.altcha) : false;
        if (!challengeSolved && (await throttle.needsChallenge({ ip: request.ip, account: `${tenantId}/${body.email.normalize('NFKC').trim().toLowerCase()}` }))) throw challengeRequiredProblem();
        const result = await passwordSignIn(accounts, { tenantId, email: body.email, password: body.password, ip: request.ip, userAgent: context.userAgent, requestId: context.requestId, throttle, challengeSolved });
        setSession(reply, result.token, result.session);
        return firstFactorReply(result);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/:tenant/invitations/accept',
      auth: { public: true },
      summary: 'Accept an invitation: set a password and create the account',
      params: z.strictObject({ tenant: slug }),
      body: z.strictObject({ token: z.string().min(16).max(200), password: z.string().max(1024), displayName: text(1, 200) }),
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
      auth: { self: 'pending' },
      summary: 'Start TOTP enrollment for the signed-in (or pending) user',
      handler: async ({ session, request }) => {
        const enrollment = await beginTotpEnrollment(accounts, { token: session.token, context: requestContext(request) });
        return { otpauthUri: enrollment.otpauthUri, qrDataUri: enrollment.qrDataUri, secret: enrollment.secret };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/totp/confirm',
      auth: { self: 'pending' },
      summary: 'Confirm TOTP enrollment with a code; returns recovery codes once',
      body: z.strictObject({ code }),
      handler: async ({ session, request, reply, body }) => {
        const result = await confirmTotpEnrollment(accounts, { token: session.token, code: body.code, context: requestContext(request) });
        setSession(reply, result.token, result.session);
        return { stage: result.stage, recoveryCodes: result.recoveryCodes };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/totp/verify',
      auth: { self: 'pending' },
      summary: 'Second factor: a TOTP code',
      body: z.strictObject({ code }),
      handler: async ({ session, request, reply, body }) => {
        const result = await verifyTotpForSession(accounts, { token: session.token, code: body.code, context: requestContext(request), throttle, ip: request.ip });
        setSession(reply, result.token, result.session);
        return { stage: result.stage };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/recovery',
      auth: { self: 'pending' },
      summary: 'Second factor: a one-time recovery code',
      body: z.strictObject({ code }),
      handler: async ({ session, request, reply, body }) => {
        const result = await useRecoveryCode(accounts, { token: session.token, code: body.code, context: requestContext(request), throttle, ip: request.ip });
        setSession(reply, result.token, result.session);
        return { stage: result.stage };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/passkeys/register/options',
      auth: { self: 'pending' },
      summary: 'Start registering a passkey (discoverable, user verification required) for the signed-in (or pending) user',
      handler: async ({ session, request }) => beginPasskeyRegistration(accounts, { token: session.token, context: requestContext(request) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/passkeys/register/verify',
      auth: { self: 'pending' },
      summary: 'Finish registering a passkey; completes the second factor (ID-4, ID-5)',
      body: z.strictObject({ response: registrationResponse, name: passkeyName.optional() }),
      handler: async ({ session, request, reply, body }) => {
        const result = await finishPasskeyRegistration(accounts, {
          token: session.token,
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
      auth: { self: 'pending' },
      summary: 'Start the passkey step of a sign-in',
      handler: async ({ session, request }) => beginPasskeyAuthentication(accounts, { token: session.token, context: requestContext(request) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/passkeys/authenticate/verify',
      auth: { self: 'pending' },
      summary: 'Second factor: a passkey assertion with user verification',
      body: z.strictObject({ response: authenticationResponse }),
      handler: async ({ session, request, reply, body }) => {
        const result = await finishPasskeyAuthentication(accounts, { token: session.token, response: body.response as unknown as AuthenticationResponseJSON, context: requestContext(request) });
        setSession(reply, result.token, result.session);
        return { stage: result.stage };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/sign-out',
      auth: { self: 'pending' },
      summary: 'Revoke this session and clear its cookie',
      handler: async ({ principal, session, request, reply }) => {
        // Another origin of the site carries no session here (sameOriginSession): it cannot sign the user out.
        await revokeSession(accounts, { tenantId: principal.tenantId, actor: actorOf(principal), userId: principal.id, sessionId: session.id, reason: 'sign-out', context: requestContext(request) });
        reply.header('set-cookie', clearSessionCookie());
        return undefined;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/me/sessions',
      auth: { action: 'list', resource: 'session' },
      summary: 'My active sessions',
      handler: async ({ principal }) => ({ items: await listSessions(accounts, { tenantId: principal.tenantId, actor: actorOf(principal), userId: principal.id }) }),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/me/sessions/:id',
      auth: { action: 'revoke', resource: 'session' },
      summary: 'Revoke one of my sessions',
      params: z.strictObject({ id: z.uuid() }),
      handler: async ({ principal, params, request }) =>
        revokeSession(accounts, { tenantId: principal.tenantId, actor: actorOf(principal), userId: principal.id, sessionId: params.id, reason: 'revoked by its user', context: requestContext(request) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/me/sessions/revoke-all',
      auth: { action: 'revoke', resource: 'session' },
      summary: 'Sign out everywhere (ID-6)',
      handler: async ({ principal, request, reply }) => {
        const result = await revokeAllSessions(accounts, { tenantId: principal.tenantId, actor: actorOf(principal), userId: principal.id, reason: 'signed out everywhere', context: requestContext(request) });
        const revokedGrants = deps.revokeOidcGrants ? await deps.revokeOidcGrants(principal.id) : 0;
        reply.header('set-cookie', clearSessionCookie());
        return { ...result, revokedGrants };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/members/invitations',
      auth: { action: 'invite', resource: 'member', justify: true, fresh: ROLE_GRANT_STEP_UP },
      summary: 'Invite someone with a role (justification required; the token is shown once)',
      body: z.strictObject({ email: z.email().max(320), role: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/), justification: z.string().max(2000) }),
      handler: async ({ principal, body, request, reply }) => {
        const result = await createInvitation(accounts, { tenantId: principal.tenantId, actor: actorOf(principal), email: body.email, role: body.role, justification: body.justification, context: requestContext(request), inviterRoles: principal.roles });
        reply.code(201);
        return result;
      },
    }),
  ];
}

/**
 * Step-up, factor management, username-less passkey sign-in, magic links and first-admin setup
 * (controls ID-4, ID-5, ID-7, ID-9, ID-10). Request and response shapes are documented in
 * docs/identity-stepup.md for the hosted login pages.
 */
function extraRoutes(deps: IdentityRouteDeps): RouteDefinition[] {
  const { accounts, throttle, challenger, limiter, mailer } = deps;
  const passkeyId = z.strictObject({ id: z.uuid() });
  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/step-up/options',
      auth: { self: true },
      summary: 'Start a step-up: passkey options (user verification required) for the signed-in session (ID-7)',
      handler: async ({ session, request }) => beginStepUp(accounts, { token: session.token, context: requestContext(request) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/step-up/verify',
      auth: { self: true },
      summary: 'Finish a step-up with a passkey assertion; routes guarded by requireFreshAuth pass for their max age (ID-7)',
      body: z.strictObject({ response: authenticationResponse }),
      handler: async ({ session, request, reply, body }) => {
        const result = await finishStepUp(accounts, { token: session.token, response: body.response as unknown as AuthenticationResponseJSON, context: requestContext(request) });
        setSession(reply, result.token, result.session);
        return { verifiedAt: result.verifiedAt, factor: 'webauthn' };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/me/passkeys',
      auth: { self: true },
      summary: 'My passkeys (signed-in session only)',
      handler: async ({ session }) => ({ items: await listPasskeys(accounts, { token: session.token }) }),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/me/passkeys/:id',
      auth: { self: true },
      summary: 'Rename one of my passkeys',
      params: passkeyId,
      body: z.strictObject({ name: passkeyName }),
      handler: async ({ session, request, params, body }) => renamePasskey(accounts, { token: session.token, id: params.id, name: body.name, context: requestContext(request) }),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/me/passkeys/:id',
      auth: { self: true },
      summary: 'Remove one of my passkeys: needs a step-up within 5 min; never the last factor (ID-4) nor a high-privilege user’s last passkey (ID-5)',
      params: passkeyId,
      handler: async ({ session, request, params }) => removePasskey(accounts, { token: session.token, id: params.id, context: requestContext(request) }),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/me/totp',
      auth: { self: true },
      summary: 'Remove my authenticator app: needs a re-verification within 5 min; never the last factor (ID-4)',
      handler: async ({ session, request }) => removeTotp(accounts, { token: session.token, context: requestContext(request) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/:tenant/passkeys/sign-in/options',
      auth: { public: true },
      summary: 'Username-less passkey sign-in: options without allowCredentials, user verification required',
      params: z.strictObject({ tenant: slug }),
      handler: async ({ params, request }) => {
        const tenantId = await tenantFromSlug(deps, params.tenant);
        await spendBudget(limiter, 'passkey-options:ip', request.ip);
        return beginPasskeySignIn(accounts, { tenantId });
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/:tenant/passkeys/sign-in/verify',
      auth: { public: true },
      summary: 'Username-less passkey sign-in: a user-verified assertion yields a full session (ID-4, ID-5, ID-9)',
      params: z.strictObject({ tenant: slug }),
      body: z.strictObject({ response: authenticationResponse }),
      handler: async ({ params, body, request, reply }) => {
        const tenantId = await tenantFromSlug(deps, params.tenant);
        const result = await finishPasskeySignIn(accounts, { tenantId, response: body.response as unknown as AuthenticationResponseJSON, ip: request.ip, context: requestContext(request), throttle });
        setSession(reply, result.token, result.session);
        return { stage: result.stage, user: result.user };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/:tenant/magic-link',
      auth: { public: true },
      summary: 'Mail a single-use sign-in link (15 min); always 202, whatever the account state (ID-9, ID-10)',
      params: z.strictObject({ tenant: slug }),
      body: z.strictObject({ email, altcha: z.string().max(4096).optional() }),
      handler: async ({ params, body, request, reply }) => {
        const tenantId = await tenantFromSlug(deps, params.tenant);
        const perIp = await spendBudget(limiter, 'magic-link:ip', request.ip);
        const account = `${tenantId}/${body.email.normalize('NFKC').trim().toLowerCase()}`;
        // As on the password form: a sent solution is always verified (and spent).
        const challengeSolved = body.altcha ? await challenger.verify(body.altcha) : false;
        if (!challengeSolved && (perIp.overSoftLimit || (await throttle.needsChallenge({ ip: request.ip, account })))) throw challengeRequiredProblem();
        // Over the per-account budget the answer is the same 202, but no mail leaves (no mail bombing, no lockout signal).
        const perAccount = await limiter.take('magic-link:account', account);
        await requestMagicLink({ ...accounts, mailer, publicBaseUrl: deps.publicBaseUrl }, { tenantId, tenantSlug: params.tenant, email: body.email, context: requestContext(request), sendMail: perAccount.allowed });
        reply.code(202);
        return { status: 'accepted', detail: 'if this address has an account, a sign-in link is on its way' };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/:tenant/magic-link/consume',
      auth: { public: true },
      summary: 'Spend a sign-in link: a pending session like the password step; the second factor is still required (ID-4)',
      params: z.strictObject({ tenant: slug }),
      body: z.strictObject({ token: z.string().min(16).max(200) }),
      handler: async ({ params, body, request, reply }) => {
        const tenantId = await tenantFromSlug(deps, params.tenant);
        await spendBudget(limiter, 'magic-link-consume:ip', request.ip);
        const result = await consumeMagicLink(accounts, { tenantId, token: body.token, ip: request.ip, context: requestContext(request) });
        setSession(reply, result.token, result.session);
        return firstFactorReply(result);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/:tenant/setup',
      auth: { public: true },
      summary: 'First-admin setup with the one-time link printed at start: creates the owner account (then forced MFA and passkey apply)',
      params: z.strictObject({ tenant: slug }),
      body: z.strictObject({ token: z.string().min(16).max(200), email, displayName: text(1, 200), password: z.string().max(1024) }),
      handler: async ({ params, body, request, reply }) => {
        const tenantId = await tenantFromSlug(deps, params.tenant);
        await spendBudget(limiter, 'setup:ip', request.ip);
        const result = await completeSetup(accounts, { tenantId, token: body.token, email: body.email, displayName: body.displayName, password: body.password, context: requestContext(request) });
        reply.code(201);
        return result;
      },
    }),
  ];
}
