import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  constantTimeEqual,
  createEnvelope,
  createKekRing,
  createKeyCache,
  generateKeyMaterial,
  kekId,
  openValue,
  parseMasterKey,
  parseSealedValue,
  sealValue,
  sha256Hex,
  unwrapDataKey,
  wrapDataKey,
  type DataKeyStore,
  type KekRing,
  type KeyEncryptionKey,
  type WrappedDataKey,
} from './crypto.js';
import { RampartError } from './errors.js';
import { Secret } from './secrets.js';

const TENANT_A = '0190a1b2-0000-7000-8000-00000000000a';
const TENANT_B = '0190a1b2-0000-7000-8000-00000000000b';

const newKek = (): KeyEncryptionKey => {
  const key = generateKeyMaterial();
  return { id: kekId(key), key };
};

/** Decodes a sealed value, lets `mutate` change its bytes, and encodes it again. */
const tamper = (ciphertext: string, mutate: (bytes: Buffer) => Buffer): string => {
  const { keyId, sealed } = parseSealedValue(ciphertext);
  return `rk1.${keyId}.${mutate(Buffer.from(sealed)).toString('base64url')}`;
};

const expectDecryptError = (fn: () => unknown) => {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(RampartError);
  expect(thrown).toMatchObject({ code: 'bad_request', detail: 'ciphertext cannot be decrypted with the given key and context' });
};

describe('parseMasterKey and kekId (DA-2)', () => {
  const raw = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7 + 1));

  it('accepts 32 bytes as base64', () => {
    const kek = parseMasterKey(new Secret(raw.toString('base64'), 'test'));
    expect(kek.key.equals(raw)).toBe(true);
  });

  it('accepts 32 bytes as hex, in either case, and surrounding whitespace', () => {
    expect(parseMasterKey(new Secret(raw.toString('hex'), 't')).key.equals(raw)).toBe(true);
    expect(parseMasterKey(new Secret(raw.toString('hex').toUpperCase(), 't')).key.equals(raw)).toBe(true);
    expect(parseMasterKey(new Secret(`  ${raw.toString('base64')}\n`, 't')).key.equals(raw)).toBe(true);
  });

  it('gives the same key id for the same key in base64 or hex', () => {
    const a = parseMasterKey(new Secret(raw.toString('base64'), 't'));
    const b = parseMasterKey(new Secret(raw.toString('hex'), 't'));
    expect(a.id).toBe(b.id);
    expect(a.id).toBe(kekId(raw));
  });

  it('kekId is stable, derived from the key, and does not contain the key', () => {
    expect(kekId(raw)).toBe(kekId(Buffer.from(raw)));
    expect(kekId(raw)).toMatch(/^kek_[0-9a-f]{16}$/);
    expect(kekId(raw)).toBe(`kek_${sha256Hex(Buffer.concat([Buffer.from('rampart:kek-id:'), raw])).slice(0, 16)}`);
    expect(kekId(raw)).not.toBe(kekId(generateKeyMaterial()));
    expect(kekId(raw)).not.toContain(raw.toString('hex').slice(0, 16));
  });

  it.each([
    ['16 bytes hex', randomBytes(16).toString('hex')],
    ['31 bytes base64', randomBytes(31).toString('base64')],
    ['33 bytes base64', randomBytes(33).toString('base64')],
    ['64 bytes base64', randomBytes(64).toString('base64')],
    ['63 hex chars', randomBytes(32).toString('hex').slice(0, 63)],
    ['a passphrase', 'correct horse battery staple'],
    ['empty', ''],
  ])('DA-4 rejects %s with a message naming the source but not the key', (_label, text) => {
    let thrown: unknown;
    try {
      parseMasterKey(new Secret(text, 'file:master_key'));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RampartError);
    const error = thrown as RampartError;
    expect(error.message).toContain('file:master_key');
    expect(error.message).toContain('32 bytes');
    if (text) {
      expect(error.message).not.toContain(text);
      expect(JSON.stringify({ ...error, message: error.message, stack: error.stack })).not.toContain(text);
    }
  });
});

describe('wrapDataKey / unwrapDataKey (DA-2)', () => {
  it('round-trips a data key and records the KEK id', () => {
    const kek = newKek();
    const ring = createKekRing(kek);
    const dek = generateKeyMaterial();
    const wrapped = wrapDataKey({ ring, tenantId: TENANT_A, keyId: 'dk_1', key: dek });
    expect(wrapped.keyId).toBe('dk_1');
    expect(wrapped.kekId).toBe(kek.id);
    expect(wrapped.wrapped.includes(dek)).toBe(false);
    expect(unwrapDataKey({ ring, tenantId: TENANT_A, wrappedKey: wrapped }).equals(dek)).toBe(true);
  });

  it('DA-2 a wrapped key moved to another tenant does not unwrap (AAD binds the tenant)', () => {
    const ring = createKekRing(newKek());
    const wrapped = wrapDataKey({ ring, tenantId: TENANT_A, keyId: 'dk_1', key: generateKeyMaterial() });
    expectDecryptError(() => unwrapDataKey({ ring, tenantId: TENANT_B, wrappedKey: wrapped }));
  });

  it('DA-2 a wrapped key relabelled with another key id does not unwrap (AAD binds the key id)', () => {
    const ring = createKekRing(newKek());
    const wrapped = wrapDataKey({ ring, tenantId: TENANT_A, keyId: 'dk_1', key: generateKeyMaterial() });
    expectDecryptError(() => unwrapDataKey({ ring, tenantId: TENANT_A, wrappedKey: { ...wrapped, keyId: 'dk_2' } }));
  });

  it('DA-2 a wrapped key does not unwrap under another KEK that claims its id', () => {
    const kek = newKek();
    const wrapped = wrapDataKey({ ring: createKekRing(kek), tenantId: TENANT_A, keyId: 'dk_1', key: generateKeyMaterial() });
    const impostor = createKekRing({ id: kek.id, key: generateKeyMaterial() });
    expectDecryptError(() => unwrapDataKey({ ring: impostor, tenantId: TENANT_A, wrappedKey: wrapped }));
  });

  it('DA-2 tampered wrapped bytes do not unwrap', () => {
    const ring = createKekRing(newKek());
    const wrapped = wrapDataKey({ ring, tenantId: TENANT_A, keyId: 'dk_1', key: generateKeyMaterial() });
    for (let i = 0; i < wrapped.wrapped.length; i++) {
      const bytes = Buffer.from(wrapped.wrapped);
      bytes[i] = bytes[i]! ^ 0x01;
      expectDecryptError(() => unwrapDataKey({ ring, tenantId: TENANT_A, wrappedKey: { ...wrapped, wrapped: bytes } }));
    }
    expectDecryptError(() => unwrapDataKey({ ring, tenantId: TENANT_A, wrappedKey: { ...wrapped, wrapped: wrapped.wrapped.subarray(0, 27) } }));
  });

  it('DA-2 an unknown KEK id gives a clear error naming the id and master_key.previous', () => {
    const old = newKek();
    const wrapped = wrapDataKey({ ring: createKekRing(old), tenantId: TENANT_A, keyId: 'dk_1', key: generateKeyMaterial() });
    const ring = createKekRing(newKek());
    let thrown: unknown;
    try {
      unwrapDataKey({ ring, tenantId: TENANT_A, wrappedKey: wrapped });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RampartError);
    expect(thrown).toMatchObject({ code: 'internal' });
    expect((thrown as Error).message).toContain(old.id);
    expect((thrown as Error).message).toContain('master_key.previous');
    expect((thrown as Error).message).not.toContain(old.key.toString('base64'));
  });

  it('DA-2 after a KEK rotation, keys wrapped by the previous KEK still unwrap and new wraps use the current one', () => {
    const old = newKek();
    const current = newKek();
    const dek = generateKeyMaterial();
    const wrappedOld = wrapDataKey({ ring: createKekRing(old), tenantId: TENANT_A, keyId: 'dk_1', key: dek });
    const ring = createKekRing(current, [old]);
    expect(ring.current).toBe(current);
    expect([...ring.byId.keys()].sort()).toEqual([current.id, old.id].sort());
    expect(unwrapDataKey({ ring, tenantId: TENANT_A, wrappedKey: wrappedOld }).equals(dek)).toBe(true);
    const rewrapped = wrapDataKey({ ring, tenantId: TENANT_A, keyId: 'dk_1', key: dek });
    expect(rewrapped.kekId).toBe(current.id);
    expect(unwrapDataKey({ ring: createKekRing(current), tenantId: TENANT_A, wrappedKey: rewrapped }).equals(dek)).toBe(true);
  });

  it('keeps the current KEK when the same key is also listed as previous', () => {
    const kek = newKek();
    const ring = createKekRing(kek, [{ id: kek.id, key: kek.key }]);
    expect(ring.byId.size).toBe(1);
    expect(ring.current).toBe(kek);
  });
});

describe('sealValue / openValue (DA-2)', () => {
  const key = generateKeyMaterial();
  const base = { tenantId: TENANT_A, keyId: 'dk_1', key, context: 'customers.email' };
  const seal = (plaintext: string | Buffer, overrides: Partial<typeof base> = {}) => sealValue({ ...base, ...overrides, plaintext });
  const open = (ciphertext: string, overrides: Partial<typeof base> = {}) => {
    const { keyId, sealed } = parseSealedValue(ciphertext);
    return openValue({ ...base, keyId, ...overrides, sealed });
  };

  it.each([
    ['ascii', 'ann@example.com'],
    ['empty string', ''],
    ['unicode', 'Grüße, 世界 🌍 \u0000 \u202e'],
    ['1 MB', 'x'.repeat(1024 * 1024)],
  ])('round-trips %s', (_label, plaintext) => {
    const ciphertext = seal(plaintext);
    expect(open(ciphertext).toString('utf8')).toBe(plaintext);
  });

  it('round-trips binary data', () => {
    const data = randomBytes(4096);
    expect(open(seal(data)).equals(data)).toBe(true);
  });

  it('formats the ciphertext as rk1.<keyId>.<base64url> and does not contain the plaintext', () => {
    const ciphertext = seal('ann@example.com');
    expect(ciphertext).toMatch(/^rk1\.dk_1\.[A-Za-z0-9_-]+$/);
    expect(ciphertext).not.toContain('ann@example.com');
    expect(Buffer.from(ciphertext.split('.')[2]!, 'base64url').toString('latin1')).not.toContain('ann@example.com');
    // iv (12) + tag (16) + one byte of ciphertext per plaintext byte
    expect(parseSealedValue(ciphertext).sealed.length).toBe(12 + 16 + 'ann@example.com'.length);
  });

  it('DA-2 sealing the same plaintext twice gives different ciphertexts (random IV)', () => {
    expect(seal('same')).not.toBe(seal('same'));
  });

  it('DA-2 ciphertext moved to another tenant does not decrypt', () => {
    expectDecryptError(() => open(seal('secret'), { tenantId: TENANT_B }));
  });

  it('DA-2 ciphertext moved to another context (column) does not decrypt', () => {
    expectDecryptError(() => open(seal('secret'), { context: 'customers.phone' }));
  });

  it('DA-2 ciphertext relabelled with another key id does not decrypt even with the right key', () => {
    const ciphertext = seal('secret');
    const relabelled = ciphertext.replace('rk1.dk_1.', 'rk1.dk_2.');
    expectDecryptError(() => open(relabelled));
  });

  it('DA-2 ciphertext does not decrypt with another key', () => {
    expectDecryptError(() => open(seal('secret'), { key: generateKeyMaterial() }));
  });

  it('DA-2 flipping any bit of any byte (IV, tag or body) makes decryption fail', () => {
    const ciphertext = seal('tamper-evident value');
    const length = parseSealedValue(ciphertext).sealed.length;
    for (let i = 0; i < length; i++) {
      for (const mask of [0x01, 0x80]) {
        const tampered = tamper(ciphertext, (bytes) => {
          bytes[i] = bytes[i]! ^ mask;
          return bytes;
        });
        expectDecryptError(() => open(tampered));
      }
    }
  });

  it('DA-2 truncated, extended or emptied ciphertexts fail to decrypt', () => {
    const ciphertext = seal('value');
    expectDecryptError(() => open(tamper(ciphertext, (b) => b.subarray(0, b.length - 1))));
    expectDecryptError(() => open(tamper(ciphertext, (b) => Buffer.concat([b, Buffer.from([0])]))));
    expectDecryptError(() => open(tamper(ciphertext, (b) => b.subarray(0, 28))));
    expectDecryptError(() => open(tamper(ciphertext, (b) => b.subarray(0, 27))));
    expectDecryptError(() => openValue({ ...base, sealed: Buffer.alloc(0) }));
  });

  it('DA-2 every sealed buffer shorter than IV + a full 16-byte tag fails with the decrypt error (no short-tag forgery)', () => {
    const ciphertext = seal('value');
    for (let length = 1; length < 12 + 16; length++) {
      expectDecryptError(() => open(tamper(ciphertext, (b) => b.subarray(0, length))));
    }
  });

  it('DA-2 a payload that is not base64url decodes to too few bytes and fails to decrypt', () => {
    expectDecryptError(() => open('rk1.dk_1.!!!!'));
  });

  it.each([
    '',
    'rk1',
    'rk1.dk_1',
    'rk1.dk_1.',
    'rk1..AAAA',
    'rk2.dk_1.AAAA',
    'RK1.dk_1.AAAA',
    'rk1.dk.1.AAAA',
    'rk1.dk_1.AAAA.extra',
    '.rk1.dk_1.AAAA',
    'ann@example.com',
  ])('parseSealedValue rejects the malformed ciphertext %j', (text) => {
    expect(() => parseSealedValue(text)).toThrow(RampartError);
    expect(() => parseSealedValue(text)).toThrow('not a Rampart ciphertext');
  });

  it('parseSealedValue returns the key id and the decoded bytes', () => {
    expect(parseSealedValue('rk1.dk_9.AQID')).toEqual({ keyId: 'dk_9', sealed: Buffer.from([1, 2, 3]) });
  });

  it('DA-2 property: open(seal(x)) == x for arbitrary strings, in any tenant and context', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.uuid(), fc.string({ minLength: 1, maxLength: 40 }), (plaintext, tenantId, context) => {
        const ciphertext = seal(plaintext, { tenantId, context });
        expect(open(ciphertext, { tenantId, context }).toString('utf8')).toBe(plaintext);
      }),
      { numRuns: 300 },
    );
  });

  it('DA-2 property: open(seal(x)) == x for arbitrary buffers, and two seals of the same plaintext differ', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (array) => {
        const data = Buffer.from(array);
        const first = seal(data);
        const second = seal(data);
        expect(first).not.toBe(second);
        expect(open(first).equals(data)).toBe(true);
        expect(open(second).equals(data)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('DA-2 property: a ciphertext never opens in a different tenant or context', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 50 }),
        fc.tuple(fc.uuid(), fc.uuid()).filter(([a, b]) => a !== b),
        (plaintext, [tenantId, otherTenant]) => {
          const ciphertext = seal(plaintext, { tenantId });
          expect(() => open(ciphertext, { tenantId: otherTenant })).toThrow(RampartError);
          expect(() => open(ciphertext, { tenantId, context: `${base.context}.x` })).toThrow(RampartError);
        },
      ),
      { numRuns: 100 },
    );
  });
});

/** A tiny in-memory DataKeyStore: one active key per tenant, retired keys stay readable, calls are counted. */
class MemoryKeyStore implements DataKeyStore {
  readonly keys = new Map<string, WrappedDataKey[]>();
  readonly activeId = new Map<string, string>();
  calls = { active: 0, byId: 0 };
  #next = 1;

  constructor(public ring: KekRing) {}

  async active(tenantId: string): Promise<WrappedDataKey> {
    this.calls.active++;
    const id = this.activeId.get(tenantId);
    if (id) return this.find(tenantId, id)!;
    return this.rotate(tenantId);
  }

  async byId(tenantId: string, keyId: string): Promise<WrappedDataKey | undefined> {
    this.calls.byId++;
    return this.find(tenantId, keyId);
  }

  /** Retires the active key (it stays readable) and makes a new one. */
  rotate(tenantId: string): WrappedDataKey {
    const keyId = `dk_${this.#next++}`;
    const wrapped = wrapDataKey({ ring: this.ring, tenantId, keyId, key: generateKeyMaterial() });
    this.keys.set(tenantId, [...(this.keys.get(tenantId) ?? []), wrapped]);
    this.activeId.set(tenantId, keyId);
    return wrapped;
  }

  find(tenantId: string, keyId: string): WrappedDataKey | undefined {
    return this.keys.get(tenantId)?.find((k) => k.keyId === keyId);
  }
}

/** A KEK ring whose lookups (one per unwrap) are counted. */
const countingRing = (current: KeyEncryptionKey, previous: KeyEncryptionKey[] = []) => {
  const inner = createKekRing(current, previous);
  const lookups = { count: 0 };
  const byId = new Map(inner.byId);
  const get = byId.get.bind(byId);
  byId.get = (id: string) => {
    lookups.count++;
    return get(id);
  };
  return { ring: { current: inner.current, byId } satisfies KekRing, lookups };
};

describe('createEnvelope (DA-2)', () => {
  it('round-trips text and binary values for a tenant', async () => {
    const ring = createKekRing(newKek());
    const envelope = createEnvelope({ ring, store: new MemoryKeyStore(ring) });
    const ciphertext = await envelope.encrypt({ tenantId: TENANT_A, context: 'customers.email', plaintext: 'ann@example.com' });
    expect(ciphertext).toMatch(/^rk1\.dk_1\./);
    expect(await envelope.decryptText({ tenantId: TENANT_A, context: 'customers.email', ciphertext })).toBe('ann@example.com');
    const binary = randomBytes(64);
    const sealedBinary = await envelope.encrypt({ tenantId: TENANT_A, context: 'files.body', plaintext: binary });
    expect((await envelope.decrypt({ tenantId: TENANT_A, context: 'files.body', ciphertext: sealedBinary })).equals(binary)).toBe(true);
  });

  it('DA-2 each tenant gets its own data key', async () => {
    const ring = createKekRing(newKek());
    const store = new MemoryKeyStore(ring);
    const envelope = createEnvelope({ ring, store });
    const a = await envelope.encrypt({ tenantId: TENANT_A, context: 'c', plaintext: 'x' });
    const b = await envelope.encrypt({ tenantId: TENANT_B, context: 'c', plaintext: 'x' });
    expect(parseSealedValue(a).keyId).not.toBe(parseSealedValue(b).keyId);
    const keyA = unwrapDataKey({ ring, tenantId: TENANT_A, wrappedKey: store.find(TENANT_A, parseSealedValue(a).keyId)! });
    const keyB = unwrapDataKey({ ring, tenantId: TENANT_B, wrappedKey: store.find(TENANT_B, parseSealedValue(b).keyId)! });
    expect(keyA.equals(keyB)).toBe(false);
  });

  it('DA-2 ciphertext moved to another tenant does not decrypt (the other tenant has no such key)', async () => {
    const ring = createKekRing(newKek());
    const envelope = createEnvelope({ ring, store: new MemoryKeyStore(ring) });
    const ciphertext = await envelope.encrypt({ tenantId: TENANT_A, context: 'c', plaintext: 'secret' });
    await envelope.encrypt({ tenantId: TENANT_B, context: 'c', plaintext: 'other' });
    await expect(envelope.decrypt({ tenantId: TENANT_B, context: 'c', ciphertext })).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('DA-2 even a store that leaks another tenant key (RLS failure) cannot decrypt across tenants', async () => {
    const ring = createKekRing(newKek());
    const store = new MemoryKeyStore(ring);
    const ciphertext = await createEnvelope({ ring, store }).encrypt({ tenantId: TENANT_A, context: 'c', plaintext: 'secret' });
    const leaky: DataKeyStore = { active: (t) => store.active(t), byId: async (_tenant, keyId) => store.find(TENANT_A, keyId) };
    const envelope = createEnvelope({ ring, store: leaky });
    await expect(envelope.decrypt({ tenantId: TENANT_B, context: 'c', ciphertext })).rejects.toBeInstanceOf(RampartError);
  });

  it('DA-2 ciphertext moved to another context does not decrypt', async () => {
    const ring = createKekRing(newKek());
    const envelope = createEnvelope({ ring, store: new MemoryKeyStore(ring) });
    const ciphertext = await envelope.encrypt({ tenantId: TENANT_A, context: 'customers.email', plaintext: 'secret' });
    await expect(envelope.decrypt({ tenantId: TENANT_A, context: 'customers.notes', ciphertext })).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('refuses a malformed ciphertext and an unknown key id with a RampartError', async () => {
    const ring = createKekRing(newKek());
    const envelope = createEnvelope({ ring, store: new MemoryKeyStore(ring) });
    await expect(envelope.decrypt({ tenantId: TENANT_A, context: 'c', ciphertext: 'plain text' })).rejects.toThrow('not a Rampart ciphertext');
    await expect(envelope.decrypt({ tenantId: TENANT_A, context: 'c', ciphertext: 'rk1.dk_404.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).rejects.toMatchObject({
      code: 'bad_request',
    });
  });

  it('uses the key cache: one unwrap per tenant key, store still asked on every call', async () => {
    const { ring, lookups } = countingRing(newKek());
    const store = new MemoryKeyStore(ring);
    const envelope = createEnvelope({ ring, store });
    const values = [];
    for (let i = 0; i < 5; i++) values.push(await envelope.encrypt({ tenantId: TENANT_A, context: 'c', plaintext: `v${i}` }));
    for (const ciphertext of values) await envelope.decryptText({ tenantId: TENANT_A, context: 'c', ciphertext });
    expect(lookups.count).toBe(1);
    expect(store.calls).toEqual({ active: 5, byId: 5 });
    await envelope.encrypt({ tenantId: TENANT_B, context: 'c', plaintext: 'b' });
    expect(lookups.count).toBe(2);
  });

  it('shares a cache passed in across envelopes (transactions)', async () => {
    const { ring, lookups } = countingRing(newKek());
    const store = new MemoryKeyStore(ring);
    const cache = createKeyCache();
    const ciphertext = await createEnvelope({ ring, store, cache }).encrypt({ tenantId: TENANT_A, context: 'c', plaintext: 'v' });
    expect(await createEnvelope({ ring, store, cache }).decryptText({ tenantId: TENANT_A, context: 'c', ciphertext })).toBe('v');
    expect(lookups.count).toBe(1);
    expect(cache.size).toBe(1);
    await createEnvelope({ ring, store }).decryptText({ tenantId: TENANT_A, context: 'c', ciphertext });
    expect(lookups.count).toBe(2);
  });

  it('unwraps again once the cached key has expired', async () => {
    const { ring, lookups } = countingRing(newKek());
    let time = 1_000_000;
    const envelope = createEnvelope({ ring, store: new MemoryKeyStore(ring), cacheTtlMs: 100, now: () => time });
    const ciphertext = await envelope.encrypt({ tenantId: TENANT_A, context: 'c', plaintext: 'v' });
    time += 99;
    await envelope.decrypt({ tenantId: TENANT_A, context: 'c', ciphertext });
    expect(lookups.count).toBe(1);
    time += 1;
    await envelope.decrypt({ tenantId: TENANT_A, context: 'c', ciphertext });
    expect(lookups.count).toBe(2);
  });

  it('bounds the cache: it is cleared once it holds more than 1000 keys', async () => {
    const ring = createKekRing(newKek());
    const store = new MemoryKeyStore(ring);
    const cache = createKeyCache();
    const envelope = createEnvelope({ ring, store, cache });
    for (let i = 0; i < 1002; i++) await envelope.encrypt({ tenantId: `tenant-${i}`, context: 'c', plaintext: 'v' });
    expect(cache.size).toBeLessThanOrEqual(1001);
    expect(cache.size).toBeGreaterThan(0);
  });

  it('DA-2 after a data-key rotation, values sealed under the retired key still decrypt and new values use the new key', async () => {
    const ring = createKekRing(newKek());
    const store = new MemoryKeyStore(ring);
    const envelope = createEnvelope({ ring, store });
    const before = await envelope.encrypt({ tenantId: TENANT_A, context: 'c', plaintext: 'old value' });
    const retired = parseSealedValue(before).keyId;
    store.rotate(TENANT_A);
    const after = await envelope.encrypt({ tenantId: TENANT_A, context: 'c', plaintext: 'new value' });
    expect(parseSealedValue(after).keyId).not.toBe(retired);
    expect(await envelope.decryptText({ tenantId: TENANT_A, context: 'c', ciphertext: before })).toBe('old value');
    expect(await envelope.decryptText({ tenantId: TENANT_A, context: 'c', ciphertext: after })).toBe('new value');
  });

  it('DA-2 after a KEK ring rotation, values decrypt while the old KEK is in the ring as previous', async () => {
    const oldKek = newKek();
    const oldRing = createKekRing(oldKek);
    const store = new MemoryKeyStore(oldRing);
    const before = await createEnvelope({ ring: oldRing, store }).encrypt({ tenantId: TENANT_A, context: 'c', plaintext: 'sealed before rotation' });

    const newRing = createKekRing(newKek(), [oldKek]);
    store.ring = newRing; // keys created from now on are wrapped by the new KEK
    const envelope = createEnvelope({ ring: newRing, store });
    expect(await envelope.decryptText({ tenantId: TENANT_A, context: 'c', ciphertext: before })).toBe('sealed before rotation');
    const stillOldKey = await envelope.encrypt({ tenantId: TENANT_A, context: 'c', plaintext: 'x' });
    expect(await envelope.decryptText({ tenantId: TENANT_A, context: 'c', ciphertext: stillOldKey })).toBe('x');

    // Once the old KEK is dropped from the ring, keys still wrapped by it fail loudly, not silently.
    const withoutOld = createEnvelope({ ring: createKekRing(newRing.current), store });
    await expect(withoutOld.decrypt({ tenantId: TENANT_A, context: 'c', ciphertext: before })).rejects.toThrow(oldKek.id);
  });

  it('DA-2 after re-wrapping under the new KEK, values decrypt without the old KEK', async () => {
    const oldKek = newKek();
    const store = new MemoryKeyStore(createKekRing(oldKek));
    const before = await createEnvelope({ ring: createKekRing(oldKek), store }).encrypt({ tenantId: TENANT_A, context: 'c', plaintext: 'v' });
    const rotated = createKekRing(newKek(), [oldKek]);
    for (const [tenantId, keys] of store.keys) {
      store.keys.set(
        tenantId,
        keys.map((wrappedKey) => wrapDataKey({ ring: rotated, tenantId, keyId: wrappedKey.keyId, key: unwrapDataKey({ ring: rotated, tenantId, wrappedKey }) })),
      );
    }
    const envelope = createEnvelope({ ring: createKekRing(rotated.current), store });
    expect(await envelope.decryptText({ tenantId: TENANT_A, context: 'c', ciphertext: before })).toBe('v');
  });
});

describe('constantTimeEqual and sha256Hex', () => {
  it.each([
    ['abc', 'abc', true],
    ['abc', 'abd', false],
    ['abc', 'abcd', false],
    ['', '', true],
    ['', 'a', false],
    ['é', 'e\u0301', false],
    ['ü', 'ü', true],
  ])('constantTimeEqual(%j, %j) is %s', (a, b, expected) => {
    expect(constantTimeEqual(a, b)).toBe(expected);
  });

  it('compares buffers and mixed string/buffer by bytes', () => {
    expect(constantTimeEqual(Buffer.from([1, 2, 3]), Buffer.from([1, 2, 3]))).toBe(true);
    expect(constantTimeEqual(Buffer.from([1, 2, 3]), Buffer.from([1, 2, 4]))).toBe(false);
    expect(constantTimeEqual('abc', Buffer.from('abc'))).toBe(true);
    expect(constantTimeEqual(Buffer.from('abc'), 'abC')).toBe(false);
  });

  it('does not throw on different lengths (timingSafeEqual would)', () => {
    expect(() => constantTimeEqual('short', 'a much longer string')).not.toThrow();
  });

  it('sha256Hex matches the known vector', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex(Buffer.from('abc'))).toBe(sha256Hex('abc'));
  });
});
