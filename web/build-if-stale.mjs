#!/usr/bin/env node
// Builds the dashboard (web/dist) when it is missing or older than any of its sources, so
// `npm start` and the browser suite never serve a stale or absent bundle. `--force` always builds.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = dirname(fileURLToPath(import.meta.url));
const built = join(web, 'dist', 'index.html');

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

const sources = [join(web, 'src'), join(web, 'index.html'), join(web, 'vite.config.ts')];
const isStale = !existsSync(built) || Math.max(...sources.map(newest)) > statSync(built).mtimeMs;
if (process.argv.includes('--force') || isStale) {
  process.stdout.write('building the dashboard (web/dist)…\n');
  const vite = join(web, '..', 'node_modules', 'vite', 'bin', 'vite.js');
  // A test runner's NODE_ENV (test, development) would make Vite ship React's development build.
  const result = spawnSync(process.execPath, [vite, 'build', '--config', join(web, 'vite.config.ts')], { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
  process.exit(result.status ?? 1);
}
