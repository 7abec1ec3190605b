/**
 * Where a finished sign-in may send the browser (open-redirect defence). Only a same-origin
 * relative path is accepted: it starts with exactly one `/`, never `//` or `/\` (browsers read
 * both as "another host"), carries no scheme, no control or invisible line-break characters
 * (browsers strip tabs and newlines from URLs, turning `/\t/evil.com` into `//evil.com`), no
 * backslash and no percent-encoded slash or backslash (a server that decodes and redirects again
 * would turn `/%2F%2Fevil.com` into `//evil.com`), and is at most 2048 characters.
 * Anything else yields undefined and the caller falls back to its own page.
 */
export const RETURN_TO_MAX_LENGTH = 2048;

const ORIGIN = 'https://rampart.invalid';

/** C0 controls (tab, CR, LF…), DEL, C1 controls, and the Unicode line/paragraph separators. */
const isControl = (code: number) => code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
const hasControl = (value: string) => [...value].some((char) => isControl(char.codePointAt(0)!));

export function safeReturnTo(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > RETURN_TO_MAX_LENGTH) return undefined;
  if (value[0] !== '/' || value[1] === '/' || value[1] === '\\') return undefined;
  if (hasControl(value) || value.includes('\\') || /%(?:2f|5c)/i.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value, ORIGIN);
  } catch {
    return undefined;
  }
  // Belt and braces: whatever the checks above missed, the URL parser must keep it on our origin.
  return url.origin === ORIGIN ? value : undefined;
}
