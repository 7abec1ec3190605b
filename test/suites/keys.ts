import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKekRing, createKeyCache, generateKeyMaterial, kekId, type KekRing } from '../../src/core/index.js';
import { createTenant, envelopeFor, rewrapDataKeys, rotateTenantDataKey, withTenant, type Database, type Tenant } from '../../src/db/index.js';
import type { DbHarness } from './harness.js';

const newKek = () => {
  const key = generateKeyMaterial();
  return { id: kekId(key), key };
};

/** Per-tenant data keys wrapped by the master key; rotation of both layers (DA-2). */
export function keysSuite(harness: DbHarness): void {
  describe(`tenant data keys (${harness.kind})`, () => {
    let db: Database;
    const suiteRing = createKekRing(newKek());
    let a: Tenant;
    let b: Tenant;
    beforeAll(async () => {
      db = await harness.migrated();
      a = await createTenant(db, { slug: 'keys-a', name: 'A' });
      b = await createTenant(db, { slug: 'keys-b', name: 'B' });
    });
    afterAll(() => harness.cleanup());

    const scope = (tenant: Tenant) => ({ tenantId: tenant.id, actor: { type: 'system' as const, id: 'test' } });
    const encrypt = (ring: KekRing, tenant: Tenant, plaintext: string) =>
      withTenant(db, scope(tenant), (trx) => envelopeFor(trx, ring).encrypt({ tenantId: tenant.id, context: 'notes.body', plaintext }));
    const decrypt = (ring: KekRing, tenant: Tenant, ciphertext: string) =>
      withTenant(db, scope(tenant), (trx) => envelopeFor(trx, ring).decryptText({ tenantId: tenant.id, context: 'notes.body', ciphertext }));

    it('DA-2 each tenant gets its own data key; another tenant cannot decrypt', async () => {
      const ring = suiteRing;
      const ciphertext = await encrypt(ring, a, 'alpha');
      expect(ciphertext).not.toContain('alpha');
      expect(await decrypt(ring, a, ciphertext)).toBe('alpha');
      await expect(decrypt(ring, b, ciphertext)).rejects.toThrow(/cannot be decrypted/);
      const keys = await db.owner.selectFrom('tenant_data_keys').select(['tenant_id', 'status']).where('tenant_id', 'in', [a.id, b.id]).execute();
      expect(keys.filter((k) => k.tenant_id === a.id && k.status === 'active')).toHaveLength(1);
    });

    it('DA-2 concurrent first use creates exactly one active key', async () => {
      const ring = suiteRing;
      const tenant = await createTenant(db, { slug: `keys-race-${Date.now()}`, name: 'Race' });
      const ciphertexts = await Promise.all(Array.from({ length: 8 }, (_, i) => encrypt(ring, tenant, `v${i}`)));
      const active = await db.owner.selectFrom('tenant_data_keys').select('id').where('tenant_id', '=', tenant.id).where('status', '=', 'active').execute();
      expect(active).toHaveLength(1);
      expect(await Promise.all(ciphertexts.map((c) => decrypt(ring, tenant, c)))).toEqual(ciphertexts.map((_, i) => `v${i}`));
    });

    it('DA-2 rotating a tenant data key keeps old ciphertexts readable and seals new ones with the new key', async () => {
      const ring = suiteRing;
      const tenant = await createTenant(db, { slug: `keys-rot-${Date.now()}`, name: 'Rot' });
      const before = await encrypt(ring, tenant, 'before');
      const rotated = await withTenant(db, scope(tenant), (trx) => rotateTenantDataKey(trx, ring, tenant.id));
      expect(rotated.retired).not.toBeNull();
      const after = await encrypt(ring, tenant, 'after');
      expect(after.split('.')[1]).toBe(rotated.active);
      expect(before.split('.')[1]).toBe(rotated.retired);
      expect(await decrypt(ring, tenant, before)).toBe('before');
      expect(await decrypt(ring, tenant, after)).toBe('after');
    });

    it('DA-2 master key rotation: re-wrap every data key, then the old master key can go', async () => {
      // Its own database: re-wrapping touches every tenant's keys.
      const ownDb = await harness.migrated();
      const encrypt = (ring: KekRing, tenant: Tenant, plaintext: string) =>
        withTenant(ownDb, scope(tenant), (trx) => envelopeFor(trx, ring).encrypt({ tenantId: tenant.id, context: 'notes.body', plaintext }));
      const decrypt = (ring: KekRing, tenant: Tenant, ciphertext: string) =>
        withTenant(ownDb, scope(tenant), (trx) => envelopeFor(trx, ring).decryptText({ tenantId: tenant.id, context: 'notes.body', ciphertext }));
      const oldKek = newKek();
      const oldRing = createKekRing(oldKek);
      const tenant = await createTenant(ownDb, { slug: 'keys-kek', name: 'Kek' });
      const ciphertext = await encrypt(oldRing, tenant, 'survives');
      const newKey = newKek();
      const transition = createKekRing(newKey, [oldKek]);
      expect(await decrypt(transition, tenant, ciphertext)).toBe('survives');
      const { rewrapped } = await rewrapDataKeys(ownDb, transition);
      expect(rewrapped).toBeGreaterThanOrEqual(1);
      const onlyNew = createKekRing(newKey);
      expect(await decrypt(onlyNew, tenant, ciphertext)).toBe('survives');
      await expect(decrypt(createKekRing(oldKek), tenant, ciphertext)).rejects.toThrow(/not loaded/);
    });

    it('DA-2 the key cache is per envelope input and never crosses tenants', async () => {
      const ring = suiteRing;
      const cache = createKeyCache();
      const cA = await withTenant(db, scope(a), (trx) => envelopeFor(trx, ring, cache).encrypt({ tenantId: a.id, context: 'x', plaintext: 'p' }));
      await expect(withTenant(db, scope(b), (trx) => envelopeFor(trx, ring, cache).decrypt({ tenantId: b.id, context: 'x', ciphertext: cA }))).rejects.toThrow();
    });
  });
}
