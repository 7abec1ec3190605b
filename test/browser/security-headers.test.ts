/// <reference lib="dom" />
import { mkdir } from 'node:fs/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Rampart } from '../../src/app.js';
import { defineRoute } from '../../src/http/index.js';
import { testRampart } from '../support/rampart.js';
import { launchChromium } from './chromium.js';

const chromiumPath = inject('chromiumPath');

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rampart CSP probe</title>
<script>window.inlineRan = true;</script>
<script src="/probe/app.js"></script>
</head><body><h1>Rampart</h1><p id="state">static</p></body></html>`;

/**
 * DA-3: the headers the server sends are only worth something if a real browser enforces them.
 * This drives Debian's Chromium against a running Rampart.
 */
describe.skipIf(!chromiumPath)('security headers enforced by a real browser', () => {
  let rampart: Rampart;
  let origin: string;
  let framer: FastifyInstance;
  let framerOrigin: string;
  let browser: Browser;

  beforeAll(async () => {
    rampart = await testRampart({
      routes: [
        defineRoute({ method: 'GET', url: '/probe/page', auth: { public: true }, handler: async ({ reply }) => reply.type('text/html; charset=utf-8').send(PAGE) }),
        defineRoute({
          method: 'GET',
          url: '/probe/app.js',
          auth: { public: true },
          handler: async ({ reply }) => reply.type('text/javascript').send("window.selfRan = true; document.getElementById && document.addEventListener('DOMContentLoaded', () => { document.getElementById('state').textContent = 'script from self ran'; });"),
        }),
      ],
    });
    origin = await rampart.server.app.listen({ host: '127.0.0.1', port: 0 });
    // A second origin that tries to frame Rampart (clickjacking).
    framer = Fastify();
    framer.get('/', async (_request, reply) => reply.type('text/html').send(`<!doctype html><title>framer</title><iframe id="victim" src="${origin}/probe/page"></iframe>`));
    framerOrigin = await framer.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium(chromiumPath!);
  });
  afterAll(async () => {
    await browser?.close();
    await framer?.close();
    await rampart?.close();
  });

  it('DA-3 CSP blocks inline scripts while scripts from self run', async () => {
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') violations.push(message.text());
    });
    const response = await page.goto(`${origin}/probe/page`);
    expect(response?.status()).toBe(200);
    expect(await page.evaluate(() => (window as unknown as { inlineRan?: boolean }).inlineRan)).toBeUndefined();
    expect(await page.evaluate(() => (window as unknown as { selfRan?: boolean }).selfRan)).toBe(true);
    expect(await page.textContent('#state')).toBe('script from self ran');
    expect(violations.join('\n')).toMatch(/Content Security Policy/);
    await mkdir('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/csp-probe.png' });
    await page.close();
  });

  it('DA-3 another origin cannot frame Rampart (frame-ancestors none)', async () => {
    const page = await browser.newPage();
    await page.goto(framerOrigin);
    await page.waitForTimeout(500);
    const frame = page.frames().find((f) => f !== page.mainFrame());
    expect(frame).toBeDefined();
    // A blocked frame never gets Rampart's document: it stays on Chromium's error page.
    const heading = await frame!.evaluate(() => document.querySelector('h1')?.textContent ?? null).catch(() => null);
    expect(heading).not.toBe('Rampart');
    expect(frame!.url()).not.toBe(`${origin}/probe/page`);
    await page.close();
  });

  it('DA-3 problem responses render as JSON, not as HTML a browser would execute', async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${origin}/api/v1/tenant`);
    expect(response?.status()).toBe(401);
    expect(response?.headers()['content-type']).toMatch(/^application\/problem\+json/);
    await page.close();
  });
});
