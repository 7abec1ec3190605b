import { solveChallenge, type Challenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import { describe, expect, it } from 'vitest';
import { manualClock } from '../../core/index.js';
import { createChallenger, type ChallengerOptions } from './challenge.js';
import { createReplayStore, type OnceStore } from './store.js';

const HMAC_KEY = 'altcha-test-hmac-key-0123456789abcdef';

/** Cheap settings so the solver finishes in milliseconds; production uses PBKDF2 (CHALLENGE_DEFAULTS). */
export function testChallenger(options: Partial<ChallengerOptions> & { replayStore: OnceStore }) {
  return createChallenger({ hmacKey: HMAC_KEY, algorithm: 'SHA-256', cost: 1, maxNumber: 300, ...options });
}

/** What the widget posts: base64 of the JSON { challenge, solution }. */
export async function solve(challenge: Challenge): Promise<string> {
  const solution = await solveChallenge({ challenge, deriveKey, timeout: 10_000 });
  if (!solution) throw new Error('the test solver gave up');
  return Buffer.from(JSON.stringify({ challenge, solution })).toString('base64');
}

const decode = (payload: string) => JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as { challenge: Challenge; solution: { counter: number; derivedKey: string } };
const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');

describe('ALTCHA challenger (ID-10)', () => {
  it('ID-10 issue -> solve -> verify is true once; the replay is refused', async () => {
    const challenger = testChallenger({ replayStore: createReplayStore({ kind: 'memory' }) });
    const challenge = await challenger.issue();
    expect(challenge.signature).toMatch(/^[0-9a-f]{64}$/);
    expect(challenge.parameters.keySignature).toMatch(/^[0-9a-f]{64}$/);
    const payload = await solve(challenge);
    expect(await challenger.verify(payload)).toBe(true);
    expect(await challenger.verify(payload)).toBe(false);
  });

  it('ID-10 a replay is refused by another node sharing the replay store', async () => {
    const replayStore = createReplayStore({ kind: 'memory' });
    const nodeA = testChallenger({ replayStore });
    const nodeB = testChallenger({ replayStore });
    const payload = await solve(await nodeA.issue());
    expect(await nodeB.verify(payload)).toBe(true);
    expect(await nodeA.verify(payload)).toBe(false);
  });

  it('ID-10 accepts the decoded object as well as the base64 string', async () => {
    const challenger = testChallenger({ replayStore: createReplayStore({ kind: 'memory' }) });
    const payload = await solve(await challenger.issue());
    expect(await challenger.verify(decode(payload))).toBe(true);
  });

  it('ID-10 tampered payloads are refused: derived key, parameters, signature', async () => {
    const challenger = testChallenger({ replayStore: createReplayStore({ kind: 'memory' }) });
    const payload = decode(await solve(await challenger.issue()));
    const variants = [
      { ...payload, solution: { ...payload.solution, derivedKey: '00'.repeat(32) } },
      { ...payload, challenge: { ...payload.challenge, parameters: { ...payload.challenge.parameters, keyPrefix: '00' } } },
      { ...payload, challenge: { ...payload.challenge, parameters: { ...payload.challenge.parameters, expiresAt: (payload.challenge.parameters.expiresAt ?? 0) + 3600 } } },
      { ...payload, challenge: { ...payload.challenge, signature: 'ab'.repeat(32) } },
      { ...payload, challenge: { parameters: payload.challenge.parameters } },
      { ...payload, challenge: { ...payload.challenge, parameters: { ...payload.challenge.parameters, extra: 1 } } },
    ];
    for (const [i, variant] of variants.entries()) expect([i, await challenger.verify(encode(variant))]).toEqual([i, false]);
    // The genuine one still works: the tampered attempts did not burn it.
    expect(await challenger.verify(encode(payload))).toBe(true);
    // The derived key is the proof (the counter is not signed): a re-dressed copy is still a replay.
    expect(await challenger.verify(encode({ ...payload, solution: { ...payload.solution, counter: payload.solution.counter + 1 } }))).toBe(false);
  });

  it('ID-10 a challenge signed with another key is refused', async () => {
    const other = createChallenger({ hmacKey: 'a-different-deployment-key-0123456789', algorithm: 'SHA-256', cost: 1, maxNumber: 300, replayStore: createReplayStore({ kind: 'memory' }) });
    const challenger = testChallenger({ replayStore: createReplayStore({ kind: 'memory' }) });
    expect(await challenger.verify(await solve(await other.issue()))).toBe(false);
  });

  it('ID-10 an expired challenge is refused (fake clock)', async () => {
    const clock = manualClock(new Date());
    const challenger = testChallenger({ replayStore: createReplayStore({ kind: 'memory' }), clock, ttlSeconds: 120 });
    const payload = await solve(await challenger.issue());
    clock.advance(121_000);
    expect(await challenger.verify(payload)).toBe(false);
  });

  it('ID-10 garbage never throws and is refused', async () => {
    const challenger = testChallenger({ replayStore: createReplayStore({ kind: 'memory' }) });
    const garbage: unknown[] = [
      undefined,
      null,
      '',
      42,
      [],
      {},
      'not base64 at all!!',
      '%%%%',
      Buffer.from('{').toString('base64'),
      Buffer.from('null').toString('base64'),
      Buffer.from('"string"').toString('base64'),
      encode({ challenge: null, solution: null }),
      encode({ challenge: { parameters: {}, signature: 'zz' }, solution: { counter: -1, derivedKey: 'xyz' } }),
      encode({ __proto__: { polluted: true }, challenge: 1 }),
      'A'.repeat(1_000_000),
      { challenge: { parameters: { algorithm: 'SHA-256', nonce: 'gg', salt: '00', cost: 1, keyLength: 32, keyPrefix: '00', expiresAt: 9e9 }, signature: '00' }, solution: { counter: 1.5, derivedKey: '00' } },
    ];
    for (const payload of garbage) await expect(challenger.verify(payload)).resolves.toBe(false);
  });

  it('ID-10 a challenge of another algorithm than configured is refused', async () => {
    const replayStore = createReplayStore({ kind: 'memory' });
    const sha = testChallenger({ replayStore });
    const pbkdf2 = createChallenger({ hmacKey: HMAC_KEY, algorithm: 'PBKDF2/SHA-256', cost: 1, maxNumber: 300, replayStore });
    expect(await pbkdf2.verify(await solve(await sha.issue()))).toBe(false);
  });

  it('ID-10 production defaults issue a PBKDF2 challenge that expires', async () => {
    const clock = manualClock(new Date('2026-05-01T00:00:00Z'));
    const challenger = createChallenger({ hmacKey: HMAC_KEY, replayStore: createReplayStore({ kind: 'memory' }), clock });
    const challenge = await challenger.issue();
    expect(challenge.parameters).toMatchObject({ algorithm: 'PBKDF2/SHA-256', cost: 1000, expiresAt: Date.parse('2026-05-01T00:05:00Z') / 1000 });
    expect(() => createChallenger({ hmacKey: 'short', replayStore: createReplayStore({ kind: 'memory' }) })).toThrow(/at least 32/);
  });
});
