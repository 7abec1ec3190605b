import { sql, type Transaction } from 'kysely';
import {
  createEnvelope,
  generateKeyMaterial,
  RampartError,
  unwrapDataKey,
  uuidv7,
  wrapDataKey,
  type DataKeyStore,
  type Envelope,
  type KekRing,
  type KeyCache,
  type Logger,
  type WrappedDataKey,
} from '../core/index.js';
import type { Database } from './connect.js';
import type { Schema, TenantDataKeysTable } from './schema.js';
import { unsafeAsSystem } from './tenancy.js';

/**
 * Tenant data keys in `tenant_data_keys`, wrapped by the master key (control: DA-2). Reads and
 * writes go through the caller's transaction, so inside `withTenant()` a tenant can only ever load
 * its own keys.
 */

const toWrapped = (row: Pick<TenantDataKeysTable, 'id' | 'kek_id' | 'wrapped'>): WrappedDataKey => ({
  keyId: row.id,
  kekId: row.kek_id,
  wrapped: Buffer.from(row.wrapped),
});

const newKeyId = () => `dk_${uuidv7().replaceAll('-', '')}`;

export function dataKeyStore(trx: Transaction<Schema>, ring: KekRing): DataKeyStore {
  const activeRow = (tenantId: string) =>
    trx.selectFrom('tenant_data_keys').select(['id', 'kek_id', 'wrapped']).where('tenant_id', '=', tenantId).where('status', '=', 'active').executeTakeFirst();
  return {
    async active(tenantId) {
      const existing = await activeRow(tenantId);
      if (existing) return toWrapped(existing);
      const keyId = newKeyId();
      const wrappedKey = wrapDataKey({ ring, tenantId, keyId, key: generateKeyMaterial() });
      // Two first writers race: the partial unique index keeps one active key; the loser re-reads.
      await sql`insert into tenant_data_keys (tenant_id, id, kek_id, wrapped, status)
                values (${tenantId}, ${keyId}, ${wrappedKey.kekId}, ${wrappedKey.wrapped}, 'active')
                on conflict (tenant_id) where status = 'active' do nothing`.execute(trx);
      const row = await activeRow(tenantId);
      if (!row) throw new RampartError('internal', { detail: 'tenant data key could not be created' });
      return toWrapped(row);
    },
    async byId(tenantId, keyId) {
      const row = await trx.selectFrom('tenant_data_keys').select(['id', 'kek_id', 'wrapped']).where('tenant_id', '=', tenantId).where('id', '=', keyId).executeTakeFirst();
      return row ? toWrapped(row) : undefined;
    },
  };
}

export const envelopeFor = (trx: Transaction<Schema>, ring: KekRing, cache?: KeyCache): Envelope =>
  createEnvelope({ ring, store: dataKeyStore(trx, ring), ...(cache ? { cache } : {}) });

/** Retires the tenant's active data key and creates a new one. Old ciphertexts stay readable. */
export async function rotateTenantDataKey(trx: Transaction<Schema>, ring: KekRing, tenantId: string): Promise<{ retired: string | null; active: string }> {
  const retired = await trx
    .updateTable('tenant_data_keys')
    .set({ status: 'retired', retired_at: new Date() })
    .where('tenant_id', '=', tenantId)
    .where('status', '=', 'active')
    .returning('id')
    .executeTakeFirst();
  const active = await dataKeyStore(trx, ring).active(tenantId);
  return { retired: retired?.id ?? null, active: active.keyId };
}

/**
 * After a master-key rotation: re-wraps every data key still wrapped by an older master key.
 * Needs the old key loaded (as `master_key.previous`) until this has run. System work.
 */
export async function rewrapDataKeys(db: Database, ring: KekRing, log?: Logger): Promise<{ rewrapped: number }> {
  return unsafeAsSystem(db, { reason: 'master key rotation re-wraps every tenant key', ...(log ? { log } : {}) }, async (trx) => {
    const stale = await trx.selectFrom('tenant_data_keys').select(['tenant_id', 'id', 'kek_id', 'wrapped']).where('kek_id', '!=', ring.current.id).forUpdate().execute();
    for (const row of stale) {
      const key = unwrapDataKey({ ring, tenantId: row.tenant_id, wrappedKey: toWrapped(row) });
      const rewrapped = wrapDataKey({ ring, tenantId: row.tenant_id, keyId: row.id, key });
      await trx.updateTable('tenant_data_keys').set({ kek_id: rewrapped.kekId, wrapped: rewrapped.wrapped }).where('id', '=', row.id).execute();
    }
    return { rewrapped: stale.length };
  });
}
