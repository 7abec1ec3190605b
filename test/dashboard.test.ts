import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCapturingLogger } from '../src/core/index.js';
import { dashboardRoutes, loadDashboardBundle } from '../src/dashboard/index.js';
import { buildServer, denyAll, type Server } from '../src/http/index.js';
import type { Principal } from '../src/http/index.js';
import { bearerAuthenticator, testConfig, testRampart } from './support/rampart.js';

/**
 * Serving the admin dashboard (issue 7): the built SPA under /dashboard/ with the SPA fallback,
 * an allowlist of files read at start-up (no path reaches the filesystem), immutable caching for
 * hashed assets, and the server's strict CSP on every response (DA-3). A fixture bundle stands in
 * for `web/dist` so this suite needs no build; the browser suite runs the real one.
 */

const INDEX = '<!doctype html><html><head><script type="module" crossorigin src="/dashboard/assets/index-AbCdEf12.js"></script><link rel="stylesheet" href="/dashboard/assets/index-ZyXw9876.css"></head><body><div id="root"></div></body></html>';

describe('dashboard static serving', () => {
  let dir: string;
  let server: Server;
  let empty: Server;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-dashboard-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), INDEX);
    await writeFile(join(dir, 'assets', 'index-AbCdEf12.js'), 'console.log("app")');
    await writeFile(join(dir, 'assets', 'index-ZyXw9876.css'), 'body{}');
    await writeFile(join(dir, 'assets', 'notes.md'), 'not an allowed type');
    await writeFile(join(dir, 'secret.txt'), 'outside the assets directory');
    const log = createCapturingLogger('silent').log;
    server = await buildServer({ config: testConfig(), log, authorize: denyAll, routes: dashboardRoutes({ bundle: loadDashboardBundle(dir) }) });
    empty = await buildServer({ config: testConfig(), log, authorize: denyAll, routes: dashboardRoutes({ bundle: loadDashboardBundle(join(dir, 'missing')) }) });
  });
  afterAll(async () => {
    await server?.app.close();
    await empty?.app.close();
    await rm(dir, { recursive: true, force: true });
  });

  const get = (url: string, headers: Record<string, string> = {}) => server.app.inject({ method: 'GET', url, headers });

  it('DA-3 serves the app shell with the strict CSP: scripts and styles from self only, no inline, no framing', async () => {
    const response = await get('/dashboard/');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.body).toBe(INDEX);
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(response.headers['cache-control']).toBe('no-cache');
    expect(response.headers['x-frame-options']).toBe('DENY');
  });

  it('client routes (the OIDC callback included) get the app shell; /dashboard redirects to /dashboard/', async () => {
    for (const url of ['/dashboard/callback?code=abc&state=xyz', '/dashboard/apps/crm/contact', '/dashboard/apps/crm/contact/0190/edit', '/dashboard/audit', '/dashboard/access/drift']) {
      const response = await get(url);
      expect(response.statusCode, url).toBe(200);
      expect(response.body, url).toBe(INDEX);
    }
    const bare = await get('/dashboard');
    expect(bare.statusCode).toBe(308);
    expect(bare.headers.location).toBe('/dashboard/');
  });

  it('hashed assets are cached for a year as immutable, with their type, nosniff and a working ETag', async () => {
    const js = await get('/dashboard/assets/index-AbCdEf12.js');
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['x-content-type-options']).toBe('nosniff');
    expect(js.body).toBe('console.log("app")');
    const css = await get('/dashboard/assets/index-ZyXw9876.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const again = await get('/dashboard/assets/index-AbCdEf12.js', { 'if-none-match': String(js.headers.etag) });
    expect(again.statusCode).toBe(304);
    const head = await server.app.inject({ method: 'HEAD', url: '/dashboard/assets/index-AbCdEf12.js' });
    expect(head.statusCode).toBe(200);
  });

  it('only allowlisted files: traversal, unknown names, other types and file-like client paths are 404, never the shell', async () => {
    for (const url of [
      '/dashboard/assets/..%2F..%2Fpackage.json',
      '/dashboard/assets/%2e%2e%2fsecret.txt',
      '/dashboard/assets/notes.md',
      '/dashboard/assets/missing-12345678.js',
      '/dashboard/secret.txt',
      '/dashboard/../package.json',
      '/dashboard/favicon.ico',
      '/dashboard/apps/x.js',
    ]) {
      const response = await get(url);
      expect([404, 400], url).toContain(response.statusCode);
      expect(response.body, url).not.toContain('<div id="root">');
      expect(response.body, url).not.toContain('outside the assets directory');
      expect(response.body, url).not.toContain('"name": "rampart"');
    }
  });

  it('a file written after start-up is not served (the allowlist is fixed at start)', async () => {
    await writeFile(join(dir, 'assets', 'late-ABCDEFGH.js'), 'alert(1)');
    expect((await get('/dashboard/assets/late-ABCDEFGH.js')).statusCode).toBe(404);
  });

  it('without a build, the dashboard answers 503 with instructions (and still the CSP)', async () => {
    const response = await empty.app.inject({ method: 'GET', url: '/dashboard/callback' });
    expect(response.statusCode).toBe(503);
    expect(response.body).toContain('npm run build:web');
    expect(String(response.headers['content-security-policy'])).toContain("script-src 'self'");
    expect((await empty.app.inject({ method: 'GET', url: '/dashboard/assets/index-AbCdEf12.js' })).statusCode).toBe(404);
  });

  it('the real Rampart registers the dashboard routes as public (static files only; data is behind the API)', async () => {
    const rampart = await testRampart();
    try {
      const dashboard = rampart.server.routeTable.filter((r) => r.url.startsWith('/dashboard'));
      expect(dashboard.map((r) => `${r.method} ${r.url}`).sort()).toEqual(['GET /dashboard', 'GET /dashboard/', 'GET /dashboard/*', 'GET /dashboard/assets/:name', 'HEAD /dashboard', 'HEAD /dashboard/', 'HEAD /dashboard/*', 'HEAD /dashboard/assets/:name'].sort());
      expect(dashboard.every((r) => 'public' in r.auth)).toBe(true);
      const shell = await rampart.server.app.inject({ method: 'GET', url: '/dashboard/' });
      expect([200, 503]).toContain(shell.statusCode);
    } finally {
      await rampart.close();
    }
  });

  it('the source index.html has no inline script or style (the CSP would block them)', async () => {
    const source = await readFile(new URL('../web/index.html', import.meta.url), 'utf8');
    expect(source).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(source).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });
});

describe('DE-4 app plan preview for the spec editor (POST /api/v1/app-plans/preview)', () => {
  const principals: Record<string, Principal> = {};
  let rampart: Awaited<ReturnType<typeof testRampart>>;
  let crm: Record<string, unknown> & { version: number; resources: Array<{ name: string; fields: Array<Record<string, unknown>> }> };
  const preview = (token: string, body: unknown) => rampart.server.app.inject({ method: 'POST', url: '/api/v1/app-plans/preview', headers: { authorization: `Bearer ${token}` }, payload: body as Record<string, unknown> });
  const REASON = 'track the size of each company';

  beforeAll(async () => {
    rampart = await testRampart({ authenticate: (request) => bearerAuthenticator(principals)(request) });
    const acme = await rampart.createTenant({ slug: 'acme', name: 'Acme' });
    const other = await rampart.createTenant({ slug: 'other', name: 'Other' });
    await rampart.apps.installTemplate({ tenantId: acme.id, actor: { type: 'system', id: 'test' }, name: 'crm' });
    for (const role of ['admin', 'viewer', 'auditor']) principals[role] = { type: 'user', id: `acme-${role}`, tenantId: acme.id, roles: [role] };
    principals['other-admin'] = { type: 'user', id: 'other-admin', tenantId: other.id, roles: ['admin'] };
    crm = structuredClone((await rampart.apps.installedApp(acme.id, 'crm'))!.spec) as typeof crm;
  });
  afterAll(() => rampart.close());

  const withField = (field: Record<string, unknown>, version = crm.version + 1) => {
    const spec = structuredClone(crm);
    spec.version = version;
    spec.resources[0]!.fields.push(field);
    return spec;
  };

  it('DE-4 lists the migration steps against the installed version and stores nothing', async () => {
    const response = await preview('admin', { spec: withField({ name: 'employee_count', type: 'integer', class: 'internal' }), justification: REASON });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ ok: true, destructive: false, fromVersion: 1, requireApproval: false });
    expect(body.steps).toEqual([expect.objectContaining({ kind: 'add_column', field: 'employee_count', destructive: false })]);
    expect(await rampart.apps.listPlans(principals.admin!.tenantId)).toHaveLength(1); // only the template's own plan
  });

  it('DE-4 a field without a data class, a stale version and a dropped field show as findings / destructive steps', async () => {
    const noClass = (await preview('admin', { spec: withField({ name: 'birthday', type: 'date' }), justification: REASON })).json();
    expect(noClass.ok).toBe(false);
    expect(noClass.findings).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'field/no-class', severity: 'error', pointer: expect.stringMatching(/^\/resources\/0\/fields\/\d+/) })]));
    expect(noClass.steps).toEqual([]);
    const stale = (await preview('admin', { spec: withField({ name: 'employee_count', type: 'integer', class: 'internal' }, crm.version), justification: REASON })).json();
    expect(stale.ok).toBe(false);
    expect(stale.findings).toEqual([expect.objectContaining({ code: 'plan/version', pointer: '/version' })]);
    const dropped = structuredClone(crm);
    dropped.version += 1;
    dropped.resources[0]!.fields = dropped.resources[0]!.fields.filter((f) => f.name !== 'annual_revenue');
    const destructive = (await preview('admin', { spec: dropped, justification: REASON })).json();
    expect(destructive).toMatchObject({ ok: true, destructive: true });
    expect(destructive.steps).toEqual([expect.objectContaining({ kind: 'drop_column', destructive: true })]);
  });

  it('AZ-2 AZ-5 needs the plan right and a justification; another tenant previews against its own (empty) install', async () => {
    const spec = withField({ name: 'employee_count', type: 'integer', class: 'internal' });
    for (const role of ['viewer', 'auditor']) expect((await preview(role, { spec, justification: REASON })).statusCode).toBe(403);
    const unjustified = await preview('admin', { spec });
    expect(unjustified.statusCode).toBe(400);
    expect(unjustified.body).toContain('justification');
    const elsewhere = (await preview('other-admin', { spec, justification: REASON })).json();
    expect(elsewhere.fromVersion).toBeNull();
    expect(elsewhere.steps.every((s: { kind: string }) => s.kind === 'create_table' || s.kind === 'add_reference')).toBe(true);
  });
});
