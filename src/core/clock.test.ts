import { describe, expect, it } from 'vitest';
import { manualClock, systemClock } from './clock.js';

describe('manualClock', () => {
  it('starts at 2026-01-01T00:00:00Z by default', () => {
    expect(manualClock().now().toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('starts at the given date and stands still until moved', () => {
    const clock = manualClock(new Date('2030-05-06T07:08:09.010Z'));
    expect(clock.now().toISOString()).toBe('2030-05-06T07:08:09.010Z');
    expect(clock.now().getTime()).toBe(clock.now().getTime());
  });

  it('advance() moves time forward, cumulatively, and backwards with a negative step', () => {
    const clock = manualClock(new Date('2026-01-01T00:00:00Z'));
    clock.advance(1500);
    clock.advance(60_000);
    expect(clock.now().toISOString()).toBe('2026-01-01T00:01:01.500Z');
    clock.advance(-61_500);
    expect(clock.now().toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('set() jumps to a date, and advance() continues from there', () => {
    const clock = manualClock();
    clock.set(new Date('2027-02-03T04:05:06Z'));
    expect(clock.now().toISOString()).toBe('2027-02-03T04:05:06.000Z');
    clock.advance(1000);
    expect(clock.now().toISOString()).toBe('2027-02-03T04:05:07.000Z');
  });

  it('is not moved by mutating a returned Date or the start date', () => {
    const start = new Date('2026-01-01T00:00:00Z');
    const clock = manualClock(start);
    start.setUTCFullYear(1999);
    clock.now().setUTCFullYear(2000);
    expect(clock.now().toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('keeps separate clocks independent', () => {
    const a = manualClock();
    const b = manualClock();
    a.advance(1000);
    expect(b.now().toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });
});

describe('systemClock', () => {
  it('returns the current time', () => {
    const before = Date.now();
    const now = systemClock.now().getTime();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });
});
