import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * The security headers every response carries (DA-3: HSTS; strict CSP without 'unsafe-inline',
 * nosniff, frame-ancestors none, referrer and cross-origin policies). helmet computes them from its
 * options; none of ours depends on the request (no nonces), so they are computed once at start-up
 * and each request only copies the finished values. (@fastify/helmet rebuilt helmet's middleware,
 * re-parsing the CSP directives, on every request: a measurable share of a short request.)
 */
export function securityHeaders(options: HelmetOptions): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    failure = error;
  });
  if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
  if (!headers['content-security-policy']) throw new Error('security headers: helmet produced no Content-Security-Policy');
  return Object.freeze(headers);
}
