import { connect } from 'node:net';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Rampart } from '../src/app.js';
import { jsonDepthExceeds } from '../src/core/index.js';
import { defineRoute, INPUT_LIMITS } from '../src/http/index.js';
import { testRampart } from './support/rampart.js';

/**
 * Invariant 7 at the edge (issue 12 §4): what Fastify and Node refuse before a route runs (router
 * 404, bad URL, 400 bad or deep JSON, 413, 414, 415, 431) leaves as problem+json with the
 * security headers, and echoes neither the URL nor a header.
 */

const MARK = 'zz-echo-mark';
let rampart: Rampart;

beforeAll(async () => {
  rampart = await testRampart({
    routes: [defineRoute({ method: 'POST', url: '/api/v1/probe/echo/:name', auth: { public: true }, params: z.strictObject({ name: z.string() }), body: z.unknown(), handler: async () => ({ ok: true }) })],
  });
});
afterAll(() => rampart.close());

const inject = (options: InjectOptions) => rampart.server.app.inject(options);

function expectEdgeProblem(response: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, code: string): void {
  expect(response.statusCode, response.body).toBe(status);
  expect(String(response.headers['content-type'])).toMatch(/^application\/problem\+json/);
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  expect(String(response.headers['content-security-policy'])).toContain("default-src 'self'");
  expect(JSON.parse(response.body)).toMatchObject({ status, code });
  expect(response.body).not.toContain(MARK);
}

describe('invariant 7 Fastify and Node errors are problem+json without echo', () => {
  it('invariant 7 router 404 and a malformed percent-encoding', async () => {
    expectEdgeProblem(await inject({ method: 'GET', url: `/api/v1/${MARK}?q=${MARK}` }), 404, 'not_found');
    expectEdgeProblem(await inject({ method: 'POST', url: `/api/v1/probe/echo/%80${MARK}`, payload: {} }), 400, 'bad_request');
  });

  it('invariant 7 bad JSON 400, deep JSON 400, 413, 415', async () => {
    const json = { 'content-type': 'application/json' };
    expectEdgeProblem(await inject({ method: 'POST', url: '/api/v1/probe/echo/a', headers: json, payload: `{"${MARK}": ` }), 400, 'malformed_json');
    const deep = await inject({ method: 'POST', url: '/api/v1/probe/echo/a', headers: json, payload: `${'['.repeat(10_000)}${']'.repeat(10_000)}` });
    expectEdgeProblem(deep, 400, 'bad_request');
    expect(deep.json().detail).toBe('the JSON body nests deeper than 64 levels');
    expect((await inject({ method: 'POST', url: '/api/v1/probe/echo/a', headers: json, payload: `${'['.repeat(64)}${']'.repeat(64)}` })).statusCode).toBe(200);
    expectEdgeProblem(await inject({ method: 'POST', url: '/api/v1/probe/echo/a', headers: json, payload: `"${'x'.repeat(rampart.config.http.bodyLimitBytes)}"` }), 413, 'payload_too_large');
    expectEdgeProblem(await inject({ method: 'POST', url: '/api/v1/probe/echo/a', headers: { 'content-type': `text/${MARK}` }, payload: 'x' }), 415, 'unsupported_media_type');
  });

  it('invariant 7 a request target over the limit, or an over-long path segment, is 414', async () => {
    expectEdgeProblem(await inject({ method: 'GET', url: `/api/v1/tenant?q=${MARK}${'x'.repeat(INPUT_LIMITS.urlLength)}` }), 414, 'uri_too_long');
    expectEdgeProblem(await inject({ method: 'POST', url: `/api/v1/probe/echo/${MARK}${'x'.repeat(300)}`, payload: {} }), 414, 'uri_too_long');
  });

  it('invariant 7 headers over Node\'s limit are 431 problem+json with the security headers, on a real socket', async () => {
    const address = await rampart.server.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = new URL(address);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write(`GET /api/v1/${MARK} HTTP/1.1\r\nhost: x\r\nx-big: ${MARK}${'y'.repeat(20_000)}\r\n\r\n`));
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    const headers = Object.fromEntries(head.split('\r\n').slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expectEdgeProblem({ statusCode: 431, headers, body }, 431, 'headers_too_large');
  });

  it('invariant 7 the depth scan counts brackets only outside strings, and without recursion', () => {
    expect(jsonDepthExceeds(`{"a": "${'['.repeat(100)}"}`, 2)).toBe(false);
    expect(jsonDepthExceeds(`{"a": "\\"${'['.repeat(100)}"}`, 2)).toBe(false);
    expect(jsonDepthExceeds('[[[]]]', 3)).toBe(false);
    expect(jsonDepthExceeds('[[[[]]]]', 3)).toBe(true);
    expect(jsonDepthExceeds('['.repeat(1_000_000), 64)).toBe(true);
  });
});
