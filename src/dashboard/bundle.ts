import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The built admin dashboard (web/dist), read once at start-up into memory. What the server may
 * send is exactly this set of files: a URL names an entry of the map, never a path, so `../`,
 * encoded separators or absolute paths cannot reach the filesystem (path traversal), and a file
 * dropped into the directory after start is not served.
 */

export type DashboardFile = { body: Buffer; contentType: string; etag: string; isHashed: boolean };
export type DashboardBundle = { index: DashboardFile; assets: ReadonlyMap<string, DashboardFile>; builtAt: Date };

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Vite names build outputs `<name>-<8+ char hash>.<ext>`: only such a name may be cached for a year. */
const HASHED = /-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** web/dist next to the sources (src/dashboard) or the compiled files (dist/dashboard). */
export function defaultDistDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web', 'dist');
}

const fileOf = (body: Buffer, name: string): DashboardFile => ({
  body,
  contentType: CONTENT_TYPES[extname(name)] ?? 'application/octet-stream',
  etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
  isHashed: HASHED.test(name),
});

/** The bundle in `distDir`, or undefined when the dashboard has not been built. */
export function loadDashboardBundle(distDir: string = defaultDistDir()): DashboardBundle | undefined {
  const indexPath = join(distDir, 'index.html');
  if (!existsSync(indexPath)) return undefined;
  const assets = new Map<string, DashboardFile>();
  const assetDir = join(distDir, 'assets');
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const path = join(assetDir, name);
      if (!ASSET_NAME.test(name) || !(extname(name) in CONTENT_TYPES) || !statSync(path).isFile()) continue;
      assets.set(name, fileOf(readFileSync(path), name));
    }
  }
  const index = { ...fileOf(readFileSync(indexPath), 'index.html'), contentType: 'text/html; charset=utf-8' };
  return { index, assets, builtAt: statSync(indexPath).mtime };
}
