import { createHash, randomBytes } from 'node:crypto';
import { isUuid } from '../../core/index.js';

/**
 * Session tokens: `rs1.<tenant uuid>.<32 random bytes, base64url>`. Only the SHA-256 of the whole
 * token is stored, so a database leak yields no usable session. The tenant id in the clear lets the
 * lookup run inside `withTenant()` (RLS confines it to that tenant) instead of a cross-tenant owner
 * query on every request: a token whose tenant part was edited is simply not found there.
 */
const TOKEN = /^rs1\.([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/;

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

export const randomToken = (): string => randomBytes(32).toString('base64url');

export const newSessionToken = (tenantId: string): string => `rs1.${tenantId}.${randomToken()}`;

export function parseSessionToken(token: unknown): { tenantId: string } | undefined {
  if (typeof token !== 'string' || token.length > 100) return undefined;
  const match = TOKEN.exec(token);
  if (!match || !isUuid(match[1]!)) return undefined;
  return { tenantId: match[1]! };
}
