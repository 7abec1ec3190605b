import { describe, expect, it } from 'vitest';
import { createSessionCache } from './cache.js';
import type { ValidSession } from './operations/validate-session.js';

const NOW = new Date('2026-11-29T12:00:00Z');
const minutes = (n: number) => new Date(NOW.getTime() + n * 60_000);

function session(overrides: Partial<ValidSession['session']> = {}, userId = 'u1'): ValidSession {
  return {
    session: {
      id: overrides.id ?? 's1',
      tenant_id: 't1',
      user_id: userId,
      stage: 'ok',
      revoked_at: null,
      last_seen_at: NOW,
      idle_expires_at: minutes(30),
      absolute_expires_at: minutes(12 * 60),
      ...overrides,
    } as ValidSession['session'],
    user: { id: userId, department: null, region: null, roles: ['viewer'] },
  };
}

/** A monotonic clock the test moves by hand. */
const ticking = () => {
  let at = 0;
  return { now: () => at, advance: (ms: number) => void (at += ms) };
};

describe('ID-6 the per-node session cache', () => {
  it('answers a stored full session until its entry lapses (ttl), then asks the database again', () => {
    const clock = ticking();
    const cache = createSessionCache({ ttlMs: 2000, monotonic: clock.now });
    cache.put('h1', session(), cache.generation);
    expect(cache.get('h1', NOW)?.session.id).toBe('s1');
    clock.advance(1999);
    expect(cache.get('h1', NOW)).toBeDefined();
    clock.advance(1);
    expect(cache.get('h1', NOW)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('re-checks idle and absolute expiry at the caller’s clock, and sends a session due a touch to the database', () => {
    const cache = createSessionCache({ ttlMs: 60_000 });
    cache.put('idle', session({ id: 'a', idle_expires_at: minutes(0.5) }), cache.generation);
    expect(cache.get('idle', minutes(0.5))).toBeUndefined();
    cache.put('absolute', session({ id: 'b', absolute_expires_at: minutes(0.2) }), cache.generation);
    expect(cache.get('absolute', minutes(0.3))).toBeUndefined();
    // last_seen_at slides at most once a minute: from then on the database must see the request.
    cache.put('touch', session({ id: 'c' }), cache.generation);
    expect(cache.get('touch', minutes(0.9))).toBeDefined();
    expect(cache.get('touch', minutes(1))).toBeUndefined();
  });

  it('never stores a pending (MFA-incomplete) or revoked session', () => {
    const cache = createSessionCache();
    cache.put('pending', session({ stage: 'mfa_required' as never }), cache.generation);
    cache.put('revoked', session({ revoked_at: NOW }), cache.generation);
    expect(cache.get('pending', NOW)).toBeUndefined();
    expect(cache.get('revoked', NOW)).toBeUndefined();
  });

  it('forgets one session, or every session of a user, at once', () => {
    const cache = createSessionCache();
    cache.put('a', session({ id: 'a' }, 'ada'), cache.generation);
    cache.put('b', session({ id: 'b' }, 'ada'), cache.generation);
    cache.put('c', session({ id: 'c' }, 'bob'), cache.generation);
    cache.forgetSession('a');
    expect(cache.get('a', NOW)).toBeUndefined();
    expect(cache.get('b', NOW)).toBeDefined();
    cache.forgetUser('ada');
    expect(cache.get('b', NOW)).toBeUndefined();
    expect(cache.get('c', NOW)).toBeDefined();
  });

  it('a lookup that began before a revoke does not store what it read (no stale state put back)', () => {
    const cache = createSessionCache();
    const startedAt = cache.generation; // the lookup reads the database ...
    cache.forgetSession('s1'); // ... meanwhile the session is revoked on this node
    cache.put('h1', session(), startedAt); // ... and the lookup returns the row it read before
    expect(cache.get('h1', NOW)).toBeUndefined();
    cache.put('h1', session(), cache.generation); // a lookup after the revoke may store
    expect(cache.get('h1', NOW)).toBeDefined();
  });

  it('ttl 0 turns the cache off; the size stays bounded', () => {
    const off = createSessionCache({ ttlMs: 0 });
    off.put('h', session(), off.generation);
    expect(off.get('h', NOW)).toBeUndefined();
    const small = createSessionCache({ maxEntries: 3 });
    for (const id of ['a', 'b', 'c', 'd']) small.put(id, session({ id }), small.generation);
    expect(small.size).toBe(3);
    expect(small.get('a', NOW)).toBeUndefined(); // the oldest went first
    expect(small.get('d', NOW)).toBeDefined();
  });
});
