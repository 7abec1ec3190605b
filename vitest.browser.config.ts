import { defineConfig } from 'vitest/config';

/** `npm run test:browser`: real Chromium (Debian's, via playwright-core); never a downloaded browser. */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts', 'test/browser/global-setup.ts'],
    setupFiles: ['test/support/setup-v8.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
