import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * Store keys for throttling. Raw account identifiers (emails, usernames) and raw IPs never become
 * keys: a Redis dump or a `MONITOR` session must not hand out the list of people who tried to sign
 * in (DA-4). Keys are an HMAC under a per-deployment secret, so they cannot be reversed by hashing a
 * list of known emails either.
 */

/** Case-folds, NFKC-normalises and trims, so `Alice@Example.com ` and `ａｌｉｃｅ@example.com` share one bucket. */
export function normalizeAccount(account: string): string {
  return account.normalize('NFKC').trim().toLowerCase().normalize('NFKC');
}

/**
 * The bucket an IP belongs to. IPv4 (and IPv4-mapped IPv6) is the address itself; IPv6 is its /64,
 * because a single host is routinely handed a whole /64 and could otherwise rotate addresses to
 * escape every per-IP limit. Anything unparseable is kept verbatim (it is hashed anyway).
 */
export function ipBucket(ip: string): string {
  const trimmed = ip.trim();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(trimmed);
  if (mapped?.[1]) return mapped[1];
  if (isIP(trimmed) !== 6) return trimmed;
  const hextets = expandIpv6(trimmed);
  return hextets ? `${hextets.slice(0, 4).join(':')}::/64` : trimmed;
}

function expandIpv6(ip: string): string[] | undefined {
  const withoutZone = ip.split('%')[0] ?? ip;
  const [head = '', tail] = withoutZone.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  // An embedded IPv4 tail (::1.2.3.4) takes two hextets; only the first four hextets matter here.
  const embeddedV4 = (tail === undefined ? left : right).at(-1)?.includes('.') ? 1 : 0;
  const fill = 8 - left.length - right.length - embeddedV4;
  if (tail === undefined && left.length + embeddedV4 !== 8) return undefined;
  const all = [...left, ...Array.from({ length: Math.max(fill, 0) }, () => '0'), ...right];
  return all.map((h) => h.toLowerCase().replace(/^0+(?=.)/, ''));
}

export type KeyHasher = {
  account(account: string): string;
  ip(ip: string): string;
  ipAccount(ip: string, account: string): string;
};

/** Keyed hashes for store keys; `secret` is per deployment (derive it from the master key). */
export function createKeyHasher(secret: string | Buffer): KeyHasher {
  if (secret.length < 16) throw new Error('throttle key secret must be at least 16 bytes');
  const mac = (purpose: string, value: string) => createHmac('sha256', secret).update(`rampart:throttle:${purpose}\0${value}`).digest('base64url').slice(0, 32);
  return {
    account: (account) => mac('account', normalizeAccount(account)),
    ip: (ip) => mac('ip', ipBucket(ip)),
    ipAccount: (ip, account) => mac('ip-account', `${ipBucket(ip)}\0${normalizeAccount(account)}`),
  };
}
