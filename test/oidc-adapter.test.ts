import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../src/core/index.js';
import type { Database } from '../src/db/index.js';
import { createAdapterFactory, purgeExpiredPayloads } from '../src/identity/oidc/adapter.js';
import { testDatabase } from './support/rampart.js';

/**
 * ID-1 at the storage layer: the provider checks `consumed` before consuming, so two requests racing
 * with one refresh token both pass that check; only the store can tell the second one it lost. (On
 * the embedded database requests serialize and the race cannot be provoked over HTTP; the
 * PostgreSQL suite races real requests on two nodes, test/services/oidc.test.ts.)
 */

let db: Database | undefined;
afterEach(async () => db?.close());

const factory = (database: Database) => createAdapterFactory({ db: database, clock: systemClock, findClient: async () => undefined, retentionSeconds: 3600 });

/** Every order of two sequences that keeps each one's own order. */
function interleavings<T>(a: T[], b: T[]): T[][] {
  if (!a.length) return [b];
  if (!b.length) return [a];
  return [...interleavings(a.slice(1), b).map((rest) => [a[0]!, ...rest]), ...interleavings(a, b.slice(1)).map((rest) => [b[0]!, ...rest])];
}

describe('ID-1 OIDC store', () => {
  it('a second consume of the same refresh token fails and revokes every artifact of its grant; ids are stored hashed', async () => {
    db = await testDatabase();
    const adapter = factory(db);
    const refresh = adapter('RefreshToken');
    const access = adapter('AccessToken');
    await adapter('Grant').upsert('g1', { jti: 'g1', accountId: 'a' }, 600);
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
    expect(await adapter('Grant').find('g1')).toBeUndefined();
    expect(await access.find('other-grant-token')).toBeDefined();
  });

  it('ID-1 a refresh race in every order of its steps: the winner’s new tokens and the grant are dead once the loser revoked', async () => {
    db = await testDatabase();
    const adapter = factory(db);
    const [grant, refresh, access] = [adapter('Grant'), adapter('RefreshToken'), adapter('AccessToken')];
    type Step = { name: string; run: (g: string) => Promise<unknown> };
    // The winner stamped the old token first; it then writes its new tokens. The loser's consume
    // finds the stamp and revokes; the provider's replay path revokes per model instead.
    const winner: Step[] = [
      { name: 'save refresh', run: (g) => refresh.upsert(`${g}-rt2`, { grantId: g, accountId: 'a' }, 600) },
      { name: 'save access', run: (g) => access.upsert(`${g}-at2`, { grantId: g, accountId: 'a' }, 600) },
    ];
    const losers: Step[][] = [
      [{ name: 'consume again', run: (g) => refresh.consume(`${g}-rt1`) }],
      [
        { name: 'revoke refresh tokens', run: (g) => refresh.revokeByGrantId(g) },
        { name: 'revoke access tokens', run: (g) => access.revokeByGrantId(g) },
        { name: 'destroy grant', run: (g) => grant.destroy(g) },
      ],
    ];
    let orders = 0;
    for (const loser of losers) {
      for (const order of interleavings(winner, loser)) {
        const g = `grant-${orders++}`;
        await grant.upsert(g, { jti: g, accountId: 'a' }, 600);
        await refresh.upsert(`${g}-rt1`, { grantId: g, accountId: 'a' }, 600);
        await refresh.consume(`${g}-rt1`);
        for (const step of order) await step.run(g).catch((error: { error?: string }) => expect(error.error, step.name).toBe('invalid_grant'));
        const label = order.map((s) => s.name).join(' -> ');
        expect(await refresh.find(`${g}-rt2`), label).toBeUndefined();
        expect(await access.find(`${g}-at2`), label).toBeUndefined();
        expect(await grant.find(g), label).toBeUndefined();
      }
    }
    expect(orders).toBe(3 + 10);
    // A save after the revocation is refused outright; the purge removes anything left behind.
    await expect(access.upsert('late', { grantId: 'grant-0', accountId: 'a' }, 600)).rejects.toMatchObject({ error: 'invalid_grant' });
    await purgeExpiredPayloads(db, new Date());
    expect(await db.owner.selectFrom('oidc_payloads').select('grant_id').where('grant_id', 'like', 'grant-%').execute()).toEqual([]);
    // A revocation is remembered for its retention (here an hour), then forgotten.
    expect(await db.owner.selectFrom('oidc_revoked_grants').select('grant_id').execute()).toHaveLength(orders);
    await purgeExpiredPayloads(db, new Date(Date.now() + 2 * 3600 * 1000));
    expect(await db.owner.selectFrom('oidc_revoked_grants').select('grant_id').execute()).toEqual([]);
  });

  it('ID-1 an interaction of a revoked grant is still found (logout-and-resume needs it)', async () => {
    db = await testDatabase();
    const adapter = factory(db);
    await adapter('Interaction').upsert('i1', { grantId: 'g9', uid: 'i1' }, 600);
    await adapter('AccessToken').revokeByGrantId('g9');
    expect(await adapter('Interaction').find('i1')).toBeDefined();
  });
});
