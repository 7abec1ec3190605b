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

/**
 * Kinds whose existence lets a client in, and so die with their grant (ID-1). An Interaction
 * carries a grant id too but grants nothing: the provider's "another user signed in on this
 * browser" logout-and-resume must still find it after that grant is revoked.
 */
const GRANT_BOUND = new Set(['Grant', 'AuthorizationCode', 'AccessToken', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

/**
 * How long a revocation is remembered: longer than anything issued under the grant can live (a
 * refresh-token chain, capped by its TTL; an access token), plus an hour for requests in flight.
 */
export const revocationRetentionSeconds = ({ refreshTokenTtlSeconds, accessTokenTtlSeconds }: { refreshTokenTtlSeconds: number; accessTokenTtlSeconds: number }) =>
  Math.max(refreshTokenTtlSeconds, accessTokenTtlSeconds) + 3600;

type Revocation = { db: Database; now: Date; retentionSeconds: number };

/**
 * Records grants as revoked. Written before their rows are deleted, and checked by every lookup and
 * save, so a request that writes under the grant after the delete (the winner of a refresh race)
 * still writes dead tokens: the order of the racing requests cannot matter.
 */
async function recordRevoked({ db, now, retentionSeconds }: Revocation, grantIds: string[]): Promise<void> {
  const ids = [...new Set(grantIds.filter(isLookupKey))];
  if (!ids.length) return;
  const expiresAt = new Date(now.getTime() + retentionSeconds * 1000);
  await db.owner
    .insertInto('oidc_revoked_grants')
    .values(ids.map((grant_id) => ({ grant_id, expires_at: expiresAt })))
    .onConflict((oc) => oc.column('grant_id').doNothing())
    .execute();
}

export function createAdapterFactory({ db, clock, findClient, retentionSeconds }: { db: Database; clock: Clock; findClient: ClientLookup; retentionSeconds: number }): (name: string) => Adapter {
  const live = (expiresAt: Date | null) => expiresAt === null || expiresAt > clock.now();
  const revoke = (grantIds: string[]) => recordRevoked({ db, now: clock.now(), retentionSeconds }, grantIds);

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
    const isGrantBound = GRANT_BOUND.has(kind);
    const select = () => {
      const query = db.owner.selectFrom('oidc_payloads').select(['payload', 'consumed_at', 'expires_at']).where('kind', '=', kind);
      // ID-1: nothing of a revoked grant is found, whenever it was written.
      return isGrantBound
        ? query.where(({ not, exists, selectFrom }) => not(exists(selectFrom('oidc_revoked_grants').select('oidc_revoked_grants.grant_id').whereRef('oidc_revoked_grants.grant_id', '=', 'oidc_payloads.grant_id'))))
        : query;
    };
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
        // A grant row carries its own id, everything else the grant it was issued under.
        const grantId = kind === 'Grant' ? id : typeof payload.grantId === 'string' ? payload.grantId : null;
        const uid = typeof payload.uid === 'string' ? payload.uid : null;
        const userCode = typeof payload.userCode === 'string' ? payload.userCode : null;
        const guard = isGrantBound ? grantId : null;
        // ID-1: one statement that writes only while the grant is not revoked. (A revocation that
        // commits after this check still wins: lookups check again.)
        const result = await sql`
          insert into oidc_payloads (kind, id_hash, payload, grant_id, uid, user_code, expires_at)
          select ${kind}::text, ${hashId(id)}::text, ${json}::jsonb, ${grantId}::text, ${uid}::text, ${userCode}::text, ${expiresAt}::timestamptz
          where not exists (select 1 from oidc_revoked_grants where grant_id = ${guard}::text)
          on conflict (kind, id_hash) do update set payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid, user_code = excluded.user_code, expires_at = excluded.expires_at`.execute(db.owner);
        if (Number(result.numAffectedRows ?? 0n) === 0) throw new errors.InvalidGrant('grant revoked');
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
        if (row?.grant_id) {
          await revoke([row.grant_id]);
          await db.owner.deleteFrom('oidc_payloads').where('grant_id', '=', row.grant_id).execute();
        }
        throw new errors.InvalidGrant(`${kind === 'RefreshToken' ? 'refresh token' : 'grant'} already used`);
      },
      async destroy(id: string) {
        // A destroyed grant is a revoked one: whatever is issued under it later is dead on arrival.
        if (kind === 'Grant') await revoke([id]);
        await db.owner.deleteFrom('oidc_payloads').where('kind', '=', kind).where('id_hash', '=', hashId(id)).execute();
      },
      async revokeByGrantId(grantId: string) {
        await revoke([grantId]);
        // The provider calls this once per token model. Only that model's rows go: an Interaction
        // carries the grant id too, and deleting it broke the provider's "another user signed in on
        // this browser" logout-and-resume ("interaction session not found").
        await db.owner.deleteFrom('oidc_payloads').where('kind', '=', kind).where('grant_id', '=', grantId).execute();
      },
    };
  };
}

/**
 * Deletes expired protocol state, what is left of revoked grants (rows a racing request wrote
 * after the revocation; lookups already ignore them) and revocations past their retention. The
 * purge job calls it. Returns the number of rows removed.
 */
export async function purgeExpiredPayloads(db: Database, now: Date): Promise<number> {
  const expired = await sql`delete from oidc_payloads where expires_at is not null and expires_at < ${now}`.execute(db.owner);
  const revoked = await sql`delete from oidc_payloads p where p.grant_id is not null and p.kind <> 'Interaction' and exists (select 1 from oidc_revoked_grants r where r.grant_id = p.grant_id)`.execute(db.owner);
  const forgotten = await sql`delete from oidc_revoked_grants where expires_at < ${now}`.execute(db.owner);
  return [expired, revoked, forgotten].reduce((sum, result) => sum + Number(result.numAffectedRows ?? 0n), 0);
}

/**
 * Everything the provider holds for one user ("sign out everywhere", ID-6) or one client (deleted):
 * grants, codes, access and refresh tokens, and for a user the provider sessions. The grants are
 * recorded as revoked first, so a refresh in flight cannot bring one back. Returns the number of
 * rows removed.
 */
export async function revokePayloadsOf({ db, now, retentionSeconds }: Revocation, owner: { accountId: string } | { clientId: string }): Promise<number> {
  const [field, value] = 'accountId' in owner ? ['accountId', owner.accountId] : ['clientId', owner.clientId];
  const grants = await sql<{ grant_id: string }>`select distinct grant_id from oidc_payloads where payload->>${field} = ${value} and grant_id is not null and kind <> 'Interaction'`.execute(db.owner);
  await recordRevoked({ db, now, retentionSeconds }, grants.rows.map((row) => row.grant_id));
  const result = await sql`delete from oidc_payloads where payload->>${field} = ${value}`.execute(db.owner);
  return Number(result.numAffectedRows ?? 0n);
}
