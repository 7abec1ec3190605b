import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { RampartError } from './errors.js';
import type { Secret } from './secrets.js';

/**
 * Envelope encryption (control: DA-2).
 *
 *   master key (KEK, from the secrets provider)  --wraps-->  tenant data key (DEK, in the db)
 *   tenant data key                              --seals-->  field values, documents
 *
 * Every wrapped key records the id of the KEK that wrapped it and every ciphertext records the id
 * of the DEK that sealed it, so both layers rotate without downtime: new writes use the newest
 * key while old ciphertexts stay readable until re-wrapped or re-sealed.
 *
 * AES-256-GCM with a random 96-bit IV. The additional authenticated data binds a ciphertext to its
 * tenant, key and context (e.g. `table.column`): a ciphertext copied into another tenant's row or
 * another column fails to decrypt instead of leaking.
 */

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const CIPHERTEXT_PREFIX = 'rk1';

export type KeyEncryptionKey = { id: string; key: Buffer };
export type KekRing = { current: KeyEncryptionKey; byId: ReadonlyMap<string, KeyEncryptionKey> };

export const kekId = (key: Buffer): string => `kek_${createHash('sha256').update('rampart:kek-id:').update(key).digest('hex').slice(0, 16)}`;

/** A master key is 32 bytes, given as base64 (44 chars) or hex (64 chars). */
export function parseMasterKey(secret: Secret): KeyEncryptionKey {
  const text = secret.reveal().trim();
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== KEY_BYTES) {
    throw new RampartError('bad_request', { detail: `master key from ${secret.source} must be 32 bytes (base64 or hex)` });
  }
  return { id: kekId(key), key };
}

export function createKekRing(current: KeyEncryptionKey, previous: KeyEncryptionKey[] = []): KekRing {
  const byId = new Map<string, KeyEncryptionKey>();
  for (const kek of [current, ...previous]) byId.set(kek.id, kek);
  return { current, byId };
}

export const generateKeyMaterial = (): Buffer => randomBytes(KEY_BYTES);

function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw decryptError();
  const decipher = createDecipheriv(ALGORITHM, key, sealed.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    throw decryptError();
  }
}

const decryptError = () => new RampartError('bad_request', { detail: 'ciphertext cannot be decrypted with the given key and context' });

const wrapAad = (tenantId: string, keyId: string) => `rampart:dek:v1|${tenantId}|${keyId}`;

export type WrappedDataKey = { keyId: string; kekId: string; wrapped: Buffer };

export function wrapDataKey(input: { ring: KekRing; tenantId: string; keyId: string; key: Buffer }): WrappedDataKey {
  const kek = input.ring.current;
  return { keyId: input.keyId, kekId: kek.id, wrapped: seal(kek.key, input.key, wrapAad(input.tenantId, input.keyId)) };
}

export function unwrapDataKey(input: { ring: KekRing; tenantId: string; wrappedKey: WrappedDataKey }): Buffer {
  const kek = input.ring.byId.get(input.wrappedKey.kekId);
  if (!kek) {
    throw new RampartError('internal', { detail: `master key ${input.wrappedKey.kekId} is not loaded; add it as master_key.previous before rotating it out` });
  }
  return open(kek.key, input.wrappedKey.wrapped, wrapAad(input.tenantId, input.wrappedKey.keyId));
}

/**
 * Platform secrets that belong to no tenant (OIDC token signing keys) sealed directly under the
 * master key. The AAD binds the ciphertext to its context and id, so a sealed key copied onto
 * another row does not open.
 */
const systemAad = (context: string, id: string) => `rampart:system:v1|${context}|${id}`;

export function sealWithMasterKey(input: { ring: KekRing; context: string; id: string; plaintext: string | Buffer }): { kekId: string; ciphertext: string } {
  const plaintext = typeof input.plaintext === 'string' ? Buffer.from(input.plaintext, 'utf8') : input.plaintext;
  const kek = input.ring.current;
  return { kekId: kek.id, ciphertext: seal(kek.key, plaintext, systemAad(input.context, input.id)).toString('base64url') };
}

export function openWithMasterKey(input: { ring: KekRing; context: string; id: string; kekId: string; ciphertext: string }): Buffer {
  const kek = input.ring.byId.get(input.kekId);
  if (!kek) throw new RampartError('internal', { detail: `master key ${input.kekId} is not loaded; add it as master_key.previous before rotating it out` });
  return open(kek.key, Buffer.from(input.ciphertext, 'base64url'), systemAad(input.context, input.id));
}

const valueAad = (tenantId: string, keyId: string, context: string) => `rampart:value:v1|${tenantId}|${keyId}|${context}`;

/** `rk1.<keyId>.<base64url(iv|tag|ciphertext)>` */
export function sealValue(input: { tenantId: string; keyId: string; key: Buffer; context: string; plaintext: string | Buffer }): string {
  const plaintext = typeof input.plaintext === 'string' ? Buffer.from(input.plaintext, 'utf8') : input.plaintext;
  const sealed = seal(input.key, plaintext, valueAad(input.tenantId, input.keyId, input.context));
  return `${CIPHERTEXT_PREFIX}.${input.keyId}.${sealed.toString('base64url')}`;
}

export function parseSealedValue(ciphertext: string): { keyId: string; sealed: Buffer } {
  const parts = ciphertext.split('.');
  if (parts.length !== 3 || parts[0] !== CIPHERTEXT_PREFIX || !parts[1] || !parts[2]) {
    throw new RampartError('bad_request', { detail: 'not a Rampart ciphertext' });
  }
  return { keyId: parts[1], sealed: Buffer.from(parts[2], 'base64url') };
}

export function openValue(input: { tenantId: string; keyId: string; key: Buffer; context: string; sealed: Buffer }): Buffer {
  return open(input.key, input.sealed, valueAad(input.tenantId, input.keyId, input.context));
}

/** Where tenant data keys live (the db module implements it over `tenant_data_keys`). */
export type DataKeyStore = {
  /** The tenant's active wrapped key, created on first use. */
  active(tenantId: string): Promise<WrappedDataKey>;
  byId(tenantId: string, keyId: string): Promise<WrappedDataKey | undefined>;
};

export type Envelope = {
  encrypt(input: { tenantId: string; context: string; plaintext: string | Buffer }): Promise<string>;
  decrypt(input: { tenantId: string; context: string; ciphertext: string }): Promise<Buffer>;
  decryptText(input: { tenantId: string; context: string; ciphertext: string }): Promise<string>;
};

export type KeyCache = Map<string, { key: Buffer; expires: number }>;
export const createKeyCache = (): KeyCache => new Map();

/**
 * Encrypts and decrypts values for a tenant. The store is bound to the caller's transaction (keys
 * are read under the tenant's row-level security); unwrapped keys are cached briefly in memory in
 * a cache the caller may share across transactions.
 */
export function createEnvelope({ ring, store, cache = createKeyCache(), cacheTtlMs = 60_000, now = Date.now }: { ring: KekRing; store: DataKeyStore; cache?: KeyCache; cacheTtlMs?: number; now?: () => number }): Envelope {
  const unwrapCached = (tenantId: string, wrappedKey: WrappedDataKey): Buffer => {
    const cacheKey = `${tenantId}/${wrappedKey.keyId}/${wrappedKey.kekId}`;
    const hit = cache.get(cacheKey);
    if (hit && hit.expires > now()) return hit.key;
    const key = unwrapDataKey({ ring, tenantId, wrappedKey });
    if (cache.size > 1000) cache.clear();
    cache.set(cacheKey, { key, expires: now() + cacheTtlMs });
    return key;
  };
  const decrypt: Envelope['decrypt'] = async ({ tenantId, context, ciphertext }) => {
    const { keyId, sealed } = parseSealedValue(ciphertext);
    const wrappedKey = await store.byId(tenantId, keyId);
    if (!wrappedKey) throw decryptError();
    return openValue({ tenantId, keyId, key: unwrapCached(tenantId, wrappedKey), context, sealed });
  };
  return {
    async encrypt({ tenantId, context, plaintext }) {
      const wrappedKey = await store.active(tenantId);
      return sealValue({ tenantId, keyId: wrappedKey.keyId, key: unwrapCached(tenantId, wrappedKey), context, plaintext });
    },
    decrypt,
    decryptText: async (input) => (await decrypt(input)).toString('utf8'),
  };
}

export const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

export function constantTimeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const left = typeof a === 'string' ? Buffer.from(a) : a;
  const right = typeof b === 'string' ? Buffer.from(b) : b;
  if (left.length !== right.length) return false;
  return timingSafeEqual(left, right);
}
