/** Where the services suite finds its servers; the machine's own by default. */
export const POSTGRES_ADMIN_URL = process.env.RAMPART_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.RAMPART_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
