import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCapturingLogger } from '../src/core/index.js';
import { dashboardRoutes, loadDashboardBundle } from '../src/dashboard/index.js';
import { buildServer, type Server } from '../src/http/index.js';
import { testConfig, testRampart } from './support/rampart.js';

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
    server = await buildServer({ config: testConfig(), log, routes: dashboardRoutes({ bundle: loadDashboardBundle(dir) }) });
    empty = await buildServer({ config: testConfig(), log, routes: dashboardRoutes({ bundle: loadDashboardBundle(join(dir, 'missing')) }) });
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
