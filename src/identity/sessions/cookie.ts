/**
 * The session cookie (control ID-6). `__Host-` makes the browser refuse it unless it is Secure,
 * has Path=/ and no Domain: a sibling subdomain cannot set or overwrite it (cookie tossing).
 * HttpOnly keeps it from scripts (XSS cannot read it), SameSite=Strict keeps it off cross-site
 * requests (CSRF).
 */
export const SESSION_COOKIE = '__Host-rampart_session';

const ATTRIBUTES = 'Path=/; HttpOnly; Secure; SameSite=Strict';
const VALUE = /^[A-Za-z0-9._-]{1,200}$/;

export function sessionCookie(token: string, maxAgeSeconds: number): string {
  if (!VALUE.test(token)) throw new Error('session token has characters a cookie cannot carry');
  if (!Number.isSafeInteger(maxAgeSeconds) || maxAgeSeconds < 0) throw new Error('maxAgeSeconds must be a non-negative integer');
  return `${SESSION_COOKIE}=${token}; Max-Age=${maxAgeSeconds}; ${ATTRIBUTES}`;
}

export const clearSessionCookie = (): string => `${SESSION_COOKIE}=; Max-Age=0; ${ATTRIBUTES}`;

/**
 * The session token from a `Cookie` header, or undefined. Two cookies of that name are refused
 * (undefined): a browser never sends two `__Host-` cookies of one name for one host, so two means
 * someone is injecting one.
 */
export function readSessionCookie(header: string | string[] | undefined): string | undefined {
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (!text || text.length > 8192) return undefined;
  const values = text
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${SESSION_COOKIE}=`))
    .map((part) => part.slice(SESSION_COOKIE.length + 1));
  if (values.length !== 1) return undefined;
  const value = values[0]!;
  return VALUE.test(value) ? value : undefined;
}
