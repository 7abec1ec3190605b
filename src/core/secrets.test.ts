import { Console } from 'node:console';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { format, inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RampartError } from './errors.js';
import { createCapturingLogger } from './logger.js';
import { chainSecretsProviders, envSecretName, envSecretsProvider, fileSecretsProvider, Secret, type SecretsProvider } from './secrets.js';

const VALUE = 'Sup3r-S3cret-Value-4b1d';
const secret = () => new Secret(VALUE, 'test');

describe('Secret never reveals its value (DA-4)', () => {
  it('reveal() returns the value and source is kept', () => {
    const s = secret();
    expect(s.reveal()).toBe(VALUE);
    expect(s.source).toBe('test');
  });

  it('DA-4 String(), template literals and concatenation render [redacted]', () => {
    const s = secret();
    expect(String(s)).toBe('[redacted]');
    expect(`${s}`).toBe('[redacted]');
    expect('x' + s).toBe('x[redacted]');
    expect([s, s].join(',')).toBe('[redacted],[redacted]');
  });

  it('DA-4 JSON.stringify renders [redacted], also nested', () => {
    const s = secret();
    expect(JSON.stringify(s)).toBe('"[redacted]"');
    const json = JSON.stringify({ db: { password: s }, list: [s] });
    expect(json).not.toContain(VALUE);
    expect(json).toBe('{"db":{"password":"[redacted]"},"list":["[redacted]"]}');
  });

  it('DA-4 util.inspect renders a redacted placeholder, also nested and with showHidden or customInspect off', () => {
    const s = secret();
    expect(inspect(s)).toBe('Secret([redacted] from test)');
    for (const text of [
      inspect({ nested: { deeper: { s } } }, { depth: 10 }),
      inspect(s, { showHidden: true }),
      inspect(s, { customInspect: false, showHidden: true }),
      inspect(new Map([['k', s]])),
    ]) {
      expect(text).not.toContain(VALUE);
    }
  });

  it.each(['%s', '%o', '%O', '%j', '%d', '%i'])('DA-4 util.format(%j) does not reveal it', (spec) => {
    expect(format(spec, secret())).not.toContain(VALUE);
    expect(format(spec, { s: secret() })).not.toContain(VALUE);
  });

  it('DA-4 console.log / console.error output does not reveal it', () => {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
    const out = new Console({ stdout: stream, stderr: stream });
    const s = secret();
    out.log(s);
    out.log('value: %s', s);
    out.log({ config: { apiKey: s } });
    out.error('failed with', s);
    out.dir(s, { depth: 5 });
    out.table([{ s }]);
    const text = chunks.join('');
    expect(text).toContain('[redacted]');
    expect(text).not.toContain(VALUE);
  });

  it('DA-4 a pino log line of an object holding a Secret under any key does not reveal it', () => {
    const { log, lines } = createCapturingLogger();
    const s = secret();
    log.info({ secret: s, credentials: { value: s }, list: [s], deep: { a: { b: { c: s } } } }, 'loaded');
    log.info({ s }, 'interpolated %s %o %j', s, s, s);
    log.info(s);
    log.warn({ err: new Error(`cannot connect with ${s}`) });
    const text = lines().join('\n');
    expect(lines()).toHaveLength(4);
    expect(text).toContain('[redacted]');
    expect(text).not.toContain(VALUE);
  });

  it('DA-4 spreading or structured-cloning a Secret does not copy the value', () => {
    const s = secret();
    expect(JSON.stringify({ ...s })).not.toContain(VALUE);
    expect(Object.values(s)).not.toContain(VALUE);
    expect(JSON.stringify(structuredClone(s))).not.toContain(VALUE);
  });

  it('DA-4 an error message built from a Secret does not reveal it', () => {
    expect(new Error(`bad key ${secret()}`).message).toBe('bad key [redacted]');
  });
});

describe('fileSecretsProvider (DE-1)', () => {
  let dir: string;
  let provider: SecretsProvider;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rampart-secrets-'));
    provider = fileSecretsProvider({ dir });
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('DE-1 reads <dir>/<key> and names itself after the dir', async () => {
    writeFileSync(join(dir, 'database_password'), 'pw-from-file');
    const value = await provider.get('database_password');
    expect(value).toBeInstanceOf(Secret);
    expect(value!.reveal()).toBe('pw-from-file');
    expect(value!.source).toBe('file:database_password');
    expect(provider.name).toBe(`file:${dir}`);
  });

  it('reads keys with dots and dashes (master_key.previous, redis-password)', async () => {
    writeFileSync(join(dir, 'master_key.previous'), 'old');
    writeFileSync(join(dir, 'redis-password'), 'r');
    expect((await provider.get('master_key.previous'))!.reveal()).toBe('old');
    expect((await provider.get('redis-password'))!.reveal()).toBe('r');
  });

  it.each([
    ['value\n', 'value'],
    ['value\r\n', 'value'],
    ['value\n\n', 'value\n'],
    ['  value  ', '  value  '],
    ['line1\nline2\n', 'line1\nline2'],
  ])('strips exactly one trailing newline from %j', async (content, expected) => {
    writeFileSync(join(dir, 'k'), content);
    expect((await provider.get('k'))!.reveal()).toBe(expected);
  });

  it('returns undefined for a missing file', async () => {
    expect(await provider.get('missing')).toBeUndefined();
  });

  it.each(['', '\n', '\r\n'])('returns undefined for a file containing only %j', async (content) => {
    writeFileSync(join(dir, 'empty'), content);
    expect(await provider.get('empty')).toBeUndefined();
  });

  it('returns undefined for a directory', async () => {
    mkdirSync(join(dir, 'subdir'));
    expect(await provider.get('subdir')).toBeUndefined();
  });

  it('returns undefined when the secrets dir itself does not exist', async () => {
    expect(await fileSecretsProvider({ dir: join(dir, 'nope') }).get('master_key')).toBeUndefined();
  });

  it('follows Kubernetes-style symlinks (key -> ..data/key)', async () => {
    mkdirSync(join(dir, '..data'));
    writeFileSync(join(dir, '..data', 'master_key'), 'mounted\n');
    symlinkSync(join('..data', 'master_key'), join(dir, 'master_key'));
    expect((await provider.get('master_key'))!.reveal()).toBe('mounted');
  });

  it.each([
    '../etc/passwd',
    '../outside',
    'a/b',
    '/etc/passwd',
    '..',
    '.',
    '.hidden',
    '',
    'a\\b',
    'a\0b',
    'a\nb',
    'key\n',
    'Master_Key',
    '1key',
    'a'.repeat(65),
  ])('DE-1 rejects the secret name %j with a RampartError', async (name) => {
    await expect(provider.get(name)).rejects.toBeInstanceOf(RampartError);
    await expect(provider.get(name)).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('DE-1 never reads a file outside the dir through a traversal name', async () => {
    const outsideDir = mkdtempSync(join(tmpdir(), 'rampart-outside-'));
    try {
      writeFileSync(join(outsideDir, 'victim'), 'outside-value');
      const rel = join('..', outsideDir.split('/').at(-1)!, 'victim');
      await expect(provider.get(rel)).rejects.toBeInstanceOf(RampartError);
    } finally {
      rmSync(outsideDir, { recursive: true, force: true });
    }
  });

  it('accepts a 64-character name (the longest allowed)', async () => {
    const name = 'a'.repeat(64);
    writeFileSync(join(dir, name), 'v');
    expect((await provider.get(name))!.reveal()).toBe('v');
  });

  it('throws other file errors instead of hiding them (secrets dir is a file)', async () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    await expect(fileSecretsProvider({ dir: file }).get('master_key')).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});

describe('envSecretsProvider and envSecretName', () => {
  it.each([
    ['master_key', 'RAMPART_SECRET_MASTER_KEY'],
    ['master_key.previous', 'RAMPART_SECRET_MASTER_KEY_PREVIOUS'],
    ['database-app-password', 'RAMPART_SECRET_DATABASE_APP_PASSWORD'],
    ['a.b-c.d', 'RAMPART_SECRET_A_B_C_D'],
  ])('envSecretName(%j) is %s', (key, name) => {
    expect(envSecretName(key)).toBe(name);
  });

  it('reads RAMPART_SECRET_<NAME> from the given env, not process.env', async () => {
    const provider = envSecretsProvider({ env: { RAMPART_SECRET_MASTER_KEY_PREVIOUS: 'prev' } });
    const value = await provider.get('master_key.previous');
    expect(value!.reveal()).toBe('prev');
    expect(value!.source).toBe('env:RAMPART_SECRET_MASTER_KEY_PREVIOUS');
    expect(provider.name).toBe('env');
  });

  it('returns undefined for a missing or empty variable', async () => {
    const provider = envSecretsProvider({ env: { RAMPART_SECRET_EMPTY: '' } });
    expect(await provider.get('empty')).toBeUndefined();
    expect(await provider.get('missing')).toBeUndefined();
  });

  it('does not read an unprefixed variable of the same name', async () => {
    expect(await envSecretsProvider({ env: { MASTER_KEY: 'x' } }).get('master_key')).toBeUndefined();
  });
});

describe('chainSecretsProviders', () => {
  const fixed = (name: string, values: Record<string, string>): SecretsProvider => ({
    name,
    get: vi.fn(async (key: string) => (values[key] ? new Secret(values[key], name) : undefined)),
  });

  it('takes the first provider that has the key and does not ask the rest', async () => {
    const first = fixed('first', { a: 'from-first' });
    const second = fixed('second', { a: 'from-second', b: 'b-from-second' });
    const chain = chainSecretsProviders([first, second]);
    expect((await chain.get('a'))!.reveal()).toBe('from-first');
    expect(second.get).not.toHaveBeenCalled();
    expect((await chain.get('b'))!.reveal()).toBe('b-from-second');
    expect(first.get).toHaveBeenCalledTimes(2);
  });

  it('returns undefined when no provider has the key, and for an empty chain', async () => {
    expect(await chainSecretsProviders([fixed('x', {}), fixed('y', {})]).get('a')).toBeUndefined();
    expect(await chainSecretsProviders([]).get('a')).toBeUndefined();
  });

  it('names itself after its providers in order', () => {
    expect(chainSecretsProviders([fixed('file:/run/secrets', {}), fixed('env', {})]).name).toBe('file:/run/secrets > env');
  });

  it('prefers the mounted file over the environment when both are chained in that order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rampart-chain-'));
    try {
      writeFileSync(join(dir, 'master_key'), 'file-value\n');
      const chain = chainSecretsProviders([fileSecretsProvider({ dir }), envSecretsProvider({ env: { RAMPART_SECRET_MASTER_KEY: 'env-value', RAMPART_SECRET_OTHER: 'o' } })]);
      expect((await chain.get('master_key'))!.reveal()).toBe('file-value');
      expect((await chain.get('other'))!.reveal()).toBe('o');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('propagates a provider error instead of falling through (an invalid name never reaches the next provider)', async () => {
    const env = fixed('env', { '../x': 'leak' });
    const chain = chainSecretsProviders([fileSecretsProvider({ dir: tmpdir() }), env]);
    await expect(chain.get('../x')).rejects.toBeInstanceOf(RampartError);
    expect(env.get).not.toHaveBeenCalled();
  });
});
