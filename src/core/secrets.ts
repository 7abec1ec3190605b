import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { RampartError } from './errors.js';

/**
 * A secret value that refuses to be printed. String conversion, JSON serialisation and
 * util.inspect (console.log, pino) all render `[redacted]`; only `reveal()` returns the value,
 * which makes every place that needs the plaintext greppable. (control: DA-4, DE-1)
 */
export class Secret {
  readonly #value: string;
  readonly source: string;

  constructor(value: string, source: string) {
    this.#value = value;
    this.source = source;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return `Secret([redacted] from ${this.source})`;
  }
}

/**
 * Where secrets come from. Mounted secret files today (Kubernetes/Docker secrets, systemd
 * credentials); a vault provider plugs in behind the same interface. (control: DE-1)
 */
export type SecretsProvider = {
  readonly name: string;
  get(key: string): Promise<Secret | undefined>;
};

const SECRET_KEY = /^[a-z][a-z0-9_.-]{0,63}$/;

/** Reads `<dir>/<key>`; trailing newlines are dropped (editors and `echo` add them). */
export function fileSecretsProvider({ dir }: { dir: string }): SecretsProvider {
  return {
    name: `file:${dir}`,
    async get(key) {
      if (!SECRET_KEY.test(key)) throw new RampartError('bad_request', { detail: `invalid secret name "${key}"` });
      const path = join(dir, key);
      try {
        const info = await stat(path);
        if (!info.isFile()) return undefined;
        const value = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
        return value.length > 0 ? new Secret(value, `file:${key}`) : undefined;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
  };
}

/** Secrets given in the environment as `RAMPART_SECRET_<NAME>`. Development only: production refuses them. */
export function envSecretsProvider({ env }: { env: NodeJS.ProcessEnv }): SecretsProvider {
  return {
    name: 'env',
    async get(key) {
      const value = env[envSecretName(key)];
      return value ? new Secret(value, `env:${envSecretName(key)}`) : undefined;
    },
  };
}

export const envSecretName = (key: string): string => `RAMPART_SECRET_${key.toUpperCase().replace(/[.-]/g, '_')}`;

/** First provider that has the key wins. */
export function chainSecretsProviders(providers: SecretsProvider[]): SecretsProvider {
  return {
    name: providers.map((p) => p.name).join(' > '),
    async get(key) {
      for (const provider of providers) {
        const value = await provider.get(key);
        if (value) return value;
      }
      return undefined;
    },
  };
}
