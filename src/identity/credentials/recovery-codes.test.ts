import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../core/index.js';
import {
  RECOVERY_CODE_ALPHABET,
  RECOVERY_CODE_BITS,
  generateRecoveryCodes,
  hashRecoveryCode,
  matchRecoveryCode,
  normalizeRecoveryCode,
} from './recovery-codes.js';

const PEPPER = randomBytes(32);
const FORMAT = new RegExp(`^[${RECOVERY_CODE_ALPHABET}]{4}-[${RECOVERY_CODE_ALPHABET}]{4}-[${RECOVERY_CODE_ALPHABET}]{4}$`);

describe('ID-4 recovery codes', () => {
  it('ID-4 ten codes by default, formatted xxxx-xxxx-xxxx, each >= 50 bits', () => {
    const codes = generateRecoveryCodes();
    expect(codes).toHaveLength(10);
    for (const code of codes) expect(code).toMatch(FORMAT);
    expect(RECOVERY_CODE_BITS).toBeGreaterThanOrEqual(50);
    expect(RECOVERY_CODE_BITS).toBeCloseTo(12 * Math.log2(30), 5);
  });

  it('ID-4 the alphabet has no look-alikes (0/o, 1/i/l, u)', () => {
    expect(RECOVERY_CODE_ALPHABET).toHaveLength(30);
    expect(new Set(RECOVERY_CODE_ALPHABET).size).toBe(30);
    for (const ambiguous of '01oilu') expect(RECOVERY_CODE_ALPHABET).not.toContain(ambiguous);
  });

  it('ID-4 codes are unique within and across sets, and every alphabet letter is used', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), (n) => {
        const codes = generateRecoveryCodes(n);
        expect(codes).toHaveLength(n);
        expect(new Set(codes).size).toBe(n);
      }),
      { numRuns: 50 },
    );
    const many = generateRecoveryCodes(100).concat(generateRecoveryCodes(100));
    expect(new Set(many).size).toBe(200);
    const seen = new Set(many.join('').replaceAll('-', ''));
    expect(seen.size).toBe(30); // 2400 draws from 30 letters: a skewed or truncated generator shows here
  });

  it('ID-4 refuses silly counts', () => {
    for (const n of [0, -1, 101, 1.5, Number.NaN]) expect(() => generateRecoveryCodes(n)).toThrow();
  });

  it('ID-4 stored form is an HMAC, never the code', () => {
    const [code] = generateRecoveryCodes(1) as [string];
    const stored = hashRecoveryCode(code, PEPPER);
    expect(stored).toMatch(/^rc1\$[A-Za-z0-9_-]{43}$/);
    expect(stored).not.toContain(code.replaceAll('-', ''));
    expect(hashRecoveryCode(code, PEPPER)).toBe(stored); // deterministic, so it can be looked up
  });

  it('ID-4 matching returns the index and ignores case, dashes and spaces', () => {
    const codes = generateRecoveryCodes(10);
    const stored = codes.map((code) => hashRecoveryCode(code, PEPPER));
    const code = codes[7]!;
    const plain = code.replaceAll('-', '');
    for (const input of [code, code.toUpperCase(), plain, ` ${plain.slice(0, 6)} ${plain.slice(6)} `, code.replaceAll('-', '\u2013'), code.replaceAll('-', ' - ')]) {
      expect(matchRecoveryCode(input, stored, PEPPER), input).toBe(7);
    }
  });

  it('ID-4 property: any code, re-spaced and re-cased, matches its own hash and no other', () => {
    const codes = generateRecoveryCodes(20);
    const stored = codes.map((code) => hashRecoveryCode(code, PEPPER));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 19 }), fc.array(fc.constantFrom(' ', '-', '\t'), { maxLength: 12 }), fc.boolean(), (index, separators, upper) => {
        const letters = [...codes[index]!.replaceAll('-', '')];
        const input = letters.map((letter, i) => (upper ? letter.toUpperCase() : letter) + (separators[i] ?? '')).join('');
        expect(matchRecoveryCode(input, stored, PEPPER)).toBe(index);
      }),
    );
  });

  it('ID-4 wrong pepper, unknown code, malformed input and empty list give -1', () => {
    const codes = generateRecoveryCodes(3);
    const stored = codes.map((code) => hashRecoveryCode(code, PEPPER));
    expect(matchRecoveryCode(codes[0]!, stored, randomBytes(32))).toBe(-1);
    expect(matchRecoveryCode(generateRecoveryCodes(1)[0]!, stored, PEPPER)).toBe(-1);
    expect(matchRecoveryCode(codes[0]!.slice(0, -1), stored, PEPPER)).toBe(-1);
    expect(matchRecoveryCode(`${codes[0]!}2`, stored, PEPPER)).toBe(-1);
    expect(matchRecoveryCode(codes[0]!.replace(/[a-z]/, 'o'), stored, PEPPER)).toBe(-1);
    expect(matchRecoveryCode('', stored, PEPPER)).toBe(-1);
    expect(matchRecoveryCode(codes[0]!, [], PEPPER)).toBe(-1);
    expect(matchRecoveryCode(codes[0]!, ['garbage', '', 'rc1$'], PEPPER)).toBe(-1);
  });

  it('ID-4 a used code (hash removed by the caller) no longer matches', () => {
    const codes = generateRecoveryCodes(2);
    const stored = codes.map((code) => hashRecoveryCode(code, PEPPER));
    const index = matchRecoveryCode(codes[1]!, stored, PEPPER);
    stored.splice(index, 1);
    expect(matchRecoveryCode(codes[1]!, stored, PEPPER)).toBe(-1);
    expect(matchRecoveryCode(codes[0]!, stored, PEPPER)).toBe(0);
  });

  it('ID-4 accepts the pepper as a Secret and refuses a short pepper', () => {
    const secretPepper = new Secret(randomBytes(32).toString('base64'), 'test');
    const [code] = generateRecoveryCodes(1) as [string];
    expect(matchRecoveryCode(code, [hashRecoveryCode(code, secretPepper)], secretPepper)).toBe(0);
    expect(() => hashRecoveryCode(code, randomBytes(16))).toThrow(expect.objectContaining({ code: 'internal' }));
  });

  it('ID-4 normalisation rejects letters outside the alphabet and overlong input', () => {
    expect(normalizeRecoveryCode('ABCD-EFGH-JKMN')).toBe('abcdefghjkmn');
    expect(normalizeRecoveryCode('ＡＢＣＤ－ＥＦＧＨ－ＪＫＭＮ')).toBe('abcdefghjkmn'); // full-width, via NFKC
    expect(normalizeRecoveryCode('abcd-efgh-ijkl')).toBeUndefined();
    expect(normalizeRecoveryCode('a'.repeat(101))).toBeUndefined();
  });
});
