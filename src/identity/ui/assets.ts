import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { defineRoute, type RouteDefinition } from '../../http/index.js';
import { RampartError } from '../../core/index.js';

/**
 * Static assets of the hosted login pages. The CSP allows scripts and styles from 'self' only, so
 * every script and the stylesheet live here. The URL names an entry of a fixed allowlist, never a
 * file path: `../` or an absolute path in the URL cannot reach the filesystem (path traversal).
 * Files are read once at start-up; a missing one fails the start, not a page later.
 */

export const ASSET_PREFIX = '/assets/login/';

export type AssetName = 'login.css' | 'common.js' | 'login.js' | 'invite.js' | 'setup.js' | 'magic-link.js' | 'account.js' | 'altcha-worker.js' | 'simplewebauthn-browser.js';

type Asset = { body: Buffer; contentType: string; hash: string };
export type AssetCatalog = { get(name: string): Asset | undefined; url(name: AssetName): string };

const JS = 'text/javascript; charset=utf-8';
const OWN: Record<Exclude<AssetName, 'simplewebauthn-browser.js'>, string> = {
  'login.css': 'text/css; charset=utf-8',
  'common.js': JS,
  'login.js': JS,
  'invite.js': JS,
  'setup.js': JS,
  'magic-link.js': JS,
  'account.js': JS,
  'altcha-worker.js': JS,
};

/** The source directory in a checkout; `dist/` builds find it next to the compiled file or in the source tree. */
function assetDirectory(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'assets'), join(here, '..', '..', '..', 'src', 'identity', 'ui', 'assets')];
  const found = candidates.find((dir) => existsSync(join(dir, 'login.css')));
  if (!found) throw new Error(`login UI assets not found (looked in ${candidates.join(', ')}); copy src/identity/ui/assets next to the build`);
  return found;
}

/** SimpleWebAuthn's browser UMD bundle (global `SimpleWebAuthnBrowser`), from the installed package. */
function simpleWebAuthnBundle(): string {
  const entry = createRequire(import.meta.url).resolve('@simplewebauthn/browser');
  return join(dirname(entry), '..', 'dist', 'bundle', 'index.umd.min.js');
}

const hashOf = (body: Buffer) => createHash('sha256').update(body).digest('base64url').slice(0, 16);

export function loadAssets(): AssetCatalog {
  const dir = assetDirectory();
  const assets = new Map<string, Asset>();
  for (const [name, contentType] of Object.entries(OWN)) {
    const body = readFileSync(join(dir, name));
    assets.set(name, { body, contentType, hash: hashOf(body) });
  }
  const bundle = readFileSync(simpleWebAuthnBundle());
  assets.set('simplewebauthn-browser.js', { body: bundle, contentType: JS, hash: hashOf(bundle) });
  return {
    get: (name) => assets.get(name),
    // The content hash in the URL lets browsers cache for a year and still see a new release at once.
    url: (name) => `${ASSET_PREFIX}${name}?v=${assets.get(name)!.hash}`,
  };
}

export function assetRoutes(assets: AssetCatalog): RouteDefinition[] {
  return [
    defineRoute({
      method: 'GET',
      url: `${ASSET_PREFIX}:name`,
      auth: { public: true },
      summary: 'Scripts and stylesheet of the hosted login pages (fixed allowlist)',
      params: z.strictObject({ name: z.string().max(64) }),
      query: z.looseObject({ v: z.string().max(64).optional().catch(undefined) }),
      handler: async ({ params, query, reply }) => {
        const asset = assets.get(params.name);
        if (!asset) throw new RampartError('not_found', { detail: 'no such asset' });
        const isVersioned = query.v === asset.hash;
        return reply
          .type(asset.contentType)
          .header('x-content-type-options', 'nosniff')
          .header('cache-control', isVersioned ? 'public, max-age=31536000, immutable' : 'public, max-age=300')
          .header('etag', `"${asset.hash}"`)
          .send(asset.body);
      },
    }),
  ];
}
