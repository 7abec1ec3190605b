import { sql } from 'kysely';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { sha256Hex, type Clock } from '../../core/index.js';
import type { Database } from '../../db/index.js';

/**
 * oidc-provider's storage on Rampart's own database (PGlite embedded, PostgreSQL scaled out), so
 * every node of a cluster sees the same codes, tokens, grants and sessions (control ID-1).
 *
 * Rows are keyed by the SHA-256 of the artifact id: for opaque access and refresh tokens and for
 * authorization codes the id *is* the credential, so a leaked table or backup must not hold it.
 * The provider runs as the owner role; the table is closed to the app role (see migration 6).
 * Clients are not stored here: `Client` lookups go to the client registry (`clients.ts`).
 */

export type ClientLookup = (clientId: string) => Promise<AdapterPayload | undefined>;

const hashId = (id: string) => sha256Hex(`oidc:${id}`);
/** Values compared in SQL as they are (not hashed) must be plain text a column can hold. */
const isLookupKey = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= 256 && !value.includes('\u0000');

export function createAdapterFactory({ db, clock, findClient }: { db: Database; clock: Clock; findClient: ClientLookup }): (name: string) => Adapter {
  const live = (expiresAt: Date | null) => expiresAt === null || expiresAt > clock.now();

  const toPayload = (row: { payload: Record<string, unknown>; consumed_at: Date | null; expires_at: Date | null } | undefined): AdapterPayload | undefined => {
    if (!row || !live(row.expires_at)) return undefined;
    const payload = { ...(row.payload as AdapterPayload) };
    if (row.consumed_at) payload.consumed = Math.floor(row.consumed_at.getTime() / 1000);
    return payload;
  };

  return (kind: string): Adapter => {
    if (kind === 'Client') {
      return {
        upsert: async () => {
          throw new Error('clients are registered through the Rampart admin API, not dynamic registration');
        },
        find: (id: string) => findClient(id),
        findByUserCode: async () => undefined,
        findByUid: async () => undefined,
        consume: async () => undefined,
        destroy: async () => undefined,
        revokeByGrantId: async () => undefined,
      };
    }
    const select = () => db.owner.selectFrom('oidc_payloads').select(['payload', 'consumed_at', 'expires_at']).where('kind', '=', kind);
    return {
      async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
        const expiresAt = expiresIn ? new Date(clock.now().getTime() + expiresIn * 1000) : null;
        // Request parameters (state, nonce, login_hint, …) travel into the payload as they came.
        // jsonb cannot hold U+0000: refused here as a bad request, not a database error (a 500).
        let hasNul = false;
        const json = JSON.stringify(payload, (key, value: unknown) => {
          if (key.includes('\u0000') || (typeof value === 'string' && value.includes('\u0000'))) hasNul = true;
          return value;
        });
        if (hasNul) throw new errors.InvalidRequest('request parameters must not contain NUL characters');
        const values = {
          kind,
          id_hash: hashId(id),
          payload: json,
          grant_id: typeof payload.grantId === 'string' ? payload.grantId : null,
          uid: typeof payload.uid === 'string' ? payload.uid : null,
          user_code: typeof payload.userCode === 'string' ? payload.userCode : null,
          expires_at: expiresAt,
        };
        await db.owner
          .insertInto('oidc_payloads')
          .values(values)
          .onConflict((oc) => oc.columns(['kind', 'id_hash']).doUpdateSet({ payload: values.payload, grant_id: values.grant_id, uid: values.uid, user_code: values.user_code, expires_at: values.expires_at }))
          .execute();
      },
      find: async (id: string) => toPayload(await select().where('id_hash', '=', hashId(id)).executeTakeFirst()),
      findByUid: async (uid: string) => (isLookupKey(uid) ? toPayload(await select().where('uid', '=', uid).executeTakeFirst()) : undefined),
      findByUserCode: async (userCode: string) => (isLookupKey(userCode) ? toPayload(await select().where('user_code', '=', userCode).executeTakeFirst()) : undefined),
      async consume(id: string) {
        // Only the first consumer stamps the row. The provider checks `consumed` before it calls
        // this, but two requests racing with the same code or refresh token both pass that check;
        // the loser finds the row already stamped and is treated as a replay: the whole grant is
        // revoked and the request fails (ID-1 reuse detection holds under concurrency).
        const result = await db.owner.updateTable('oidc_payloads').set({ consumed_at: clock.now() }).where('kind', '=', kind).where('id_hash', '=', hashId(id)).where('consumed_at', 'is', null).returning('grant_id').executeTakeFirst();
        if (result) return;
        const row = await db.owner.selectFrom('oidc_payloads').select('grant_id').where('kind', '=', kind).where('id_hash', '=', hashId(id)).executeTakeFirst();
        if (row?.grant_id) await db.owner.deleteFrom('oidc_payloads').where('grant_id', '=', row.grant_id).execute();
        throw new errors.InvalidGrant(`${kind === 'RefreshToken' ? 'refresh token' : 'grant'} already used`);
      },
      async destroy(id: string) {
        await db.owner.deleteFrom('oidc_payloads').where('kind', '=', kind).where('id_hash', '=', hashId(id)).execute();
      },
      async revokeByGrantId(grantId: string) {
        // The provider calls this once per token model. Only that model's rows go: an Interaction
        // carries the grant id too, and deleting it broke the provider's "another user signed in on
        // this browser" logout-and-resume ("interaction session not found").
        await db.owner.deleteFrom('oidc_payloads').where('kind', '=', kind).where('grant_id', '=', grantId).execute();
      },
    };
  };
}

/** Deletes expired protocol state; the purge job calls it. Returns the number of rows removed. */
export async function purgeExpiredPayloads(db: Database, now: Date): Promise<number> {
  const result = await sql`delete from oidc_payloads where expires_at is not null and expires_at < ${now}`.execute(db.owner);
  return Number(result.numAffectedRows ?? 0n);
}

/**
 * Everything the provider holds for one user: grants, codes, access and refresh tokens, provider
 * sessions ("sign out everywhere", ID-6). Returns the number of rows removed.
 */
export async function revokeAccountPayloads(db: Database, accountId: string): Promise<number> {
  const result = await sql`delete from oidc_payloads where payload->>'accountId' = ${accountId}`.execute(db.owner);
  return Number(result.numAffectedRows ?? 0n);
}
