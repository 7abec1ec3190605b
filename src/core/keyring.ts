import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createKekRing, generateKeyMaterial, parseMasterKey, type KekRing } from './crypto.js';
import { RampartError } from './errors.js';
import type { Logger } from './logger.js';
import { Secret, type SecretsProvider } from './secrets.js';

/**
 * The master key ring: `master_key` (current) and optionally `master_key.previous` (still able to
 * unwrap data keys until `rampart keys rewrap` has moved them). (control: DA-2, DE-1)
 *
 * Outside production a missing master key is generated into `devKeyFile` (mode 0600) with a loud
 * warning, so `npm start` works on a fresh clone; production refuses to start without a mounted one.
 */
export async function loadMasterKeyRing({ secrets, production, devKeyFile, log }: { secrets: SecretsProvider; production: boolean; devKeyFile?: string | undefined; log?: Logger }): Promise<KekRing> {
  let current = await secrets.get('master_key');
  if (!current) {
    if (production) throw new RampartError('bad_request', { detail: 'no master_key in the secrets provider; production needs a mounted 32-byte key' });
    current = await developmentKey(devKeyFile, log);
  }
  const previous = await secrets.get('master_key.previous');
  return createKekRing(parseMasterKey(current), previous ? [parseMasterKey(previous)] : []);
}

async function developmentKey(file: string | undefined, log?: Logger): Promise<Secret> {
  return developmentSecret({ file, name: 'master key', generate: () => generateKeyMaterial().toString('base64'), ...(log ? { log } : {}) });
}

/**
 * A secret generated on first use outside production: stored in `file` (mode 0600) when given,
 * otherwise kept in memory for this process only. Always announced with a MUST CHANGE warning.
 */
export async function developmentSecret({ file, name, generate, log }: { file: string | undefined; name: string; generate: () => string; log?: Logger }): Promise<Secret> {
  if (!file) {
    log?.warn(`MUST CHANGE: using an ephemeral in-memory ${name}; it will not survive a restart`);
    return new Secret(generate(), 'ephemeral');
  }
  try {
    return new Secret((await readFile(file, 'utf8')).trim(), `file:${file}`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${generate()}\n`, { mode: 0o600, flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  await chmod(file, 0o600);
  log?.warn({ file }, `MUST CHANGE: generated a development ${name} next to the data; production requires a mounted secret (RAMPART_SECRETS_DIR)`);
  return new Secret((await readFile(file, 'utf8')).trim(), `file:${file}`);
}
