import { RampartError } from './errors.js';

/**
 * AZ-5: admin actions carry a reason a reviewer can read. One rule for the pipeline and services.
 *
 * Only visible words count toward the minimum: letters and digits (any script). Whitespace,
 * punctuation, symbols, and format and control characters (zero-width spaces and joiners, U+2060,
 * the BOM U+FEFF, bidi controls, NUL) count for nothing, so ten zero-width spaces, "..........",
 * or "- - - - - -" do not pass as a reason.
 */
export const MIN_JUSTIFICATION = 10;

const VISIBLE = /[\p{L}\p{N}]/gu;

/** How many characters of `text` a reviewer would read as words: letters and digits only. */
export const visibleLength = (text: string): number => text.match(VISIBLE)?.length ?? 0;

export function requireJustification(justification: unknown): string {
  const text = typeof justification === 'string' ? justification.trim() : '';
  if (visibleLength(text) < MIN_JUSTIFICATION) {
    throw new RampartError('validation_failed', {
      detail: `a justification of at least ${MIN_JUSTIFICATION} letters or digits is required for this change`,
      issues: [{ in: 'body', pointer: '/justification', message: `at least ${MIN_JUSTIFICATION} characters explaining why` }],
    });
  }
  return text;
}
