import { randomBytes } from 'node:crypto';
import { solveChallenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRampart } from '../../src/app.js';
import { createChallenger, createReplayStore, createThrottle, type Detection, type ThrottleStore } from '../../src/identity/throttle/index.js';
import { failOnce, KEY_SECRET, throttleBehaviour } from '../../src/identity/throttle/throttle.test.js';
import { testConfig } from '../support/rampart.js';
import { REDIS_URL } from './env.js';

/**
 * The throttle on a real Redis: the shared behaviour suite, then the reason Redis mode exists —
 * two nodes (two throttle instances on two connections) enforce one limit between them (ID-9).
 * Importing the shared suite also runs its memory variant here; that is cheap and harmless.
 */

const missing = inject('servicesMissing');

describe.skipIf(missing.some((m) => m.startsWith('Redis')))('throttle on Redis', () => {
  let nodeA: Redis;
  let nodeB: Redis;
  const prefixes: string[] = [];
  const freshPrefix = () => {
    const prefix = `rampart-test:throttle:${randomBytes(6).toString('hex')}`;
    prefixes.push(prefix);
    return prefix;
  };
  const storesFor = (prefix = freshPrefix()): [ThrottleStore, ThrottleStore] => [
    { kind: 'redis', client: nodeA, keyPrefix: prefix },
    { kind: 'redis', client: nodeB, keyPrefix: prefix },
  ];
  const keysUnder = async (prefix: string) => {
    const keys: string[] = [];
    for await (const batch of nodeA.scanStream({ match: `${prefix}:*`, count: 500 })) keys.push(...(batch as string[]));
    return keys;
  };

  beforeAll(async () => {
    nodeA = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    nodeB = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    await Promise.all([nodeA.ping(), nodeB.ping()]);
  });
  afterEach(async () => {
    for (const prefix of prefixes.splice(0)) {
      const keys = await keysUnder(prefix);
      if (keys.length) await nodeA.del(...keys);
    }
  });
  afterAll(async () => {
    await Promise.all([nodeA?.quit(), nodeB?.quit()]);
  });

  throttleBehaviour('redis', () => ({ kind: 'redis', client: nodeA, keyPrefix: freshPrefix() }));

  describe('two nodes sharing one Redis', () => {
    it('ID-9 50 parallel guesses spread over two nodes: never more than the limit (5) get through', async () => {
      const [storeA, storeB] = storesFor();
      const a = createThrottle({ store: storeA, keySecret: KEY_SECRET });
      const b = createThrottle({ store: storeB, keySecret: KEY_SECRET });
      const subject = { ip: '203.0.113.50', account: 'olivia@example.com' };
      const decisions = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).beforeAttempt(subject)));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
    });

    it('ID-9 failures on one node count on the other, and both refuse with the same block', async () => {
      const [storeA, storeB] = storesFor();
      const a = createThrottle({ store: storeA, keySecret: KEY_SECRET });
      const b = createThrottle({ store: storeB, keySecret: KEY_SECRET });
      const subject = { ip: '203.0.113.51', account: 'peggy@example.com' };
      for (let i = 0; i < 3; i++) expect(await failOnce(a, subject)).toMatchObject({ allowed: true });
      for (let i = 0; i < 2; i++) expect(await failOnce(b, subject)).toMatchObject({ allowed: true });
      expect(await a.beforeAttempt(subject)).toEqual({ allowed: false, retryAfterSeconds: 60, reason: 'ip_account' });
      const onB = await b.beforeAttempt(subject);
      expect(onB).toMatchObject({ allowed: false, reason: 'ip_account' });
      expect(!onB.allowed && onB.retryAfterSeconds).toBeGreaterThan(55);
    });

    it('ID-9 ID-10 stuffing spread over two nodes is detected once and flags the IP on both', async () => {
      const [storeA, storeB] = storesFor();
      const detections: Detection[] = [];
      const onDetection = (d: Detection) => void detections.push(d);
      const a = createThrottle({ store: storeA, keySecret: KEY_SECRET, onDetection });
      const b = createThrottle({ store: storeB, keySecret: KEY_SECRET, onDetection });
      const ip = '198.51.100.60';
      for (let i = 0; i < 12; i++) await failOnce(i % 2 ? a : b, { ip, account: `target${i}@example.com` });
      expect(await a.needsChallenge({ ip })).toBe(true);
      expect(await b.needsChallenge({ ip })).toBe(true);
      expect(detections.filter((d) => d.kind === 'credential_stuffing')).toHaveLength(1);
    });

    it('ID-9 DA-4 no key in Redis holds the raw account or IP', async () => {
      const [store] = storesFor();
      const prefix = store.kind === 'redis' ? (store.keyPrefix ?? '') : '';
      const throttle = createThrottle({ store, keySecret: KEY_SECRET, limits: { global: { failures: 2 } } });
      for (let i = 0; i < 7; i++) await failOnce(throttle, { ip: '203.0.113.52', account: 'Trent.Private@Example.org' });
      await throttle.recordSuccess({ ip: '203.0.113.53', account: 'Trent.Private@Example.org' });
      const keys = await keysUnder(prefix);
      expect(keys.length).toBeGreaterThan(5);
      for (const key of keys) expect(key.toLowerCase()).not.toMatch(/trent|private|example\.org|203\.0\.113/);
    });

    it('ID-10 a solved ALTCHA challenge is accepted once across two nodes', async () => {
      const [storeA, storeB] = storesFor();
      const options = { hmacKey: 'altcha-services-test-key-0123456789', algorithm: 'SHA-256' as const, cost: 1, maxNumber: 300 };
      const a = createChallenger({ ...options, replayStore: createReplayStore(storeA) });
      const b = createChallenger({ ...options, replayStore: createReplayStore(storeB) });
      const challenge = await a.issue();
      const solution = await solveChallenge({ challenge, deriveKey, timeout: 10_000 });
      const payload = Buffer.from(JSON.stringify({ challenge, solution })).toString('base64');
      const results = await Promise.all([a.verify(payload), b.verify(payload), a.verify(payload), b.verify(payload)]);
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('ID-9 a Rampart configured with redis.keyPrefix writes every key under it, the global failure counter and the under-attack flag included', async () => {
      const namespace = freshPrefix();
      const rampart = await createRampart({ config: testConfig({ redis: { url: REDIS_URL, keyPrefix: namespace } }), env: {} });
      try {
        const { throttle } = rampart.identity;
        for (let i = 0; i < throttle.limits.global.failures; i++) await throttle.recordFailure({ ip: `198.51.100.${i % 200}`, account: `spike${i}@example.com` });
        const subject = { ip: '203.0.113.55', account: 'wendy@example.com' };
        for (let i = 0; i < 6; i++) await failOnce(throttle, subject);
        expect(await throttle.needsChallenge({ ip: '192.0.2.99' })).toBe(true);
        const keys = await keysUnder(namespace);
        expect(keys).toEqual(expect.arrayContaining([`${namespace}:throttle:global:all`, `${namespace}:throttle:flags:under-attack`, ...throttle.keysFor(subject).slice(0, 3)]));
        for (const key of throttle.keysFor(subject)) expect(key.startsWith(`${namespace}:throttle:`), key).toBe(true);
      } finally {
        await rampart.close();
      }
    });

    it('ID-9 Retry-After on Redis: 40 parallel guesses are all told the 60 s block, not the 15-minute window', async () => {
      const [store] = storesFor();
      const throttle = createThrottle({ store, keySecret: KEY_SECRET });
      const subject = { ip: '203.0.113.56', account: 'xavier@example.com' };
      const decisions = await Promise.all(Array.from({ length: 40 }, () => throttle.beforeAttempt(subject)));
      const waits = decisions.flatMap((d) => (d.allowed ? [] : [d.retryAfterSeconds]));
      expect(waits).toHaveLength(35);
      expect(Math.max(...waits)).toBeLessThanOrEqual(60);
    });

    it('ID-9 with Redis unreachable each node keeps throttling in memory instead of failing open', async () => {
      const offline = new Redis(REDIS_URL, { lazyConnect: true });
      try {
        const throttle = createThrottle({ store: { kind: 'redis', client: offline, keyPrefix: freshPrefix() }, keySecret: KEY_SECRET });
        const subject = { ip: '203.0.113.54', account: 'victor@example.com' };
        for (let i = 0; i < 5; i++) expect(await failOnce(throttle, subject)).toMatchObject({ allowed: true });
        expect(await throttle.beforeAttempt(subject)).toMatchObject({ allowed: false, reason: 'ip_account' });
      } finally {
        offline.disconnect();
      }
    });
  });
});
