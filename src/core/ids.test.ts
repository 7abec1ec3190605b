import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isUuid, requestId, UUID_PATTERN, uuidv7 } from './ids.js';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const timestampOf = (id: string): number => parseInt(id.replaceAll('-', '').slice(0, 12), 16);

describe('uuidv7', () => {
  it('has the UUIDv7 layout: lower-case hex, version 7, variant 10xx', () => {
    for (let i = 0; i < 200; i++) {
      const id = uuidv7();
      expect(id).toMatch(UUIDV7);
      const bytes = Buffer.from(id.replaceAll('-', ''), 'hex');
      expect(bytes[6]! >> 4).toBe(7);
      expect(bytes[8]! >> 6).toBe(0b10);
    }
  });

  it('encodes the given Unix milliseconds in the first 48 bits', () => {
    const now = Date.UTC(2026, 0, 1, 12, 30, 45, 678);
    expect(timestampOf(uuidv7(now))).toBe(now);
    expect(uuidv7(0).startsWith('00000000-0000-7')).toBe(true);
    expect(timestampOf(uuidv7(2 ** 48 - 1))).toBe(2 ** 48 - 1);
  });

  it('defaults to the current time', () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    expect(timestampOf(id)).toBeGreaterThanOrEqual(before);
    expect(timestampOf(id)).toBeLessThanOrEqual(after);
  });

  it('sorts by time across different timestamps (string order = creation order)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 2 }), fc.integer({ min: 1, max: 2 ** 40 }), (t, delta) => {
        const later = Math.min(t + delta, 2 ** 48 - 1);
        expect(uuidv7(t) < uuidv7(later)).toBe(true);
      }),
      { numRuns: 500 },
    );
    const ids = Array.from({ length: 100 }, (_, i) => uuidv7(1_700_000_000_000 + i * 1000));
    expect([...ids].reverse().sort()).toEqual(ids);
  });

  it('is unique over 10k ids minted in the same millisecond', () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 10_000 }, () => uuidv7(now)));
    expect(ids.size).toBe(10_000);
  });

  it('refuses a timestamp that does not fit 48 bits', () => {
    expect(() => uuidv7(-1)).toThrow(RangeError);
    expect(() => uuidv7(2 ** 48)).toThrow(RangeError);
  });
});

describe('isUuid', () => {
  it.each([uuidv7(), '123e4567-e89b-12d3-a456-426614174000', 'F47AC10B-58CC-4372-A567-0E02B2C3D479', randomUUID()])('accepts %s', (value) => {
    expect(isUuid(value)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['no dashes', '0190a1b20000700080000000000000aa'],
    ['version 0', '123e4567-e89b-02d3-a456-426614174000'],
    ['version 9', '123e4567-e89b-92d3-a456-426614174000'],
    ['variant 0xxx', '123e4567-e89b-12d3-7456-426614174000'],
    ['variant 110x', '123e4567-e89b-12d3-c456-426614174000'],
    ['nil uuid', '00000000-0000-0000-0000-000000000000'],
    ['too long', '123e4567-e89b-12d3-a456-4266141740000'],
    ['trailing newline', '123e4567-e89b-12d3-a456-426614174000\n'],
    ['braces', '{123e4567-e89b-12d3-a456-426614174000}'],
    ['non-hex', '123e4567-e89b-12d3-a456-42661417400g'],
    ['sql injection', "123e4567-e89b-12d3-a456-426614174000' or '1'='1"],
  ])('rejects %s', (_label, value) => {
    expect(isUuid(value)).toBe(false);
  });

  it.each([undefined, null, 42, {}, ['123e4567-e89b-12d3-a456-426614174000']])('rejects the non-string %j', (value) => {
    expect(isUuid(value)).toBe(false);
  });

  it('exports the pattern it uses', () => {
    expect(UUID_PATTERN.test(uuidv7())).toBe(true);
  });
});

describe('requestId', () => {
  it.each(['abcdefgh', 'req-12345678', 'A1.b2_c3-d4', uuidv7(), 'x'.repeat(128)])('keeps the sane incoming id %j', (incoming) => {
    expect(requestId(incoming)).toBe(incoming);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['too short', 'abc1234'],
    ['too long', 'x'.repeat(129)],
    ['with a newline (log injection)', 'abcdefgh\n{"level":"fatal"}'],
    ['with a trailing newline', 'abcdefgh\n'],
    ['with a CRLF (header injection)', 'abcdefgh\r\nSet-Cookie: a=b'],
    ['with spaces', 'abc def ghi'],
    ['with a tab', 'abcdefgh\t1'],
    ['with quotes', 'abcdefgh"1'],
    ['with html', '<script>alert(1)</script>'],
    ['non-ascii', 'abcdéfghij'],
    ['with a NUL byte', 'abcdefgh\u0000'],
  ])('replaces an id that is %s with a fresh uuid', (_label, incoming) => {
    const id = requestId(incoming);
    expect(id).not.toBe(incoming);
    expect(isUuid(id)).toBe(true);
  });

  it('replaces an array of ids (repeated header) with a fresh uuid', () => {
    const id = requestId(['abcdefgh1', 'abcdefgh2']);
    expect(isUuid(id)).toBe(true);
    expect(requestId(['abcdefgh1'])).not.toBe('abcdefgh1');
  });

  it('mints a different id each time', () => {
    expect(requestId()).not.toBe(requestId());
  });
});
