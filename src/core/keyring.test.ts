import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKekRing, generateKeyMaterial, kekId, unwrapDataKey, wrapDataKey } from './crypto.js';
import { RampartError } from './errors.js';
import { loadMasterKeyRing } from './keyring.js';
import { createCapturingLogger } from './logger.js';
import { Secret, type SecretsProvider } from './secrets.js';

const provider = (values: Record<string, string>): SecretsProvider => ({
  name: 'test',
  get: async (key) => (values[key] ? new Secret(values[key], `test:${key}`) : undefined),
});

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rampart-keyring-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('loadMasterKeyRing (DA-2, DE-1)', () => {
  it('DA-2 builds the ring from master_key and master_key.previous', async () => {
    const current = generateKeyMaterial();
    const previous = generateKeyMaterial();
    const ring = await loadMasterKeyRing({
      secrets: provider({ master_key: current.toString('base64'), 'master_key.previous': previous.toString('hex') }),
      production: true,
    });
    expect(ring.current.key.equals(current)).toBe(true);
    expect(ring.current.id).toBe(kekId(current));
    expect([...ring.byId.keys()].sort()).toEqual([kekId(current), kekId(previous)].sort());
  });

  it('DA-2 a key wrapped under the previous master key unwraps with the loaded ring', async () => {
    const previous = generateKeyMaterial();
    const dek = generateKeyMaterial();
    const wrapped = wrapDataKey({ ring: createKekRing({ id: kekId(previous), key: previous }), tenantId: 't1', keyId: 'dk_1', key: dek });
    const ring = await loadMasterKeyRing({
      secrets: provider({ master_key: generateKeyMaterial().toString('base64'), 'master_key.previous': previous.toString('base64') }),
      production: true,
    });
    expect(unwrapDataKey({ ring, tenantId: 't1', wrappedKey: wrapped }).equals(dek)).toBe(true);
  });

  it('DE-1 production refuses to start without a mounted master_key and writes no key file', async () => {
    const devKeyFile = join(dir, 'dev', 'master.key');
    const attempt = loadMasterKeyRing({ secrets: provider({}), production: true, devKeyFile });
    await expect(attempt).rejects.toBeInstanceOf(RampartError);
    await expect(loadMasterKeyRing({ secrets: provider({}), production: true, devKeyFile })).rejects.toThrow(/master_key/);
    expect(() => statSync(devKeyFile)).toThrow();
  });

  it('DA-4 a malformed master key is refused without echoing it', async () => {
    const bad = 'this-is-not-a-32-byte-key';
    const error = await loadMasterKeyRing({ secrets: provider({ master_key: bad }), production: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RampartError);
    expect((error as Error).message).toContain('test:master_key');
    expect((error as Error).message).not.toContain(bad);
  });

  it('refuses a malformed master_key.previous', async () => {
    const secrets = provider({ master_key: generateKeyMaterial().toString('base64'), 'master_key.previous': 'short' });
    await expect(loadMasterKeyRing({ secrets, production: true })).rejects.toBeInstanceOf(RampartError);
  });

  it('outside production without a key file, uses an ephemeral key and warns (MUST CHANGE)', async () => {
    const { log, lines } = createCapturingLogger();
    const a = await loadMasterKeyRing({ secrets: provider({}), production: false, log });
    const b = await loadMasterKeyRing({ secrets: provider({}), production: false });
    expect(a.current.key).toHaveLength(32);
    expect(a.current.id).not.toBe(b.current.id);
    expect(lines()).toHaveLength(1);
    expect(JSON.parse(lines()[0]!)).toMatchObject({ level: 'warn', msg: expect.stringContaining('MUST CHANGE') });
  });

  it('outside production generates a 0600 dev key file once, warns without printing the key, and reuses it', async () => {
    const devKeyFile = join(dir, 'nested', 'keys', 'master.key');
    const { log, lines } = createCapturingLogger();
    const first = await loadMasterKeyRing({ secrets: provider({}), production: false, devKeyFile, log });
    const content = readFileSync(devKeyFile, 'utf8');
    expect(content).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    expect(statSync(devKeyFile).mode & 0o777).toBe(0o600);
    expect(first.current.key.equals(Buffer.from(content.trim(), 'base64'))).toBe(true);
    expect(lines()).toHaveLength(1);
    expect(JSON.parse(lines()[0]!)).toMatchObject({ level: 'warn', file: devKeyFile, msg: expect.stringContaining('MUST CHANGE') });
    expect(lines()[0]).not.toContain(content.trim());

    const second = await loadMasterKeyRing({ secrets: provider({}), production: false, devKeyFile, log });
    expect(second.current.id).toBe(first.current.id);
    expect(readFileSync(devKeyFile, 'utf8')).toBe(content);
    expect(lines()).toHaveLength(1); // no second warning: the key is reused, not regenerated
  });

  it('outside production reads an existing dev key file (hex, trailing newline)', async () => {
    const key = generateKeyMaterial();
    const devKeyFile = join(dir, 'master.key');
    writeFileSync(devKeyFile, `${key.toString('hex')}\n`, { mode: 0o600 });
    const ring = await loadMasterKeyRing({ secrets: provider({}), production: false, devKeyFile });
    expect(ring.current.key.equals(key)).toBe(true);
  });

  it('prefers the mounted master_key over the dev key file, also outside production', async () => {
    const mounted = generateKeyMaterial();
    const devKeyFile = join(dir, 'master.key');
    writeFileSync(devKeyFile, `${generateKeyMaterial().toString('base64')}\n`);
    const ring = await loadMasterKeyRing({ secrets: provider({ master_key: mounted.toString('base64') }), production: false, devKeyFile });
    expect(ring.current.id).toBe(kekId(mounted));
  });

  it('surfaces an unreadable dev key path instead of overwriting it (path is a directory)', async () => {
    const devKeyFile = join(dir, 'is-a-dir');
    mkdirSync(devKeyFile);
    await expect(loadMasterKeyRing({ secrets: provider({}), production: false, devKeyFile })).rejects.toMatchObject({ code: 'EISDIR' });
  });
});
