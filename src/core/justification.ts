import { RampartError } from './errors.js';

/** AZ-5: admin actions carry a reason a reviewer can read. One rule for the pipeline and services. */
export const MIN_JUSTIFICATION = 10;

export function requireJustification(justification: unknown): string {
  const text = typeof justification === 'string' ? justification.trim() : '';
  if (text.length < MIN_JUSTIFICATION) {
    throw new RampartError('validation_failed', {
      detail: `a justification of at least ${MIN_JUSTIFICATION} characters is required for this change`,
      issues: [{ in: 'body', pointer: '/justification', message: `at least ${MIN_JUSTIFICATION} characters explaining why` }],
    });
  }
  return text;
}
