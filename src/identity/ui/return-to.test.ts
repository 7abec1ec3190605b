import { describe, expect, it } from 'vitest';
import { RETURN_TO_MAX_LENGTH, safeReturnTo } from './return-to.js';

describe('safeReturnTo (open-redirect defence for the login page)', () => {
  it.each([
    ['/account/acme'],
    ['/oidc/interaction/AbC123_-x'],
    ['/'],
    ['/a/b?c=d&e=%20f#frag'],
    ['/path/with/ünïcode'],
  ])('accepts the same-origin path %s', (value) => {
    expect(safeReturnTo(value)).toBe(value);
  });

  it.each([
    ['protocol-relative', '//evil.com'],
    ['protocol-relative with path', '//evil.com/login'],
    ['backslash host', '/\\evil.com'],
    ['backslash later', '/ok\\..\\evil'],
    ['absolute https', 'https://evil'],
    ['absolute http', 'http://evil.com/'],
    ['javascript scheme', 'javascript:alert(1)'],
    ['data scheme', 'data:text/html,<script>alert(1)</script>'],
    ['encoded slashes, undecoded', '%2F%2Fevil'],
    ['encoded slashes after the first', '/%2F%2Fevil.com'],
    ['encoded backslash', '/%5cevil.com'],
    ['tab', '/\t/evil.com'],
    ['newline', '/\n/evil.com'],
    ['carriage return', '/\r/evil.com'],
    ['NUL', '/a\u0000b'],
    ['C1 control', '/a\u0085b'],
    ['line separator', '/a\u2028b'],
    ['relative without slash', 'evil.com'],
    ['leading space', ' /account'],
    ['empty', ''],
    ['too long', '/' + 'a'.repeat(RETURN_TO_MAX_LENGTH)],
  ])('refuses %s', (_name, value) => {
    expect(safeReturnTo(value)).toBeUndefined();
  });

  it('refuses anything that is not a string', () => {
    for (const value of [undefined, null, 42, ['/a'], { toString: () => '/a' }]) expect(safeReturnTo(value)).toBeUndefined();
  });

  it('accepts exactly the maximum length', () => {
    const longest = '/' + 'a'.repeat(RETURN_TO_MAX_LENGTH - 1);
    expect(safeReturnTo(longest)).toBe(longest);
  });
});
