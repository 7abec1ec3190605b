import type { AddressInfo } from 'node:net';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { solveChallenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/pbkdf2';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduleRecurringJobs, type Rampart } from '../src/app.js';
import { createLogger, loadConfig, mailTransportOf, manualClock, productionProblems } from '../src/core/index.js';
import type { Tenant } from '../src/db/index.js';
import { createInvitation, createMailer, hashToken, issueSetupToken, purgeExpiredIdentityData, totpCodeAt, totpStep } from '../src/identity/index.js';
import { memberWithPasskey } from './support/members.js';
import { testRampart } from './support/rampart.js';

/**
 * Magic links (ID-4, ID-9, ID-10) through the development outbox and real SMTP, the first-admin
 * setup link, and the identity purge job. Nothing logged may hold a token or a code.
 */

const PASSWORD = 'violet-harbour-lantern-88';
const clock = manualClock(new Date('2026-05-01T08:00:00Z'));
const logLines: string[] = [];
const capture = { write: (line: string) => void logLines.push(line) };
const secretsSeen: string[] = [];
let rampart: Rampart;
let acme: Tenant;
let totpSecret = '';

const call = (options: InjectOptions) => rampart.server.app.inject(options);
const cookieOf = (response: LightMyRequestResponse) => {
  const header = response.headers['set-cookie'];
  return ((Array.isArray(header) ? header[0] : header) ?? '').split(';')[0]!;
};
const linkTokenIn = (text: string) => /#token=(rml1\.[A-Za-z0-9_-]{43})/.exec(text)?.[1];
const requestLink = (tenant: string, email: unknown, remoteAddress: string, altcha?: string) =>
  call({ method: 'POST', url: `/api/v1/identity/${tenant}/magic-link`, remoteAddress, payload: { email, ...(altcha ? { altcha } : {}) } });
const consume = (tenant: string, token: unknown) => call({ method: 'POST', url: `/api/v1/identity/${tenant}/magic-link/consume`, payload: { token } });

async function latestLinkFor(email: string): Promise<string> {
  await rampart.identity.mailer.idle();
  const mail = rampart.identity.mailer.outbox().find((m) => m.to === email);
  const token = mail && linkTokenIn(mail.text);
  if (!token) throw new Error(`no link mailed to ${email}`);
  secretsSeen.push(token);
  return token;
}

beforeAll(async () => {
  rampart = await testRampart({ clock, log: createLogger({ level: 'debug', destination: capture }) });
  acme = await rampart.createTenant({ slug: 'acme', name: 'Acme' });
  await rampart.createTenant({ slug: 'globex', name: 'Globex' });
  // mia: password + TOTP.
  const { token } = await createInvitation(rampart.identity.accounts, { tenantId: acme.id, actor: { type: 'system', id: 'test' }, email: 'mia@acme.test', role: 'member', justification: 'onboarding a new colleague' });
  await call({ method: 'POST', url: '/api/v1/identity/acme/invitations/accept', payload: { token, password: PASSWORD, displayName: 'Mia' } });
  const pending = cookieOf(await call({ method: 'POST', url: '/api/v1/identity/acme/sign-in', payload: { email: 'mia@acme.test', password: PASSWORD } }));
  totpSecret = (await call({ method: 'POST', url: '/api/v1/identity/totp/enroll', headers: { cookie: pending } })).json().secret;
  await call({ method: 'POST', url: '/api/v1/identity/totp/confirm', headers: { cookie: pending }, payload: { code: totpCodeAt({ secret: totpSecret, step: totpStep(clock.now()) }) } });
  secretsSeen.push(token, totpSecret);
});
afterAll(() => rampart?.close());

describe('magic links', () => {
  it('ID-9 the request answers 202 with the same body for an account, an unknown address and a malformed-but-plausible one; only the account gets mail', async () => {
    const known = await requestLink('acme', 'MIA@acme.test', '198.51.100.1');
    const unknown = await requestLink('acme', 'nobody@acme.test', '198.51.100.2');
    expect(known.statusCode).toBe(202);
    expect(unknown.statusCode).toBe(202);
    expect(unknown.body).toBe(known.body);
    await rampart.identity.mailer.idle();
    expect(rampart.identity.mailer.outbox().map((m) => m.to)).toEqual(['mia@acme.test']);
    expect(rampart.identity.mailer.outbox()[0]!.text).toMatch(/http:\/\/localhost:3000\/login\/acme\/magic-link#token=rml1\./);
  });

  it('ID-4 consuming the link opens a pending session (one factor); the second factor completes it', async () => {
    const token = await latestLinkFor('mia@acme.test');
    const consumed = await consume('acme', token);
    expect(consumed.statusCode).toBe(200);
    expect(consumed.json()).toEqual({ stage: 'mfa_required' }); // one factor: nothing about the account yet (ID-4)
    const pending = cookieOf(consumed);
    secretsSeen.push(pending.split('=')[1]!);
    expect((await call({ method: 'GET', url: '/api/v1/tenant', headers: { cookie: pending } })).statusCode).toBe(401);
    const verified = await call({ method: 'POST', url: '/api/v1/identity/totp/verify', headers: { cookie: pending }, payload: { code: totpCodeAt({ secret: totpSecret, step: totpStep(clock.now()) + 1 }) } });
    expect(verified.statusCode).toBe(200);
    expect(verified.json().stage).toBe('ok');
    const full = cookieOf(verified);
    expect((await call({ method: 'GET', url: '/api/v1/tenant', headers: { cookie: full } })).statusCode).toBe(200);
    const session = await rampart.db.owner.selectFrom('sessions').select(['amr', 'acr']).where('token_hash', '=', hashToken(full.split('=')[1]!)).executeTakeFirstOrThrow();
    expect(session.amr).toEqual(expect.arrayContaining(['otp', 'mfa']));
    expect(session.amr).not.toContain('pwd');
    // Single use.
    expect((await consume('acme', token)).statusCode).toBe(404);
  });

  it('ID-4 two parallel consumes of one link: exactly one wins', async () => {
    clock.advance(60_000);
    await requestLink('acme', 'mia@acme.test', '198.51.100.3');
    const token = (await rampart.identity.mailer.idle(), linkTokenIn(rampart.identity.mailer.outbox()[0]!.text))!;
    secretsSeen.push(token);
    const results = await Promise.all([consume('acme', token), consume('acme', token), consume('acme', token)]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 404, 404]);
  });

  it('a link expires after 15 minutes and does not work in another tenant', async () => {
    clock.advance(60_000);
    await requestLink('acme', 'mia@acme.test', '198.51.100.4');
    const token = (await rampart.identity.mailer.idle(), linkTokenIn(rampart.identity.mailer.outbox()[0]!.text))!;
    secretsSeen.push(token);
    expect((await consume('globex', token)).statusCode).toBe(404);
    clock.advance(15 * 60_000 + 1000);
    expect((await consume('acme', token)).statusCode).toBe(404);
    expect((await consume('no-such-tenant', token)).statusCode).toBe(404);
  });

  it('ID-9 mail per account is capped silently (202, no more mail): no mail bombing, no lockout signal', async () => {
    clock.advance(60_000);
    const before = rampart.identity.mailer.outbox().length;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await requestLink('acme', 'mia@acme.test', `198.51.100.${20 + i}`)).statusCode);
    await rampart.identity.mailer.idle();
    expect(statuses).toEqual([202, 202, 202, 202, 202]);
    // The account's budget (3 per 15 min) was partly spent by the tests above.
    expect(rampart.identity.mailer.outbox().length - before).toBeLessThanOrEqual(3);
  });

  it('ID-10 once one IP keeps asking, the request needs a solved proof-of-work challenge', async () => {
    const ip = '203.0.113.80';
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await requestLink('acme', `someone${i}@acme.test`, ip)).statusCode);
    expect(statuses).toEqual([202, 202, 202, 403]);
    const refused = await requestLink('acme', 'someone@acme.test', ip);
    expect(refused.json()).toMatchObject({ challenge_required: true, challenge: 'altcha' });
    const challenge = (await call({ method: 'GET', url: '/api/v1/identity/challenge' })).json();
    const solution = await solveChallenge({ challenge, deriveKey, timeout: 60_000 });
    const altcha = Buffer.from(JSON.stringify({ challenge, solution })).toString('base64');
    expect((await requestLink('acme', 'someone@acme.test', ip, altcha)).statusCode).toBe(202);
    // A solution works once.
    expect((await requestLink('acme', 'someone@acme.test', ip, altcha)).statusCode).toBe(403);
  }, 120_000);

  it('bad input on every magic-link endpoint is a 4xx problem+json, never a 5xx', async () => {
    const cases: [string, unknown][] = [
      ['/api/v1/identity/acme/magic-link', { email: 42 }],
      ['/api/v1/identity/acme/magic-link', { email: 'x'.repeat(400) + '@acme.test' }],
      ['/api/v1/identity/acme/magic-link', { email: 'not an address' }],
      ['/api/v1/identity/acme/magic-link', { email: 'mia@acme.test', admin: true }],
      ['/api/v1/identity/acme/magic-link', []],
      ['/api/v1/identity/acme/magic-link/consume', { token: 7 }],
      ['/api/v1/identity/acme/magic-link/consume', { token: 'rml1.' + 'Ａ'.repeat(43) }],
      ['/api/v1/identity/acme/magic-link/consume', { token: 'x'.repeat(5000) }],
      ['/api/v1/identity/acme/magic-link/consume', {}],
      ['/api/v1/identity/ACME/magic-link/consume', { token: 'rml1.' + 'a'.repeat(43) }],
    ];
    for (const [url, payload] of cases) {
      const response = await call({ method: 'POST', url, remoteAddress: '192.0.2.150', payload: payload as object });
      expect(response.statusCode, `${url} ${JSON.stringify(payload).slice(0, 60)}`).toBeGreaterThanOrEqual(400);
      expect(response.statusCode).toBeLessThan(500);
      expect(response.headers['content-type']).toMatch(/problem\+json/);
    }
  });

  it('the development outbox page lists the mail, as HTML without any script (CSP holds), to a platform operator only', async () => {
    expect((await call({ method: 'GET', url: '/dev/outbox' })).statusCode).toBe(401);
    const tenant = acme;
    const operator = await memberWithPasskey(rampart, tenant, 'operator@acme.test', 'owner');
    expect((await call({ method: 'GET', url: '/dev/outbox', headers: { cookie: operator.cookie } })).statusCode).toBe(403);
    await rampart.platform.grant({ accountTenantId: tenant.id, accountUserId: operator.id, actor: { type: 'system', id: 'test' }, justification: 'runs this development install' });
    const page = await call({ method: 'GET', url: '/dev/outbox', headers: { cookie: operator.cookie } });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('Your sign-in link');
    expect(page.body).not.toMatch(/<script|\son[a-z]+=/i);
    expect(String(page.headers['content-security-policy'])).toMatch(/script-src 'self'/);
  });
});

describe('mail transport configuration', () => {
  it('production refuses the outbox and defaults to no mail; development defaults to the outbox', () => {
    const dev = loadConfig({ env: {}, cwd: '/nonexistent', overrides: { env: 'development' } });
    expect(mailTransportOf(dev)).toBe('outbox');
    const prod = loadConfig({ env: {}, cwd: '/nonexistent', overrides: { env: 'production', database: { url: 'postgres://u@127.0.0.1/db' }, secrets: { dir: '/run/secrets' } } });
    expect(mailTransportOf(prod)).toBe('disabled');
    expect(productionProblems(prod, {}).filter((p) => p.key.startsWith('mail'))).toEqual([]);
    const outbox = loadConfig({ env: {}, cwd: '/nonexistent', overrides: { env: 'production', database: { url: 'postgres://u@127.0.0.1/db' }, secrets: { dir: '/run/secrets' }, mail: { transport: 'outbox' } } });
    expect(productionProblems(outbox, {}).map((p) => p.key)).toContain('mail.transport');
    expect(() => loadConfig({ env: { RAMPART_SMTP_URL: 'smtp://user:hunter2@mail.example.com' }, cwd: '/nonexistent' })).toThrow(/secret/);
  });
});

describe('SMTP delivery, first-admin setup and the purge job', () => {
  let smtp: SMTPServer;
  const received: string[] = [];
  const announced: string[] = [];
  let second: Rampart;
  let port = 0;

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, _session, callback) {
        let data = '';
        stream.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
        stream.on('end', () => {
          received.push(data);
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
    port = (smtp.server.address() as AddressInfo).port;
    second = await testRampart({
      clock,
      log: createLogger({ level: 'debug', destination: capture }),
      announce: (line) => void announced.push(line),
      configOverrides: { demo: { seed: true }, mail: { smtpUrl: `smtp://127.0.0.1:${port}`, requireTls: false, from: 'id@rampart.test' } },
    });
  });
  afterAll(async () => {
    await second?.close();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  });

  it('a mailer delivers to an SMTP relay on loopback', async () => {
    const mailer = createMailer({ transport: 'smtp', smtpUrl: `smtp://127.0.0.1:${port}`, requireTls: false, from: 'id@rampart.test' });
    await mailer.send({ to: 'ops@example.test', subject: 'hello relay', text: 'body' });
    mailer.close();
    expect(received.some((m) => m.includes('Subject: hello relay'))).toBe(true);
  });

  it('ID-4 npm start on a fresh install prints a one-time setup link for the first admin, to the console only', async () => {
    expect(announced).toHaveLength(1);
    const match = /^Setup link for the first admin: http:\/\/localhost:3000\/setup\/(rst1\.[A-Za-z0-9_-]{43})\n$/.exec(announced[0]!);
    expect(match).not.toBeNull();
    secretsSeen.push(match![1]!);
    expect(logLines.join('\n')).toContain('a one-time setup link for the first admin was printed');
  });

  it('ID-4 the setup link creates the owner once; a restart supersedes an unused link; bad input is 4xx', async () => {
    const post = (payload: object) => second.server.app.inject({ method: 'POST', url: '/api/v1/identity/demo/setup', payload });
    const oldToken = /\/setup\/(\S+)\n/.exec(announced[0]!)![1]!;
    const demo = (await second.db.owner.selectFrom('tenants').select('id').where('slug', '=', 'demo').executeTakeFirstOrThrow()).id;
    // A restart before use: a fresh token, the old one stops working.
    const fresh = (await issueSetupToken(second.identity.accounts, { tenantId: demo }))!;
    secretsSeen.push(fresh.token);
    const body = { email: 'Owner@Demo.test', displayName: 'First Owner', password: PASSWORD };
    expect((await post({ ...body, token: oldToken })).statusCode).toBe(404);
    for (const bad of [{ ...body, token: fresh.token, password: 'short' }, { ...body, token: fresh.token, email: 'nope' }, { ...body, token: 42 }, { ...body, token: fresh.token, displayName: '' }, { ...body, token: fresh.token, role: 'owner' }]) {
      const response = await post(bad);
      expect(response.statusCode, JSON.stringify(bad)).toBeGreaterThanOrEqual(400);
      expect(response.statusCode).toBeLessThan(500);
    }
    const [first, again] = await Promise.all([post({ ...body, token: fresh.token }), post({ ...body, token: fresh.token })]);
    expect([first!.statusCode, again!.statusCode].sort()).toEqual([201, 404]);
    const created = first!.statusCode === 201 ? first! : again!;
    expect(created.json()).toMatchObject({ role: 'owner', user: { email: 'owner@demo.test' } });
    expect(await issueSetupToken(second.identity.accounts, { tenantId: demo })).toBeUndefined(); // an owner exists now
    // The owner still goes through forced MFA with a passkey (owner is high-privilege).
    const signIn = await second.server.app.inject({ method: 'POST', url: '/api/v1/identity/demo/sign-in', payload: { email: 'owner@demo.test', password: PASSWORD } });
    expect(signIn.json().stage).toBe('passkey_required');
  });

  it('ID-4 a setup link expires after 24 hours', async () => {
    const tenant = await second.createTenant({ slug: 'fresh', name: 'Fresh' });
    const issued = (await issueSetupToken(second.identity.accounts, { tenantId: tenant.id }))!;
    secretsSeen.push(issued.token);
    clock.advance(24 * 3600_000 + 1000);
    const response = await second.server.app.inject({ method: 'POST', url: '/api/v1/identity/fresh/setup', payload: { token: issued.token, email: 'a@fresh.test', displayName: 'A', password: PASSWORD } });
    expect(response.statusCode).toBe(404);
  });

  it('ID-4 a magic link goes out by SMTP', async () => {
    const response = await second.server.app.inject({ method: 'POST', url: '/api/v1/identity/demo/magic-link', payload: { email: 'owner@demo.test' } });
    expect(response.statusCode).toBe(202);
    await second.identity.mailer.idle();
    const mail = received.find((m) => m.includes('owner@demo.test') && m.includes('Your sign-in link'));
    expect(mail, received.at(-1)).toBeDefined();
    const token = /token=(rml1\.[A-Za-z0-9_-]{43})/.exec(mail!.replace(/=\r?\n/g, '').replaceAll('=3D', '='))?.[1];
    expect(token).toBeDefined();
    secretsSeen.push(token!);
    expect(second.identity.mailer.outbox()).toEqual([]);
    expect((await second.server.app.inject({ method: 'GET', url: '/dev/outbox' })).statusCode).toBe(404);
  });

  it('the purge job deletes expired sessions, links, tokens and challenges in every tenant, as the system, audited', async () => {
    await scheduleRecurringJobs(rampart);
    const scheduled = await rampart.db.owner.selectFrom('jobs').select(['kind']).where('kind', '=', 'identity.purge').execute();
    expect(scheduled).toHaveLength(1);
    const count = async (table: 'sessions' | 'magic_links' | 'webauthn_challenges' | 'setup_tokens') => Number((await rampart.db.owner.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const before = { sessions: await count('sessions'), links: await count('magic_links') };
    expect(before.sessions).toBeGreaterThan(0);
    expect(before.links).toBeGreaterThan(0);
    clock.advance(31 * 86_400_000);
    const purged = await purgeExpiredIdentityData({ db: rampart.db, audit: rampart.audit, clock });
    expect(purged.sessions).toBe(before.sessions);
    expect(purged.magicLinks).toBe(before.links);
    expect(await count('sessions')).toBe(0);
    expect(await count('magic_links')).toBe(0);
    const event = await rampart.db.owner.selectFrom('audit_events').selectAll().where('chain', '=', 'system').where('action', '=', 'identity.purge.completed').executeTakeFirst();
    expect(event).toBeDefined();
  });

  it('DA-4 nothing logged or audited holds a token, a link or a code', async () => {
    const events = JSON.stringify(await rampart.db.owner.selectFrom('audit_events').selectAll().execute(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    const text = logLines.join('\n');
    expect(secretsSeen.length).toBeGreaterThan(5);
    for (const secret of secretsSeen) {
      expect(text).not.toContain(secret);
      expect(events).not.toContain(secret);
    }
    expect(text).not.toMatch(/rml1\.|rst1\./);
  });
});
