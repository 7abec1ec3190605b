import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { manualClock, RampartError } from '../src/core/index.js';
import { acceptInvitation, beginTotpEnrollment, confirmTotpEnrollment, createInvitation, passwordSignIn, useRecoveryCode, verifyTotpForSession, type AccountDeps } from '../src/identity/accounts/index.js';
import { OWASP_MINIMUM_ARGON2_PARAMS, totpCodeAt, totpStep } from '../src/identity/credentials/index.js';
import { clearSessionCookie, listSessions, revokeAllSessions, sessionAuthenticator, sessionCookie, validateSession } from '../src/identity/sessions/index.js';
import { createThrottle, type Throttle } from '../src/identity/throttle/index.js';
import type { Tenant } from '../src/db/index.js';
import { testRampart } from './support/rampart.js';

const PASSWORD = 'violet-harbour-kettle-42';
const admin = { type: 'user' as const, id: 'inviter-admin' };
const JUSTIFICATION = 'new colleague joins the team';

let rampart: Rampart;
let a: Tenant;
let b: Tenant;
let deps: AccountDeps;
const clock = manualClock(new Date('2026-03-01T09:00:00Z'));
const secretsSeen: string[] = [];
const newThrottle = (): Throttle => createThrottle({ store: { kind: 'memory' }, keySecret: 'identity-test-throttle-secret' });
let throttle: Throttle;

const requestWith = (headers: Record<string, string>) => ({ headers }) as unknown as FastifyRequest;
const cookieOf = (token: string) => requestWith({ cookie: `theme=dark; __Host-rampart_session=${token}` });
const codeNow = (secret: string, offset = 0) => totpCodeAt({ secret, step: totpStep(clock.now()) + offset });

async function invite(tenant: Tenant, email: string, role = 'member') {
  const { token } = await createInvitation(deps, { tenantId: tenant.id, actor: admin, email, role, justification: JUSTIFICATION });
  secretsSeen.push(token);
  return token;
}

async function join(tenant: Tenant, email: string, role = 'member') {
  const token = await invite(tenant, email, role);
  return (await acceptInvitation(deps, { tenantId: tenant.id, token, password: PASSWORD, displayName: 'Ada Lovelace' })).user;
}

async function signIn(tenant: Tenant, email: string, password = PASSWORD, ip = '203.0.113.7') {
  const result = await passwordSignIn(deps, { tenantId: tenant.id, email, password, ip, userAgent: 'vitest', throttle });
  secretsSeen.push(result.token);
  return result;
}

/** invite -> accept -> password -> TOTP enrollment; returns the TOTP secret and the latest token. */
async function enrolled(tenant: Tenant, email: string, role = 'member') {
  await join(tenant, email, role);
  const pending = await signIn(tenant, email);
  const enrollment = await beginTotpEnrollment(deps, { token: pending.token });
  secretsSeen.push(enrollment.secret);
  const confirmed = await confirmTotpEnrollment(deps, { token: pending.token, code: codeNow(enrollment.secret) });
  secretsSeen.push(confirmed.token, ...confirmed.recoveryCodes);
  return { secret: enrollment.secret, ...confirmed };
}

beforeAll(async () => {
  rampart = await testRampart();
  a = await rampart.createTenant({ slug: 'acme', name: 'Acme' });
  b = await rampart.createTenant({ slug: 'globex', name: 'Globex' });
  deps = { db: rampart.db, audit: rampart.audit, ring: rampart.keys.ring, recoveryPepper: randomBytes(32), clock, passwordParams: OWASP_MINIMUM_ARGON2_PARAMS };
  throttle = newThrottle();
});
afterAll(() => rampart?.close());

describe('invitations', () => {
  it('ID-4 an invitation is single-use under concurrency: of 5 parallel accepts exactly one wins', async () => {
    const token = await invite(a, 'race@example.com');
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => acceptInvitation(deps, { tenantId: a.id, token, password: PASSWORD, displayName: 'Racer' })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'not_found' });
  });

  it('ID-4 an expired invitation is refused', async () => {
    const token = await invite(a, 'late@example.com');
    clock.advance(7 * 24 * 3600 * 1000 + 1000);
    try {
      await expect(acceptInvitation(deps, { tenantId: a.id, token, password: PASSWORD, displayName: 'Late' })).rejects.toMatchObject({ code: 'not_found' });
    } finally {
      clock.advance(-(7 * 24 * 3600 * 1000 + 1000));
    }
  });

  it('ID-4 a weak or common password is refused with a 400 naming /password', async () => {
    const token = await invite(a, 'weak@example.com');
    for (const password of ['short', 'password1234', 'weak@example.com-x']) {
      const error = await acceptInvitation(deps, { tenantId: a.id, token, password, displayName: 'Weak' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RampartError);
      expect((error as RampartError).status).toBe(400);
      expect((error as RampartError).issues?.[0]?.pointer).toBe('/password');
    }
  });

  it('MO-2 accepting an invitation to a high-privilege role raises the role-escalation alert', async () => {
    const user = await join(a, 'boss@example.com', 'admin');
    const alerts = await rampart.db.owner.selectFrom('alerts').innerJoin('audit_events', 'audit_events.id', 'alerts.event_id').select(['alerts.rule', 'audit_events.target_id']).where('alerts.rule', '=', 'role-escalation').execute();
    expect(alerts).toContainEqual({ rule: 'role-escalation', target_id: user.id });
  });

  it('AZ-5 creating an invitation needs a justification and an existing role', async () => {
    await expect(createInvitation(deps, { tenantId: a.id, actor: admin, email: 'x@example.com', role: 'member', justification: 'no' })).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(createInvitation(deps, { tenantId: a.id, actor: admin, email: 'x@example.com', role: 'wizard', justification: JUSTIFICATION })).rejects.toMatchObject({ code: 'validation_failed' });
  });
});

describe('password sign-in', () => {
  it('ID-9 sign-in is throttled before the password is checked (even the right password gets 429)', async () => {
    await join(a, 'target@example.com');
    const tight = createThrottle({ store: { kind: 'memory' }, keySecret: 'identity-test-throttle-secret', limits: { account: { points: 3, windowSeconds: 600 } } });
    for (let i = 0; i < 3; i++) await expect(passwordSignIn(deps, { tenantId: a.id, email: 'target@example.com', password: 'wrong-password-guess', ip: '198.51.100.1', throttle: tight })).rejects.toMatchObject({ code: 'unauthenticated' });
    const error = await passwordSignIn(deps, { tenantId: a.id, email: 'target@example.com', password: PASSWORD, ip: '198.51.100.1', throttle: tight }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'rate_limited', status: 429 });
    expect((error as RampartError).extensions?.retry_after_seconds).toBeGreaterThan(0);
  });

  it('ID-9 an unknown email and a wrong password get the same error', async () => {
    await join(a, 'known@example.com');
    const unknown = (await signIn(a, 'nobody-here@example.com', PASSWORD).catch((e: unknown) => e)) as RampartError;
    const wrong = (await signIn(a, 'known@example.com', 'not-the-password-at-all').catch((e: unknown) => e)) as RampartError;
    expect(unknown).toBeInstanceOf(RampartError);
    expect([unknown.code, unknown.status, unknown.message]).toEqual([wrong.code, wrong.status, wrong.message]);
    expect(unknown.message).toMatch(/email or password is wrong/);
    const failed = await rampart.db.owner.selectFrom('audit_events').select('diff').where('action', '=', 'identity.signin.failed').execute();
    expect(failed.length).toBeGreaterThanOrEqual(2);
  });

  it('ID-4 a password alone yields a pending session the authenticator refuses', async () => {
    await join(a, 'pending@example.com');
    const result = await signIn(a, 'pending@example.com');
    expect(result.stage).toBe('mfa_enrollment_required');
    expect(result.session.amr).toEqual(['pwd']);
    expect(result.session.acr).toBe('urn:rampart:acr:sfa');
    const authenticate = sessionAuthenticator({ db: rampart.db, clock });
    expect(await authenticate(cookieOf(result.token))).toBeNull();
    expect(await validateSession({ db: rampart.db, clock }, result.token, { allowPending: true })).not.toBeNull();
  });
});

describe('TOTP and recovery codes', () => {
  it('ID-4 TOTP enrollment yields a full session; a replayed code is refused', async () => {
    const { secret, token, stage, recoveryCodes } = await enrolled(a, 'totp@example.com');
    expect(stage).toBe('ok');
    expect(recoveryCodes).toHaveLength(10);
    const principal = await sessionAuthenticator({ db: rampart.db, clock })(cookieOf(token));
    expect(principal).toMatchObject({ type: 'user', tenantId: a.id, roles: ['member'], attributes: { department: null, region: null } });

    clock.advance(60_000);
    const again = await signIn(a, 'totp@example.com');
    expect(again.stage).toBe('mfa_required');
    const code = codeNow(secret);
    const full = await verifyTotpForSession(deps, { token: again.token, code });
    secretsSeen.push(full.token);
    expect(full.stage).toBe('ok');
    expect(full.session.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(await sessionAuthenticator({ db: rampart.db, clock })(cookieOf(again.token))).toBeNull(); // token rotated on upgrade

    const third = await signIn(a, 'totp@example.com');
    await expect(verifyTotpForSession(deps, { token: third.token, code })).rejects.toMatchObject({ code: 'unauthenticated' });
    const events = await rampart.db.owner.selectFrom('audit_events').select('diff').where('action', '=', 'identity.mfa.failed').execute();
    expect(events.map((e) => (e.diff as { reason: { after: string } }).reason.after)).toContain('replayed');
  });

  it('ID-5 an admin with TOTP only gets passkey_required and no data access', async () => {
    const { secret, stage, token } = await enrolled(a, 'admin-totp@example.com', 'admin');
    expect(stage).toBe('passkey_required');
    expect(await sessionAuthenticator({ db: rampart.db, clock })(cookieOf(token))).toBeNull();
    clock.advance(60_000);
    const again = await signIn(a, 'admin-totp@example.com');
    const result = await verifyTotpForSession(deps, { token: again.token, code: codeNow(secret) });
    secretsSeen.push(result.token);
    expect(result.stage).toBe('passkey_required');
    expect(await sessionAuthenticator({ db: rampart.db, clock })(cookieOf(result.token))).toBeNull();
  });

  it('ID-4 a recovery code works exactly once', async () => {
    const { recoveryCodes } = await enrolled(a, 'recover@example.com');
    const first = await signIn(a, 'recover@example.com');
    const used = await useRecoveryCode(deps, { token: first.token, code: recoveryCodes[0]! });
    secretsSeen.push(used.token);
    expect(used.stage).toBe('ok');
    const second = await signIn(a, 'recover@example.com');
    await expect(useRecoveryCode(deps, { token: second.token, code: recoveryCodes[0]! })).rejects.toMatchObject({ code: 'unauthenticated' });
  });
});

describe('sessions', () => {
  it('ID-6 idle timeout (30 min) and sliding last_seen_at', async () => {
    const { token } = await enrolled(a, 'idle@example.com');
    const authenticate = sessionAuthenticator({ db: rampart.db, clock });
    clock.advance(29 * 60_000);
    expect(await authenticate(cookieOf(token))).not.toBeNull(); // slides idle expiry
    clock.advance(29 * 60_000);
    expect(await authenticate(cookieOf(token))).not.toBeNull();
    clock.advance(30 * 60_000 + 1000);
    expect(await authenticate(cookieOf(token))).toBeNull();
  });

  it('ID-6 a disabled user’s sessions stop at once, also when due their slide; roles are read as they are now', async () => {
    const { token } = await enrolled(a, 'disabled@example.com');
    const valid = await validateSession({ db: rampart.db, clock }, token);
    expect(valid?.user.roles.length).toBeGreaterThan(0);
    const userId = valid!.user.id;
    await rampart.db.owner.deleteFrom('user_roles').where('user_id', '=', userId).execute();
    expect((await validateSession({ db: rampart.db, clock }, token))?.user.roles).toEqual([]);
    await rampart.db.owner.updateTable('users').set({ status: 'disabled' }).where('id', '=', userId).execute();
    expect(await validateSession({ db: rampart.db, clock }, token)).toBeNull();
    clock.advance(2 * 60_000);
    expect(await validateSession({ db: rampart.db, clock }, token)).toBeNull();
  });

  it('ID-6 absolute timeout (12 h) holds however active the session is', async () => {
    const { token } = await enrolled(a, 'absolute@example.com');
    const authenticate = sessionAuthenticator({ db: rampart.db, clock });
    for (let i = 0; i < 23; i++) {
      clock.advance(29 * 60_000);
      expect(await authenticate(cookieOf(token))).not.toBeNull();
    }
    clock.advance(60 * 60_000);
    expect(await authenticate(cookieOf(token))).toBeNull();
  });

  it('ID-6 sign out everywhere revokes every session of the user', async () => {
    const first = await enrolled(a, 'everywhere@example.com');
    const user = (await validateSession({ db: rampart.db, clock }, first.token))!.user;
    const again = await signIn(a, 'everywhere@example.com');
    clock.advance(60_000);
    const second = await verifyTotpForSession(deps, { token: again.token, code: codeNow(first.secret) });
    secretsSeen.push(second.token);
    const actor = { type: 'user' as const, id: user.id };
    expect((await listSessions({ db: rampart.db, clock }, { tenantId: a.id, actor, userId: user.id })).length).toBe(2);
    expect((await revokeAllSessions({ db: rampart.db, audit: rampart.audit, clock }, { tenantId: a.id, actor, userId: user.id })).revoked).toBe(2);
    const authenticate = sessionAuthenticator({ db: rampart.db, clock });
    expect(await authenticate(cookieOf(first.token))).toBeNull();
    expect(await authenticate(cookieOf(second.token))).toBeNull();
    expect(await listSessions({ db: rampart.db, clock }, { tenantId: a.id, actor, userId: user.id })).toEqual([]);
  });

  it('ID-6 cookie attributes are exact: __Host- prefix, HttpOnly, Secure, SameSite=Strict, Path=/, no Domain', () => {
    const cookie = sessionCookie('rs1.abc', 3600);
    expect(cookie).toBe('__Host-rampart_session=rs1.abc; Max-Age=3600; Path=/; HttpOnly; Secure; SameSite=Strict');
    expect(cookie).not.toMatch(/domain/i);
    expect(clearSessionCookie()).toBe('__Host-rampart_session=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict');
  });

  it('ID-6 bearer tokens and duplicated cookies are not accepted by the session authenticator', async () => {
    const { token } = await enrolled(a, 'bearer@example.com');
    const authenticate = sessionAuthenticator({ db: rampart.db, clock });
    expect(await authenticate(requestWith({ authorization: `Bearer ${token}` }))).toBeNull();
    expect(await authenticate(requestWith({ cookie: `__Host-rampart_session=${token}; __Host-rampart_session=${token}` }))).toBeNull();
    expect(await authenticate(cookieOf(token))).not.toBeNull();
  });

  it('DE-2 a session of tenant A never authenticates into tenant B', async () => {
    const { token } = await enrolled(a, 'cross@example.com');
    const forged = token.replace(a.id, b.id);
    const authenticate = sessionAuthenticator({ db: rampart.db, clock });
    expect(await authenticate(cookieOf(forged))).toBeNull();
    expect((await authenticate(cookieOf(token)))?.tenantId).toBe(a.id);
    // Same email in B is a different account: A's password does not sign in there.
    await expect(signIn(b, 'cross@example.com')).rejects.toMatchObject({ code: 'unauthenticated' });
  });
});

describe('audit hygiene', () => {
  it('DA-4 no password, token, TOTP secret, recovery code or unknown email appears in audit rows', async () => {
    const rows = await rampart.db.owner.selectFrom('audit_events').selectAll().execute();
    const text = JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    expect(rows.length).toBeGreaterThan(20);
    expect(secretsSeen.length).toBeGreaterThan(20);
    for (const secret of [PASSWORD, 'wrong-password-guess', 'not-the-password-at-all', 'nobody-here@example.com', ...secretsSeen]) {
      expect(text.includes(secret), `audit contains ${secret.slice(0, 6)}…`).toBe(false);
    }
    for (const secret of secretsSeen.filter((s) => s.startsWith('rs1.'))) expect(text.includes(secret.split('.')[2]!)).toBe(false);
  });
});
