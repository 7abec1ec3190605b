import { defineConfig } from 'vitest/config';

/**
 * `npm run test:services`: the suites that need PostgreSQL and Redis. Defaults to the local
 * servers; with CI=true a missing server fails the run instead of skipping it.
 */
export default defineConfig({
  test: {
    include: ['test/services/**/*.test.ts'],
    globalSetup: ['test/services/global-setup.ts'],
    setupFiles: ['test/support/setup-v8.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
