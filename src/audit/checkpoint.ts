import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { sql } from 'kysely';
import { developmentSecret, RampartError, systemClock, uuidv7, type Clock, type Logger, type SecretsProvider } from '../core/index.js';
import type { Transaction } from 'kysely';
import type { AuditCheckpoint, Database, Schema } from '../db/index.js';
import { unsafeAsSystem } from '../db/index.js';

/**
 * Signed checkpoints of each chain head (control: MO-1). A checkpoint fixes (chain, seq, hash) under
 * an Ed25519 signature, so removing the newest events of a chain — which leaves a shorter but
 * internally valid chain — is still detected, and a verifier holding only the public key can
 * trust a chain up to its last checkpoint.
 */

export type CheckpointSigner = { keyId: string; privateKey: KeyObject; publicKey: KeyObject };
export type CheckpointVerifier = { keys: ReadonlyMap<string, KeyObject> };

export const checkpointKeyId = (publicKey: KeyObject): string =>
  `ak_${createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)}`;

export function signerFromPem(pem: string): CheckpointSigner {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new RampartError('bad_request', { detail: 'audit_signing_key must be an Ed25519 private key (PKCS#8 PEM)' });
  const publicKey = createPublicKey(privateKey);
  return { keyId: checkpointKeyId(publicKey), privateKey, publicKey };
}

export const generateSigningKeyPem = (): string => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** `audit_signing_key` from the secrets provider; outside production generated into devFile. */
export async function loadCheckpointSigner({ secrets, production, devFile, log }: { secrets: SecretsProvider; production: boolean; devFile?: string | undefined; log?: Logger }): Promise<CheckpointSigner> {
  let secret = await secrets.get('audit_signing_key');
  if (!secret) {
    if (production) throw new RampartError('bad_request', { detail: 'no audit_signing_key in the secrets provider; production needs a mounted Ed25519 key' });
    secret = await developmentSecret({ file: devFile, name: 'audit signing key', generate: generateSigningKeyPem, ...(log ? { log } : {}) });
  }
  return signerFromPem(secret.reveal());
}

export const verifierFor = (...publicKeys: KeyObject[]): CheckpointVerifier => ({ keys: new Map(publicKeys.map((key) => [checkpointKeyId(key), key])) });

const message = (c: Pick<AuditCheckpoint, 'chain' | 'seq' | 'hash' | 'created_at'>) => Buffer.from(`rampart-audit-checkpoint:v1|${c.chain}|${c.seq}|${c.hash}|${c.created_at.toISOString()}`);

export function checkpointSignatureValid(checkpoint: AuditCheckpoint, verifier: CheckpointVerifier): boolean {
  const key = verifier.keys.get(checkpoint.key_id);
  if (!key) return false;
  try {
    return verify(null, message(checkpoint), key, Buffer.from(checkpoint.signature, 'base64'));
  } catch {
    return false;
  }
}

/** Signs the head of every chain that moved since its last checkpoint. System work (a recurring job). */
export async function writeCheckpoints({ db, signer, clock = systemClock, log }: { db: Database; signer: CheckpointSigner; clock?: Clock; log?: Logger }): Promise<AuditCheckpoint[]> {
  return unsafeAsSystem(db, { reason: 'audit checkpoints cover every chain', ...(log ? { log } : {}) }, (trx) => checkpointHeads(trx, { signer, clock }));
}

/**
 * Signs the heads of the given chains (all when omitted) inside the caller's system transaction.
 * Tenant creation calls it for the new chain, so no tenant's log goes its first checkpoint
 * interval without one: from its first event on, cutting the chain's tail shows.
 */
export async function checkpointHeads(trx: Transaction<Schema>, { signer, clock = systemClock, chains }: { signer: CheckpointSigner; clock?: Clock; chains?: readonly string[] }): Promise<AuditCheckpoint[]> {
  const { rows: heads } = await sql<{ chain: string; tenant_id: string | null; seq: bigint; hash: string }>`
    select distinct on (e.chain) e.chain, e.tenant_id, e.seq, e.hash
      from audit_events e
     where ${chains ? sql`e.chain in (${sql.join(chains.length ? chains : [''])})` : sql`true`}
     order by e.chain, e.seq desc`.execute(trx);
  const written: AuditCheckpoint[] = [];
  for (const head of heads) {
    const last = await trx.selectFrom('audit_checkpoints').select('seq').where('chain', '=', head.chain).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    if (last && last.seq >= head.seq) continue;
    const unsigned = { id: uuidv7(), tenant_id: head.tenant_id, chain: head.chain, seq: head.seq, hash: head.hash, created_at: clock.now(), key_id: signer.keyId };
    const checkpoint: AuditCheckpoint = { ...unsigned, signature: sign(null, message(unsigned), signer.privateKey).toString('base64') };
    await trx.insertInto('audit_checkpoints').values(checkpoint).execute();
    written.push(checkpoint);
  }
  return written;
}
