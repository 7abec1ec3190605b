#!/usr/bin/env node
// Runs the compiled CLI (dist/) when there is no source tree; in a checkout, runs the TypeScript
// sources through tsx so `npm start` needs no build step and never runs stale output.
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

// Before any wasm (PGlite, Cedar) is compiled: V8 <= 12 can abort the process when it inlines
// JS->Wasm calls and later deoptimizes them (see src/authz/cedar.ts).
if (Number(process.versions.v8.split('.')[0]) <= 12) setFlagsFromString('--no-turbo-inline-js-wasm-calls');

const source = new URL('../src/cli/bin.ts', import.meta.url);
const compiled = new URL('../dist/cli/bin.js', import.meta.url);

let useSource = existsSync(source) && process.env.RAMPART_TEST_USE_DIST !== '1';
if (useSource) {
  try {
    const { register } = await import('tsx/esm/api');
    register();
  } catch {
    useSource = false;
  }
}
if (!useSource && !existsSync(compiled)) {
  process.stderr.write('rampart: no compiled CLI in dist/ and no tsx to run the sources; run `npm run build`\n');
  process.exit(1);
}
await import((useSource ? source : compiled).href);
