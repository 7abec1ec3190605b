import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../src/core/index.js';
import type { Database } from '../src/db/index.js';
import { createAdapterFactory } from '../src/identity/oidc/adapter.js';
import { testDatabase } from './support/rampart.js';

/**
 * ID-1 at the storage layer: the provider checks `consumed` before consuming, so two requests racing
 * with one refresh token both pass that check; only the store can tell the second one it lost. (On
 * the embedded database requests serialize and the race cannot be provoked over HTTP.)
 */

let db: Database | undefined;
afterEach(async () => db?.close());

describe('ID-1 OIDC store', () => {
  it('a second consume of the same refresh token fails and revokes every artifact of its grant; ids are stored hashed', async () => {
    db = await testDatabase();
    const adapter = createAdapterFactory({ db, clock: systemClock, findClient: async () => undefined });
    const refresh = adapter('RefreshToken');
    const access = adapter('AccessToken');
    await refresh.upsert('rt-secret-value', { grantId: 'g1', accountId: 'a' }, 600);
    await access.upsert('at-secret-value', { grantId: 'g1', accountId: 'a' }, 600);
    await access.upsert('other-grant-token', { grantId: 'g2', accountId: 'a' }, 600);
    const stored = JSON.stringify(await db.owner.selectFrom('oidc_payloads').select(['id_hash']).execute());
    expect(stored).not.toContain('rt-secret-value');

    await refresh.consume('rt-secret-value');
    expect((await refresh.find('rt-secret-value'))?.consumed).toBeTypeOf('number');
    await expect(refresh.consume('rt-secret-value')).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await refresh.find('rt-secret-value')).toBeUndefined();
    expect(await access.find('at-secret-value')).toBeUndefined();
    expect(await access.find('other-grant-token')).toBeDefined();
  });
});
