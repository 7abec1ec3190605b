import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MIN_JUSTIFICATION, requireJustification } from './justification.js';

/** Characters a reader does not see as words: zero-width, format, control, whitespace, punctuation, symbols. */
const INVISIBLE = ['\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u2060', '\ufeff', '\u00ad', '\u202e', '\u0000', '\u0007', '\t', '\n', ' ', '\u00a0', '\u3000'];
const PUNCTUATION = [...'.,;:!?-_()[]{}\'"/\\*&#@%…—–«»¡¿', '+', '=', '~', '^', '|', '<', '>', '$', '€', '©'];
const filler = fc.constantFrom(...INVISIBLE, ...PUNCTUATION);
const visible = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCXYZ0123456789éßжü中文한글');

const refused = (text: string) => {
  try {
    requireJustification(text);
    return false;
  } catch (error) {
    return (error as { code?: string }).code === 'validation_failed';
  }
};

/** Interleaves the visible characters with any amount of filler around and between them. */
const padded = (letters: fc.Arbitrary<string[]>) =>
  fc.tuple(letters, fc.array(fc.array(filler, { maxLength: 6 }), { minLength: 40, maxLength: 40 })).map(([chars, fills]) => chars.map((c, i) => fills[i]!.join('') + c).join('') + fills[39]!.join(''));

describe('AZ-5 a justification must contain visible text', () => {
  it('AZ-5 fewer than the minimum letters or digits are refused, whatever invisible characters, whitespace or punctuation surround them', () => {
    fc.assert(fc.property(padded(fc.array(visible, { maxLength: MIN_JUSTIFICATION - 1 })), (text) => refused(text)), { numRuns: 500 });
  });

  it('AZ-5 the minimum of letters or digits passes, however they are padded', () => {
    fc.assert(fc.property(padded(fc.array(visible, { minLength: MIN_JUSTIFICATION, maxLength: 39 })), (text) => !refused(text)), { numRuns: 500 });
  });

  it('AZ-5 known evasions are refused; ordinary reasons pass', () => {
    for (const text of ['\u200b'.repeat(20), '..........', '- - - - - - - -', '!!!!!!!!!!!!!!!!', '\ufeff\u2060\u200d\u200c\u200e\u200f'.repeat(3), 'ok\u200b\u200b\u200b\u200b\u200b\u200b\u200b\u200b', '€€€€€€€€€€€€']) {
      expect(refused(text), JSON.stringify(text)).toBe(true);
    }
    for (const text of ['rotating a leaked credential', 'ticket 4711 requested', 'Kunde bittet um Änderung', '客户要求更改权限设置以便审计']) {
      expect(requireJustification(`  ${text} `)).toBe(text);
    }
  });
});
