import { openWithMasterKey, RampartError, sealWithMasterKey, type KekRing } from '../../core/index.js';

/**
 * List cursors (AZ-3, DA-1): opaque, sealed with AES-256-GCM under the platform master key, so a
 * caller can neither read the position they hold nor forge one. The authenticated data binds a
 * cursor to its tenant, resource, caller and sort order: a cursor altered, replayed by another
 * caller or another tenant, or used with another sort is refused with 400 `cursor_invalid`.
 *
 * A cursor holds the sort value and id of a row the list has already passed. Normally that is the
 * last row returned; when a page stops at the scan bound it is the last row checked, and sealing
 * is what keeps that row's values from the caller.
 */

export type CursorBinding = { ring: KekRing; tenantId: string; type: string; principalId: string; sort: string };
export type Position = { value: string; id: string };

const PREFIX = 'c1';
const CONTEXT = 'list-cursor';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const bindingId = (binding: CursorBinding) => JSON.stringify([binding.tenantId, binding.type, binding.principalId, binding.sort]);

/** `value` is the sort column as Postgres prints it (full precision); the keyset query casts it back. */
export function sealCursor(binding: CursorBinding, value: string, id: string): string {
  const sealed = sealWithMasterKey({ ring: binding.ring, context: CONTEXT, id: bindingId(binding), plaintext: JSON.stringify([value, id]) });
  return `${PREFIX}.${sealed.kekId}.${sealed.ciphertext}`;
}

export const cursorInvalid = () =>
  new RampartError('validation_failed', {
    detail: 'query /cursor: is not a cursor of this list and sort order',
    issues: [{ in: 'query', pointer: '/cursor', message: 'is not a cursor of this list and sort order' }],
    extensions: { reason: 'cursor_invalid' },
  });

export function openCursor(binding: CursorBinding, cursor: string): Position {
  const [prefix, kekId, ciphertext, ...rest] = cursor.split('.');
  // A cursor sealed under a master key that has since been retired is as unusable as a forged one.
  if (prefix !== PREFIX || !kekId || !ciphertext || rest.length || !binding.ring.byId.has(kekId)) throw cursorInvalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(openWithMasterKey({ ring: binding.ring, context: CONTEXT, id: bindingId(binding), kekId, ciphertext }).toString('utf8'));
  } catch {
    throw cursorInvalid();
  }
  if (!Array.isArray(decoded) || decoded.length !== 2) throw cursorInvalid();
  const [value, id] = decoded as unknown[];
  if (typeof value !== 'string' || typeof id !== 'string' || !UUID.test(id)) throw cursorInvalid();
  return { value, id };
}
