import { RampartError, type Envelope, type FieldIssue } from '../../core/index.js';
import type { FieldSpec, ResourceSpec } from '../spec/schema.js';
import { isEncrypted, SYSTEM_COLUMNS } from '../spec/model.js';

/**
 * Field values in and out of the data API (DA-1). In: every value is checked against its field's
 * type and constraints (a 400 names each bad field as a JSON pointer); PHI and secret values are
 * sealed with the tenant's data key before they reach SQL (DA-2). Out: values are formatted for
 * JSON, and classified values the caller may not see are masked, without being decrypted.
 */

export const MASK = '[masked]';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;
const DECIMAL = /^-?\d{1,30}(\.\d{1,12})?$/;
const INTEGER = /^-?\d{1,19}$/;
const EMAIL = /^[^@\s]{1,64}@[^@\s]{1,255}$/;
const MAX_TEXT = 100_000;

type Checked = { ok: true; value: unknown } | { ok: false; message: string };
const bad = (message: string): Checked => ({ ok: false, message });

function inBounds(field: FieldSpec, n: number, what: string): string | undefined {
  if (field.min !== undefined && n < field.min) return `${what} must be at least ${field.min}`;
  if (field.max !== undefined && n > field.max) return `${what} must be at most ${field.max}`;
  return undefined;
}

function toBigInt(value: unknown): bigint | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'string' && INTEGER.test(value)) return BigInt(value);
  return undefined;
}

function validDate(text: string): boolean {
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text;
}

/** Checks one non-null value; returns what goes to SQL (before encryption). */
export function checkValue(field: FieldSpec, value: unknown): Checked {
  switch (field.type) {
    case 'integer':
    case 'money': {
      const n = toBigInt(value);
      if (n === undefined) return bad(field.type === 'money' ? 'must be a whole number of minor units (e.g. cents)' : 'must be a whole number');
      if (n > 9_223_372_036_854_775_807n || n < -9_223_372_036_854_775_808n) return bad('is out of range');
      const problem = inBounds(field, Number(n), 'value');
      return problem ? bad(problem) : { ok: true, value: n };
    }
    case 'decimal': {
      const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
      if (typeof text !== 'string' || !DECIMAL.test(text)) return bad('must be a decimal number');
      const problem = inBounds(field, Number(text), 'value');
      return problem ? bad(problem) : { ok: true, value: text };
    }
    case 'boolean':
      return typeof value === 'boolean' ? { ok: true, value } : bad('must be true or false');
    case 'date':
      return typeof value === 'string' && DATE.test(value) && validDate(value) ? { ok: true, value } : bad('must be a date YYYY-MM-DD');
    case 'datetime':
      return typeof value === 'string' && DATETIME.test(value) && !Number.isNaN(Date.parse(value)) ? { ok: true, value: new Date(value).toISOString() } : bad('must be an ISO 8601 date-time with a time zone');
    case 'reference':
      return typeof value === 'string' && UUID.test(value) ? { ok: true, value: value.toLowerCase() } : bad(`must be the id (UUID) of a ${field.to ?? 'record'}`);
    case 'json': {
      const text = JSON.stringify(value);
      return text.length > 65_536 ? bad('is larger than 64 KB') : { ok: true, value: text };
    }
    default:
      return checkText(field, value);
  }
}

function checkText(field: FieldSpec, value: unknown): Checked {
  if (typeof value !== 'string') return bad('must be a string');
  if (value.length > MAX_TEXT) return bad(`must be at most ${MAX_TEXT} characters`);
  const problem = inBounds(field, [...value].length, 'length');
  if (problem) return bad(problem);
  if (field.type === 'enum' && !field.values?.includes(value)) return bad(`must be one of ${field.values?.join(', ')}`);
  if (field.type === 'email' && !EMAIL.test(value)) return bad('must be an email address');
  if (field.type === 'url') {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) return bad('must be an http(s) URL');
  }
  if (field.pattern && !new RegExp(`^(?:${field.pattern})$`, 'u').test(value)) return bad('does not match the required pattern');
  return { ok: true, value };
}

const READ_ONLY: ReadonlySet<string> = new Set(SYSTEM_COLUMNS);

/**
 * A create (`partial: false`) or update body to column values. Every problem is collected, so one
 * 400 names every bad field.
 */
export function checkBody(resource: ResourceSpec, body: unknown, { partial }: { partial: boolean }): Record<string, unknown> {
  const issues: FieldIssue[] = [];
  const out: Record<string, unknown> = {};
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new RampartError('validation_failed', { detail: 'the body must be a JSON object', issues: [{ in: 'body', pointer: '/', message: 'must be a JSON object' }] });
  const fields = new Map(resource.fields.map((f) => [f.name, f]));
  for (const key of Object.keys(body)) {
    if (READ_ONLY.has(key)) issues.push({ in: 'body', pointer: `/${key}`, message: 'is set by Rampart and cannot be written' });
    else if (!fields.has(key)) issues.push({ in: 'body', pointer: `/${key.slice(0, 100)}`, message: `unknown field of ${resource.name}` });
  }
  for (const field of resource.fields) {
    const has = Object.hasOwn(body, field.name);
    const value = has ? (body as Record<string, unknown>)[field.name] : undefined;
    if (!has && partial) continue;
    if (value === undefined || value === null) {
      if (field.required) issues.push({ in: 'body', pointer: `/${field.name}`, message: 'is required' });
      else out[field.name] = null;
      continue;
    }
    const checked = checkValue(field, value);
    if (checked.ok) out[field.name] = checked.value;
    else issues.push({ in: 'body', pointer: `/${field.name}`, message: checked.message });
  }
  if (issues.length) {
    const first = issues[0]!;
    throw new RampartError('validation_failed', { detail: `body ${first.pointer}: ${first.message}`, issues });
  }
  return out;
}

export const encryptionContext = (table: string, field: string): string => `${table}.${field}`;

/** Seals PHI and secret values (DA-2); everything else passes as is. */
export async function sealValues(values: Record<string, unknown>, input: { resource: ResourceSpec; table: string; tenantId: string; envelope: () => Envelope }): Promise<Record<string, unknown>> {
  const out = { ...values };
  for (const field of input.resource.fields) {
    const value = out[field.name];
    if (!isEncrypted(field.class) || value === null || value === undefined) continue;
    const plaintext = typeof value === 'bigint' ? value.toString() : typeof value === 'string' ? value : JSON.stringify(value);
    out[field.name] = await input.envelope().encrypt({ tenantId: input.tenantId, context: encryptionContext(input.table, field.name), plaintext });
  }
  return out;
}

/** A database value as JSON: whole numbers as numbers when exact, else strings; dates as ISO text. */
export function formatValue(field: FieldSpec, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return field.type === 'date' ? value.toISOString().slice(0, 10) : value.toISOString();
  return value;
}

/** The decrypted text of an encrypted field, back in its type. */
export function fromPlaintext(field: FieldSpec, text: string): unknown {
  switch (field.type) {
    case 'integer':
    case 'money':
      return formatValue(field, BigInt(text));
    case 'boolean':
      return text === 'true';
    case 'json':
      return JSON.parse(text) as unknown;
    default:
      return text;
  }
}
