import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { AuditLog } from '../../audit/index.js';
import { openWithMasterKey, RampartError, sealWithMasterKey, type Clock, type KekRing, type Logger } from '../../core/index.js';
import { unsafeAsSystem, type Actor, type Database } from '../../db/index.js';

/**
 * Token signing keys (control ID-3). Each algorithm has at most one `current` key (signs), one
 * `next` key (published in JWKS, never signs) and any number of `retired` keys (published, never
 * sign, removed after `remove_after`). A rotation promotes next -> current and current -> retired,
 * and stages a fresh next key, in one transaction under an advisory lock, so relying parties have
 * had the new key in their JWKS cache for a whole rotation period before the first token it signs
 * reaches them, and tokens signed by the old key verify until they expire. Private halves are
 * sealed under the master key; they exist in the clear only in this process's memory.
 */

export const SIGNING_ALGS = ['ES256', 'RS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];
const CONTEXT = 'oidc_signing_keys.private_jwk';
const ROTATION_LOCK = 0x6f696463; // 'oidc'

export type PrivateJwk = { kid: string; alg: SigningAlg; use: 'sig'; kty: string; key_ops?: string[]; [key: string]: unknown };
export type KeyStatus = 'next' | 'current' | 'retired';
export type SigningKeyView = { kid: string; alg: SigningAlg; status: KeyStatus; createdAt: Date; activatedAt: Date | null; retiredAt: Date | null; removeAfter: Date | null };

export type RotationResult = { activated: string[]; retired: string[]; staged: string[] };

export type SigningKeys = {
  /** Creates missing current/next keys and drops retired keys past their removal time. */
  ensure(): Promise<void>;
  /**
   * Private JWKs in signing order. oidc-provider signs with the first key of an algorithm (its key
   * selection is a stable sort on equally scored keys), so the current key comes first; staged and
   * retired keys follow and are only ever used to verify. The rotation test proves which kid signs.
   */
  load(): Promise<PrivateJwk[]>;
  /** A cheap fingerprint of the key set; nodes compare it to notice a rotation made elsewhere. */
  fingerprint(): Promise<string>;
  list(): Promise<SigningKeyView[]>;
  rotate(input: { actor: Actor; reason: string; context?: { ip?: string; userAgent?: string; deviceId?: string; requestId?: string } }): Promise<RotationResult>;
  /** True when the current key of any algorithm is older than the rotation interval. */
  isRotationDue(): Promise<boolean>;
};

function generate(alg: SigningAlg): PrivateJwk {
  const kid = randomBytes(12).toString('base64url');
  const { privateKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...(privateKey.export({ format: 'jwk' }) as { kty: string }), kid, alg, use: 'sig' };
}

const publicHalf = (jwk: PrivateJwk) => {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, key_ops: _ops, ...pub } = jwk;
  return pub;
};

export function createSigningKeys({ db, ring, audit, clock, log, rotationIntervalSeconds, retiredKeyRetentionSeconds, production = false, retireForeignKeys = !production }: {
  db: Database;
  production?: boolean;
  /**
   * What to do with keys sealed under a master key this process does not hold. Refused (an error
   * naming the key) in production and by the CLI: another process's keys are not this one's to
   * retire, and a CLI started with other secrets must never take the server's keys away. A
   * development server retires them with a loud warning, so a data directory whose generated
   * secrets were deleted starts again.
   */
  retireForeignKeys?: boolean;
  ring: KekRing;
  audit: AuditLog;
  clock: Clock;
  log: Logger;
  rotationIntervalSeconds: number;
  /** How long a retired key stays published: at least the longest lifetime of a token it signed. */
  retiredKeyRetentionSeconds: number;
}): SigningKeys {
  const reason = 'OIDC signing keys are platform-wide, not tenant data';

  const insertKey = async (trx: Parameters<Parameters<typeof unsafeAsSystem>[2]>[0], alg: SigningAlg, status: 'next' | 'current') => {
    const jwk = generate(alg);
    const sealed = sealWithMasterKey({ ring, context: CONTEXT, id: jwk.kid, plaintext: JSON.stringify(jwk) });
    const now = clock.now();
    await trx
      .insertInto('oidc_signing_keys')
      .values({ kid: jwk.kid, alg, public_jwk: JSON.stringify(publicHalf(jwk)), private_ciphertext: sealed.ciphertext, kek_id: sealed.kekId, status, created_at: now, activated_at: status === 'current' ? now : null })
      .execute();
    return jwk.kid;
  };

  const ensure = () =>
    unsafeAsSystem(db, { reason, log }, async (trx) => {
      await sql`select pg_advisory_xact_lock(${ROTATION_LOCK})`.execute(trx);
      await trx.deleteFrom('oidc_signing_keys').where('status', '=', 'retired').where('remove_after', '<', clock.now()).execute();
      const sealedElsewhere = (await trx.selectFrom('oidc_signing_keys').select(['kid', 'kek_id', 'status']).where('status', '!=', 'retired').execute()).filter((r) => !ring.byId.has(r.kek_id));
      if (sealedElsewhere.length) {
        const kids = sealedElsewhere.map((r) => r.kid);
        if (!retireForeignKeys) throw new RampartError('internal', { detail: `OIDC signing keys ${kids.join(', ')} are sealed under master key ${sealedElsewhere[0]!.kek_id}, which this process does not hold; use the server's secrets (RAMPART_SECRETS_DIR, or the same RAMPART_DATA_DIR for generated development secrets), or mount it as master_key.previous` });
        log.warn({ kids }, 'MUST CHANGE: OIDC signing keys were sealed under a master key this process does not have (a throwaway development key?); retiring them and generating new ones. Mount a master_key shared by every node.');
        await trx.updateTable('oidc_signing_keys').set({ status: 'retired', retired_at: clock.now(), remove_after: clock.now() }).where('kid', 'in', kids).execute();
      }
      const rows = await trx.selectFrom('oidc_signing_keys').select(['alg', 'status']).execute();
      for (const alg of SIGNING_ALGS) {
        if (!rows.some((r) => r.alg === alg && r.status === 'current')) await insertKey(trx, alg, 'current');
        if (!rows.some((r) => r.alg === alg && r.status === 'next')) await insertKey(trx, alg, 'next');
      }
    });

  const order: Record<KeyStatus, number> = { current: 0, next: 1, retired: 2 };

  return {
    ensure,
    async load() {
      const rows = await db.owner.selectFrom('oidc_signing_keys').selectAll().where((eb) => eb.or([eb('remove_after', 'is', null), eb('remove_after', '>', clock.now())])).execute();
      rows.sort((a, b) => order[a.status] - order[b.status] || b.created_at.getTime() - a.created_at.getTime());
      // A retired key sealed under a master key this process lacks cannot be published; skip it.
      return rows.filter((row) => row.status !== 'retired' || ring.byId.has(row.kek_id)).map((row) => {
        const { key_ops: _ops, ...jwk } = JSON.parse(openWithMasterKey({ ring, context: CONTEXT, id: row.kid, kekId: row.kek_id, ciphertext: row.private_ciphertext }).toString('utf8')) as PrivateJwk;
        return jwk as PrivateJwk;
      });
    },
    async fingerprint() {
      const row = await db.owner.selectFrom('oidc_signing_keys').select(sql<string>`coalesce(string_agg(kid || ':' || status, ',' order by kid), '')`.as('fp')).executeTakeFirstOrThrow();
      return row.fp;
    },
    async list() {
      const rows = await db.owner.selectFrom('oidc_signing_keys').select(['kid', 'alg', 'status', 'created_at', 'activated_at', 'retired_at', 'remove_after']).orderBy('created_at', 'desc').execute();
      return rows.map((r) => ({ kid: r.kid, alg: r.alg as SigningAlg, status: r.status, createdAt: r.created_at, activatedAt: r.activated_at, retiredAt: r.retired_at, removeAfter: r.remove_after }));
    },
    async rotate({ actor, reason: why, context }) {
      await ensure();
      return unsafeAsSystem(db, { reason, log }, async (trx) => {
        await sql`select pg_advisory_xact_lock(${ROTATION_LOCK})`.execute(trx);
        const now = clock.now();
        const removeAfter = new Date(now.getTime() + retiredKeyRetentionSeconds * 1000);
        const result: RotationResult = { activated: [], retired: [], staged: [] };
        for (const alg of SIGNING_ALGS) {
          const retired = await trx.updateTable('oidc_signing_keys').set({ status: 'retired', retired_at: now, remove_after: removeAfter }).where('alg', '=', alg).where('status', '=', 'current').returning('kid').execute();
          const activated = await trx.updateTable('oidc_signing_keys').set({ status: 'current', activated_at: now }).where('alg', '=', alg).where('status', '=', 'next').returning('kid').execute();
          result.retired.push(...retired.map((r) => r.kid));
          result.activated.push(...activated.map((r) => r.kid));
          result.staged.push(await insertKey(trx, alg, 'next'));
        }
        await audit.record(trx, {
          tenantId: null,
          actor,
          action: 'identity.signing_key.rotated',
          target: { type: 'signing_key', id: result.activated.join(',') },
          diff: { activated: { after: result.activated }, retired: { after: result.retired }, staged: { after: result.staged }, remove_retired_after: { after: removeAfter.toISOString() } },
          justification: why,
          context: context ?? {},
        });
        return result;
      });
    },
    async isRotationDue() {
      const rows = await db.owner.selectFrom('oidc_signing_keys').select(['activated_at']).where('status', '=', 'current').execute();
      const cutoff = clock.now().getTime() - rotationIntervalSeconds * 1000;
      return rows.length === 0 || rows.some((r) => (r.activated_at?.getTime() ?? 0) <= cutoff);
    },
  };
}
