import { STATUS_CODES } from 'node:http';
import { parse as parseQueryString } from 'node:querystring';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ERROR_CATALOGUE, jsonDepthExceeds, problemType, RampartError, type ErrorCode } from '../core/index.js';

/**
 * The bounds every request meets before any handler (issue 12 §4): what one caller sends cannot
 * reach a recursive consumer (zod, canonical JSON, Cedar) unbounded, and cannot turn a lookup
 * table's prototype into a value. Each bound answers with problem+json, never 5xx.
 */
export const INPUT_LIMITS = {
  /** Nesting of arrays and objects in a JSON body. */
  jsonDepth: 64,
  /** Parameters in a query string; later ones are dropped (as Node's `maxKeys`). */
  queryParameters: 100,
  /** Characters of the request target (path and query). Node's 16 KB header limit answers 431 above. */
  urlLength: 8_192,
} as const;

/**
 * Query strings parse into null-prototype objects (`querystring.parse` makes them), so
 * `?__proto__=1` or `?constructor=x` is an own key like any other and never reaches
 * `Object.prototype`. Which keys a route accepts is its zod schema (or, for the data API, the
 * app spec): the allowlist lives with the route.
 */
export const parseQuery = (text: string): Record<string, unknown> => parseQueryString(text, '&', '=', { maxKeys: INPUT_LIMITS.queryParameters });

/** Replaces the JSON parser with one that refuses deep bodies first; Fastify's own does the rest (`__proto__` keys refused). */
export function installJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (typeof body === 'string' && jsonDepthExceeds(body, INPUT_LIMITS.jsonDepth)) {
      done(new RampartError('bad_request', { detail: `the JSON body nests deeper than ${INPUT_LIMITS.jsonDepth} levels` }), undefined);
      return;
    }
    parseJson(request, body as string, done);
  });
  app.addHook('onRequest', async (request) => {
    if (request.url.length > INPUT_LIMITS.urlLength) throw new RampartError('uri_too_long', { detail: `the request target is longer than ${INPUT_LIMITS.urlLength} characters` });
  });
}

/**
 * Errors Node's HTTP parser raises before Fastify has a request (431 header overflow, a malformed
 * request line): a problem document with the security headers, written to the socket. Never the
 * request line or a header back.
 */
export function clientErrorHandler(headers: Record<string, string>) {
  return function handle(this: { log: { trace: (o: object, m: string) => void } }, error: Error & { code?: string }, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const code: ErrorCode = error.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : 'bad_request';
    const { status, title } = ERROR_CATALOGUE[code];
    const body = JSON.stringify({ type: problemType(code), title, status, code });
    this.log.trace({ err: { code: error.code } }, 'client error');
    if (socket.writable) {
      const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? title}`, 'content-type: application/problem+json; charset=utf-8', `content-length: ${Buffer.byteLength(body)}`, 'cache-control: no-store', 'connection: close'];
      for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
    }
    socket.destroy(error);
  };
}
