import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    chromiumPath: string | null;
  }
}

export const CHROMIUM = process.env.RAMPART_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Locally a missing Chromium skips the suite with a notice; with CI=true it fails the run. */
export default function setup(project: TestProject): void {
  const present = existsSync(CHROMIUM);
  if (!present && process.env.CI === 'true') throw new Error(`browser suite: ${CHROMIUM} is missing (CI=true, refusing to skip); apt-get install -y chromium`);
  if (!present) console.warn(`[browser] SKIPPING: ${CHROMIUM} not found (apt-get install -y chromium)`);
  project.provide('chromiumPath', present ? CHROMIUM : null);
}
