import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RampartError } from '../core/index.js';

/**
 * One trusted issuer URL. With a public URL configured, it is the only origin Rampart speaks for:
 * the OIDC issuer, discovery, redirects and the links in mail all come from it. A request naming
 * another host (in `Host`, or in `X-Forwarded-Host`, which a trusted proxy setting would believe)
 * is refused here, before any handler runs: nothing downstream can then build an absolute URL from
 * an attacker's host (the OIDC provider builds its endpoint URLs from the request), and no shared
 * cache can keep such a response for everyone.
 *
 * Health probes are exempt: orchestrators address a node by its own address, and the answers carry
 * no URL.
 */

const EXEMPT_PATHS = new Set(['/healthz', '/readyz']);

/** `host[:port]` as the URL parser normalises it (lower case, default port dropped), or undefined. */
function normalisedHost(value: string, protocol: string): string | undefined {
  if (!value || /[\s/\\?#@]/.test(value)) return undefined;
  try {
    return new URL(`${protocol}//${value}`).host;
  } catch {
    return undefined;
  }
}

export function isPublicHost(request: Pick<FastifyRequest, 'headers'>, publicUrl: URL): boolean {
  const host = request.headers.host;
  if (typeof host !== 'string' || normalisedHost(host, publicUrl.protocol) !== publicUrl.host) return false;
  const forwarded = request.headers['x-forwarded-host'];
  if (forwarded === undefined) return true;
  // A proxy chain may list several; every one must name the public host.
  const listed = (Array.isArray(forwarded) ? forwarded : [forwarded]).flatMap((v) => v.split(',')).map((v) => v.trim());
  return listed.every((value) => normalisedHost(value, publicUrl.protocol) === publicUrl.host);
}

export function refuseForeignHosts(app: FastifyInstance, publicUrl: string): void {
  const url = new URL(publicUrl);
  app.addHook('onRequest', async (request) => {
    if (EXEMPT_PATHS.has(request.url.split('?')[0]!)) return;
    if (!isPublicHost(request, url)) throw new RampartError('misdirected_request', { detail: `this server answers for ${url.host} only` });
  });
}
