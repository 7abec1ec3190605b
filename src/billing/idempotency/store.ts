import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { canonicalJson } from '../../audit/index.js';
import { RampartError } from '../../core/index.js';
import { safeJson } from '../money/index.js';
import type { BillingTrx } from '../types.js';

/**
 * Idempotency-Key (BI-2), reusable by any operation that moves money or creates a billable object.
 *
 * The key row is written in the same transaction as the operation and its stored response, so:
 * - same key, same body -> the stored response, and the operation does not run again;
 * - same key, different body (or another endpoint) -> 409, nothing runs;
 * - two concurrent requests with one key: the second INSERT waits on the first's uncommitted row
 *   (a unique-index wait in PostgreSQL), then sees it and replays its response; if the first
 *   rolled back, the second runs as if it were first. No window where both run.
 * - keys live 24 hours; an expired key is taken over by the next request that uses it.
 */

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const KEY = /^[A-Za-z0-9_:.-]{8,255}$/;

export type StoredResponse = { status: number; body: unknown; replayed: boolean };

export function requireIdempotencyKey(header: unknown): string {
  const key = Array.isArray(header) ? undefined : header;
  if (typeof key !== 'string' || !KEY.test(key)) {
    throw new RampartError('validation_failed', {
      detail: 'an Idempotency-Key header (8-255 characters: letters, digits, _ : . -) is required on this endpoint',
      issues: [{ in: 'headers', pointer: '/idempotency-key', message: '8-255 characters of A-Z a-z 0-9 _ : . -' }],
    });
  }
  return key;
}

export const requestHash = (scope: string, body: unknown): string => createHash('sha256').update(scope).update('\n').update(canonicalJson(body ?? null)).digest('hex');

export async function idempotent(
  trx: BillingTrx,
  input: { tenantId: string; key: string; scope: string; body: unknown; now: Date },
  run: () => Promise<{ status: number; body: unknown }>,
): Promise<StoredResponse> {
  const hash = requestHash(input.scope, input.body);
  const expires = new Date(input.now.getTime() + IDEMPOTENCY_TTL_MS);
  const { rows } = await sql<{ key: string }>`
    insert into billing_idempotency_keys (tenant_id, key, scope, request_hash, created_at, expires_at)
    values (${input.tenantId}, ${input.key}, ${input.scope}, ${hash}, ${input.now}, ${expires})
    on conflict (tenant_id, key) do update
      set scope = excluded.scope, request_hash = excluded.request_hash, response_status = null, response_body = null,
          created_at = excluded.created_at, expires_at = excluded.expires_at
      where billing_idempotency_keys.expires_at <= ${input.now}
    returning key`.execute(trx);
  if (rows.length === 0) {
    const stored = await trx.selectFrom('billing_idempotency_keys').selectAll().where('key', '=', input.key).executeTakeFirstOrThrow();
    if (stored.scope !== input.scope || stored.request_hash !== hash) {
      throw new RampartError('conflict', { detail: 'this Idempotency-Key was used with a different request; use a new key', extensions: { reason: 'idempotency_key_reused' } });
    }
    return { status: stored.response_status ?? 200, body: stored.response_body, replayed: true };
  }
  const result = await run();
  // The caller gets exactly what a replay will get: bigint already turned into strings.
  const serialized = safeJson(result.body ?? null);
  await trx
    .updateTable('billing_idempotency_keys')
    .set({ response_status: result.status, response_body: serialized })
    .where('key', '=', input.key)
    .execute();
  return { status: result.status, body: JSON.parse(serialized) as unknown, replayed: false };
}

/** Drops expired keys (system maintenance job). */
export async function pruneIdempotencyKeys(trx: BillingTrx, now: Date): Promise<number> {
  const result = await trx.deleteFrom('billing_idempotency_keys').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
