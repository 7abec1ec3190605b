import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createServer } from 'node:net';
import * as client from 'openid-client';
import { decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRampart, type Rampart } from '../../src/app.js';
import { generateSigningKeyPem } from '../../src/audit/index.js';
import { withTenant, type Tenant } from '../../src/db/index.js';
import { createClient, createInvitation, totpCodeAt, totpStep } from '../../src/identity/index.js';
import { testConfig } from '../support/rampart.js';
import { followRedirects } from '../support/redirects.js';
import { REDIS_URL } from './env.js';
import { createScratchDatabase } from './pg-harness.js';

/**
 * The OIDC provider scaled out: two nodes behind one issuer (a round-robin proxy, as a load
 * balancer would be) on one PostgreSQL and Redis. Consecutive requests of one flow land on
 * alternate nodes, so codes, tokens, DPoP proofs and refresh rotation cross nodes; a key rotation
 * on one node reaches the other (controls ID-1, ID-3, ID-7).
 */

/** Alternates requests between the nodes, keeping the Host header the public one. */
function roundRobin(port: number, targets: number[]): Promise<{ server: Server; hits: number[] }> {
  const hits = targets.map(() => 0);
  let turn = 0;
  const server = createHttpServer((req, res) => {
    const index = turn++ % targets.length;
    hits[index]!++;
    const upstream = httpRequest({ host: '127.0.0.1', port: targets[index], method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, hits })));
}

const missing = inject('servicesMissing');
const PASSWORD = 'violet-harbour-lantern-88';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe.skipIf(missing.length > 0)('OIDC on PostgreSQL with two nodes', () => {
  let nodeA: Rampart;
  let nodeB: Rampart;
  let drop: () => Promise<void>;
  let acme: Tenant;
  let issuer = '';
  let balancer: { server: Server; hits: number[] };
  let sessionCookie = '';
  let clientId = '';
  let raceClientId = '';
  let olaId = '';

  beforeAll(async () => {
    const scratch = await createScratchDatabase();
    drop = scratch.drop;
    const [portA, portB, portLb] = [await freePort(), await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${portLb}`;
    const config = (port: number) => testConfig({ database: { url: scratch.url }, redis: { url: REDIS_URL }, http: { host: '127.0.0.1', port, publicUrl: issuer } });
    // Nodes of one deployment share their secrets (mounted files in production).
    const env = { RAMPART_SECRET_MASTER_KEY: randomBytes(32).toString('base64'), RAMPART_SECRET_IDENTITY_PEPPER: randomBytes(32).toString('base64'), RAMPART_SECRET_AUDIT_SIGNING_KEY: generateSigningKeyPem() };
    nodeA = await createRampart({ config: config(portA), env });
    nodeB = await createRampart({ config: config(portB), env });
    await nodeA.server.app.listen({ port: portA, host: '127.0.0.1' });
    await nodeB.server.app.listen({ port: portB, host: '127.0.0.1' });
    balancer = await roundRobin(portLb, [portA, portB]);
    acme = await nodeA.createTenant({ slug: 'acme', name: 'Acme' });

    const { token } = await createInvitation(nodeA.identity.accounts, { tenantId: acme.id, actor: { type: 'system', id: 'test' }, email: 'ola@acme.test', role: 'member', justification: 'onboarding a new colleague' });
    const post = (path: string, body: unknown, cookie = '') => fetch(`${issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) }, body: JSON.stringify(body) });
    const cookieOf = (r: Response) => r.headers.getSetCookie()[0]!.split(';')[0]!;
    await post('/api/v1/identity/acme/invitations/accept', { token, password: PASSWORD, displayName: 'Ola' });
    const pending = cookieOf(await post('/api/v1/identity/acme/sign-in', { email: 'ola@acme.test', password: PASSWORD }));
    const { secret } = (await (await post('/api/v1/identity/totp/enroll', {}, pending)).json()) as { secret: string };
    sessionCookie = cookieOf(await post('/api/v1/identity/totp/confirm', { code: totpCodeAt({ secret, step: totpStep(new Date()) }) }, pending));
    await withTenant(nodeA.db, { tenantId: acme.id, actor: { type: 'system', id: 'test' } }, async (trx) => {
      raceClientId = (await createClient({ trx, tenantId: acme.id, ring: nodeA.keys.ring, audit: nodeA.audit, actor: { type: 'system', id: 'test' }, justification: 'test relying party', context: {} }, { name: 'Racer', type: 'public', redirectUris: [`${issuer}/cb`], scopes: ['openid', 'offline_access', 'rampart:tenant:read'] })).client.clientId;
      olaId = (await trx.selectFrom('users').select('id').where('email', '=', 'ola@acme.test').executeTakeFirstOrThrow()).id;
      clientId = (await createClient({ trx, tenantId: acme.id, ring: nodeA.keys.ring, audit: nodeA.audit, actor: { type: 'system', id: 'test' }, justification: 'test relying party', context: {} }, { name: 'SPA', type: 'public', redirectUris: [`${issuer}/cb`], scopes: ['openid', 'offline_access', 'rampart:tenant:read'], dpopBoundAccessTokens: true })).client.clientId;
    });
  }, 120_000);
  afterAll(async () => {
    balancer?.server.close();
    await nodeA?.close();
    await nodeB?.close();
    await drop?.();
  });

  /** Follows redirects with the provider's cookies and the Rampart session, like a browser. */
  const authorize = (url: URL): Promise<URL> => followRedirects(url, { cookie: sessionCookie, landing: `${issuer}/cb` });

  it('ID-1 ID-7 a flow whose requests alternate between nodes: code, DPoP-bound tokens, refresh, and a replay that revokes the grant on both', async () => {
    const rp = await client.discovery(new URL(issuer), clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] });
    const DPoP = client.getDPoPHandle(rp, await client.randomDPoPKeyPair('ES256'));
    const verifier = client.randomPKCECodeVerifier();
    const callback = await authorize(client.buildAuthorizationUrl(rp, { redirect_uri: `${issuer}/cb`, scope: 'openid offline_access rampart:tenant:read', prompt: 'consent', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }));
    const tokens = await client.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: verifier }, undefined, { DPoP });
    const tenantUrl = new URL(`${issuer}/api/v1/tenant`);
    // Two calls in a row: one is served by each node.
    for (let i = 0; i < 2; i++) expect((await client.fetchProtectedResource(rp, tokens.access_token, tenantUrl, 'GET', undefined, undefined, { DPoP })).status).toBe(200);

    const refreshed = await client.refreshTokenGrant(rp, tokens.refresh_token!, undefined, { DPoP });
    await expect(client.refreshTokenGrant(rp, tokens.refresh_token!, undefined, { DPoP })).rejects.toMatchObject({ error: 'invalid_grant' });
    // openid-client surfaces the 401 as the challenge error it carries.
    for (let i = 0; i < 2; i++) await expect(client.fetchProtectedResource(rp, refreshed.access_token, tenantUrl, 'GET', undefined, undefined, { DPoP })).rejects.toMatchObject({ response: { status: 401 } });
    expect(balancer.hits[0]).toBeGreaterThan(3);
    expect(balancer.hits[1]).toBeGreaterThan(3);
  });

  it('ID-3 a rotation made on node A reaches node B: both publish and sign with the new keys', async () => {
    const before = (await (await fetch(`${issuer}/oidc/jwks`)).json()) as JSONWebKeySet;
    const result = await nodeA.oidc.keys.rotate({ actor: { type: 'system', id: 'test' }, reason: 'scale-out rotation test' });
    expect(await nodeA.oidc.refreshKeys()).toBe(true);
    expect(await nodeB.oidc.refreshKeys()).toBe(true); // the minute timer does this in production
    // Both nodes (consecutive requests) publish the same key set, with the new staged keys.
    for (let i = 0; i < 2; i++) {
      const after = (await (await fetch(`${issuer}/oidc/jwks`)).json()) as JSONWebKeySet;
      expect(after.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([...before.keys.map((k) => k.kid), ...result.staged]));
    }

    const rp = await client.discovery(new URL(issuer), clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] });
    const DPoP = client.getDPoPHandle(rp, await client.randomDPoPKeyPair('ES256'));
    const verifier = client.randomPKCECodeVerifier();
    const callback = await authorize(client.buildAuthorizationUrl(rp, { redirect_uri: `${issuer}/cb`, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }));
    const tokens = await client.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: verifier }, undefined, { DPoP });
    expect(result.activated).toContain(decodeProtectedHeader(tokens.id_token!).kid);
  });

  /** A grant and its refresh token, minted through the provider's own models as a code exchange would. */
  async function mintRefreshToken(): Promise<string> {
    const provider = nodeA.oidc.provider();
    const rpClient = (await provider.Client.find(raceClientId))!;
    const grant = new provider.Grant({ accountId: olaId, clientId: raceClientId });
    grant.addOIDCScope('openid offline_access');
    grant.addResourceScope(nodeA.oidc.settings.apiResource, 'rampart:tenant:read');
    const grantId = await grant.save();
    const token = new provider.RefreshToken({ accountId: olaId, client: rpClient, grantId, scope: 'openid offline_access rampart:tenant:read', resource: nodeA.oidc.settings.apiResource, gty: 'authorization_code', authTime: Math.floor(Date.now() / 1000) } as never);
    return token.save();
  }

  const refresh = (refreshToken: string) =>
    fetch(`${issuer}/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: raceClientId }) });

  it('ID-1 200 races of one refresh token redeemed twice at once on two nodes: no race leaves a live access or refresh token', async () => {
    const RACES = 200;
    const survivors: string[] = [];
    let winners = 0;
    for (let race = 0; race < RACES; race++) {
      const stolen = await mintRefreshToken();
      // The balancer alternates, so the two requests run on different nodes with their own pools.
      const answers = await Promise.all([refresh(stolen), refresh(stolen)]);
      const issued = (await Promise.all(answers.map(async (r) => (r.status === 200 ? ((await r.json()) as { access_token: string; refresh_token: string }) : undefined)))).filter((t) => t !== undefined);
      expect(issued.length).toBeLessThanOrEqual(1);
      winners += issued.length;
      for (const tokens of issued) {
        const api = await fetch(`${issuer}/api/v1/tenant`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
        if (api.status !== 401) survivors.push(`race ${race}: access token answered ${api.status}`);
        const again = await refresh(tokens.refresh_token);
        if (again.status === 200) survivors.push(`race ${race}: the new refresh token still works`);
      }
    }
    expect(survivors).toEqual([]);
    // Many races have a winner whose tokens the loser then revoked: the check above had work to do.
    expect(winners).toBeGreaterThan(RACES / 10);
  }, 600_000);
});
