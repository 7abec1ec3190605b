import { Redis } from 'ioredis';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { POSTGRES_ADMIN_URL, REDIS_URL } from './env.js';

declare module 'vitest' {
  export interface ProvidedContext {
    servicesMissing: string[];
  }
}

/**
 * Checks that PostgreSQL and Redis answer. Locally a missing server skips its suite with a notice;
 * with CI=true it fails the run: a suite that silently skips in CI proves nothing.
 */
export default async function setup(project: TestProject): Promise<void> {
  const missing: string[] = [];
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    missing.push(`PostgreSQL at ${POSTGRES_ADMIN_URL}: ${(error as Error).message}`);
  } finally {
    await client.end().catch(() => {});
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    missing.push(`Redis at ${REDIS_URL}: ${(error as Error).message}`);
  } finally {
    redis.disconnect();
  }
  if (missing.length && process.env.CI === 'true') {
    throw new Error(`services suite: required services are unreachable (CI=true, refusing to skip):\n${missing.join('\n')}`);
  }
  for (const line of missing) console.warn(`[services] SKIPPING: ${line}`);
  project.provide('servicesMissing', missing);
}
