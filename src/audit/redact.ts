/**
 * Before/after diffs for the audit log, redacted (control: DA-4, MO-1). Only changed fields are
 * kept. A field classified pii, phi or secret, or whose name says it holds a credential, is
 * recorded as changed without its values: the log proves *that* it changed, never what it holds.
 */

export type DataClass = 'public' | 'internal' | 'confidential' | 'pii' | 'phi' | 'secret';

export const REDACTED = '[redacted]';

const CREDENTIAL_NAME = /pass(word)?|secret|token|api[_-]?key|private[_-]?key|otp|totp|recovery|pin$|cvc|cvv|iban|card[_-]?number|pan$/i;
const REDACTED_CLASSES = new Set<DataClass>(['pii', 'phi', 'secret']);

export type FieldChange = { before?: unknown; after?: unknown; redacted?: true };
export type AuditDiff = Record<string, FieldChange>;

const isPlainValue = (value: unknown): unknown => {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  if (value && typeof value === 'object') return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  return value;
};

const sameValue = (a: unknown, b: unknown) => JSON.stringify(isPlainValue(a)) === JSON.stringify(isPlainValue(b));

export function shouldRedact(field: string, classes: Record<string, DataClass> = {}): boolean {
  const dataClass = classes[field];
  return dataClass ? REDACTED_CLASSES.has(dataClass) : CREDENTIAL_NAME.test(field);
}

/**
 * `diffRecords(before, after)`: for a create pass `before = null`, for a delete `after = null`.
 * Returns null when nothing changed.
 */
export function diffRecords(
  before: Record<string, unknown> | null | undefined,
  after: Record<string, unknown> | null | undefined,
  { classes = {} }: { classes?: Record<string, DataClass> } = {},
): AuditDiff | null {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  const diff: AuditDiff = {};
  for (const key of [...keys].sort()) {
    const had = before ? Object.hasOwn(before, key) : false;
    const has = after ? Object.hasOwn(after, key) : false;
    const oldValue = had ? before![key] : undefined;
    const newValue = has ? after![key] : undefined;
    if (had && has && sameValue(oldValue, newValue)) continue;
    if (shouldRedact(key, classes)) {
      diff[key] = { ...(had ? { before: REDACTED } : {}), ...(has ? { after: REDACTED } : {}), redacted: true };
    } else {
      diff[key] = { ...(had ? { before: isPlainValue(oldValue) ?? null } : {}), ...(has ? { after: isPlainValue(newValue) ?? null } : {}) };
    }
  }
  return Object.keys(diff).length ? diff : null;
}
