import { sql, type RawBuilder } from 'kysely';
import { RampartError, type FieldIssue } from '../../core/index.js';
import type { FieldSpec, ResourceSpec } from '../spec/schema.js';
import { isEncrypted, sqlType, TEXT_TYPES } from '../spec/model.js';
import { checkValue } from './values.js';

/**
 * List parameters, validated against the spec: typed filters (`?stage=won`,
 * `?amount[gte]=1000`, `?company[is_null]=true`), sort (`?sort=-created_at`), cursor pagination
 * and `limit` (default 50, max 200). Every value is checked with its field's type and bound as a
 * parameter. Filters and sorts on encrypted fields are refused (the ciphertext says nothing), and
 * on fields the caller may only see masked (filtering would reveal what the mask hides). A refusal
 * is a 400 whose `reason` (LIST_QUERY_REASONS) says which rule refused it; the cursor is opened by
 * the caller of this parser (cursor.ts), which knows whose list it is.
 */

/** The `reason` of a refused list query, one per rule (docs/apps.md lists them). */
export const LIST_QUERY_REASONS = {
  field_masked: 'the field is masked for the caller on some records: filtering or sorting on it would reveal it',
  field_not_filterable: 'encrypted and json fields cannot be filtered or sorted',
  cursor_invalid: 'the cursor was altered, or belongs to another list, caller or sort order',
  invalid_parameter: 'an unknown or malformed parameter',
} as const;
export type ListQueryReason = keyof typeof LIST_QUERY_REASONS;

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

const OPS = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'in', 'contains', 'is_null'] as const;
type Op = (typeof OPS)[number];
const KEY = /^([a-z][a-z0-9_]{0,62})(?:\[([a-z_]{1,10})\])?$/;

export type Filter = { column: string; op: Op; value: unknown; field?: FieldSpec };
export type Sort = { column: string; descending: boolean; cast: string };
export type ListQuery = { filters: Filter[]; sort: Sort; sortText: string; limit: number; cursor?: string };

/**
 * A Map, not an object literal: keys come from the query string, and `SYSTEM_FIELDS['constructor']`
 * on a literal is Object's constructor (issue 12 §4: `?sort=constructor` was a 500).
 */
const SYSTEM_FIELDS: ReadonlyMap<string, Pick<FieldSpec, 'type'> & { cast: string }> = new Map([
  ['id', { type: 'reference', cast: 'uuid' }],
  ['owner_id', { type: 'text', cast: 'text' }],
  ['created_at', { type: 'datetime', cast: 'timestamptz' }],
  ['updated_at', { type: 'datetime', cast: 'timestamptz' }],
] as const);

type Issue = FieldIssue & { reason: ListQueryReason };
const issue = (pointer: string, message: string, reason: ListQueryReason = 'invalid_parameter'): Issue => ({ in: 'query', pointer, message, reason });

export function parseListQuery(resource: ResourceSpec, query: Record<string, unknown>, options: { hidden: ReadonlySet<string> }): ListQuery {
  const issues: Issue[] = [];
  const fields = new Map(resource.fields.map((f) => [f.name, f]));
  const filters: Filter[] = [];
  let limit = DEFAULT_LIMIT;
  let sortText = '-created_at';
  let cursor: string | undefined;
  for (const [key, raw] of Object.entries(query)) {
    const pointer = `/${key.slice(0, 80)}`;
    if (typeof raw !== 'string') {
      issues.push(issue(pointer, 'give each parameter once'));
      continue;
    }
    if (key === 'limit') {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) issues.push(issue(pointer, `must be a whole number from 1 to ${MAX_LIMIT}`));
      else limit = n;
      continue;
    }
    if (key === 'sort') {
      sortText = raw;
      continue;
    }
    if (key === 'cursor') {
      cursor = raw;
      continue;
    }
    const match = KEY.exec(key);
    const column = match?.[1];
    const op = (match?.[2] ?? 'eq') as Op;
    if (!match || !column || !OPS.includes(op)) {
      issues.push(issue(pointer, `not a filter: use field=value or field[op]=value with op one of ${OPS.join(', ')}`));
      continue;
    }
    const field = fields.get(column);
    const system = SYSTEM_FIELDS.get(column);
    if (!field && !system) {
      issues.push(issue(pointer, `${resource.name} has no field "${column}"`));
      continue;
    }
    if (field && (isEncrypted(field.class) || field.type === 'json')) {
      issues.push(issue(pointer, `cannot filter on ${column} (${field.type === 'json' ? 'json' : 'encrypted'})`, 'field_not_filterable'));
      continue;
    }
    if (field && options.hidden.has(field.name)) {
      issues.push(issue(pointer, `cannot filter on ${column} (masked for you)`, 'field_masked'));
      continue;
    }
    const spec = (field ?? { ...system!, name: column, class: 'internal', required: false, unique: false, onDelete: 'restrict' }) as FieldSpec;
    if (op === 'is_null') {
      if (raw !== 'true' && raw !== 'false') issues.push(issue(pointer, 'must be true or false'));
      else filters.push({ column, op, value: raw === 'true' });
      continue;
    }
    if (op === 'contains') {
      if (!TEXT_TYPES.has(spec.type) && spec.type !== 'text') issues.push(issue(pointer, 'contains works on text fields'));
      else filters.push({ column, op, value: raw.slice(0, 200) });
      continue;
    }
    const parts = op === 'in' ? raw.split(',').slice(0, 100) : [raw];
    const values: unknown[] = [];
    for (const part of parts) {
      const checked = checkValue({ ...spec, min: undefined, max: undefined, pattern: undefined } as FieldSpec, coerce(spec, part));
      if (checked.ok) values.push(checked.value);
      else issues.push(issue(pointer, checked.message));
    }
    if (values.length === parts.length) filters.push({ column, op, value: op === 'in' ? values : values[0], ...(field ? { field } : {}) });
  }
  const sort = parseSort(resource, sortText, fields, options.hidden, issues);
  if (issues.length || !sort) {
    const first = issues[0];
    throw new RampartError('validation_failed', {
      detail: first ? `query ${first.pointer}: ${first.message}` : 'invalid list query',
      issues: issues.map(({ reason: _reason, ...rest }) => rest),
      extensions: { reason: first?.reason ?? 'invalid_parameter' },
    });
  }
  return { filters, sort, sortText, limit, ...(cursor !== undefined ? { cursor } : {}) };
}

/** Query strings are text: numbers and booleans are read from it before the typed check. */
function coerce(field: Pick<FieldSpec, 'type'>, raw: string): unknown {
  if (field.type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  if (field.type === 'decimal' || field.type === 'integer' || field.type === 'money') return raw;
  return raw;
}

function parseSort(resource: ResourceSpec, text: string, fields: Map<string, FieldSpec>, hidden: ReadonlySet<string>, issues: Issue[]): Sort | undefined {
  const descending = text.startsWith('-');
  const column = descending ? text.slice(1) : text;
  const system = SYSTEM_FIELDS.get(column);
  if (system) return { column, descending, cast: system.cast };
  const field = fields.get(column);
  if (field && hidden.has(column)) {
    issues.push(issue('/sort', `cannot sort by ${column} (masked for you)`, 'field_masked'));
    return undefined;
  }
  // Keyset pagination needs a total order: only required (never null), plaintext, visible fields sort.
  if (!field || !field.required || isEncrypted(field.class) || field.type === 'json') {
    const reason = field && (isEncrypted(field.class) || field.type === 'json') ? 'field_not_filterable' : 'invalid_parameter';
    issues.push(issue('/sort', `sort by id, created_at, updated_at, owner_id or a required plaintext field of ${resource.name}, optionally with - for descending`, reason));
    return undefined;
  }
  return { column, descending, cast: sqlType(field) };
}

export function filterSql(filter: Filter): RawBuilder<unknown> {
  const ref = sql.ref(filter.column);
  switch (filter.op) {
    case 'eq':
      return sql`${ref} = ${filter.value}`;
    case 'ne':
      return sql`${ref} is distinct from ${filter.value}`;
    case 'lt':
      return sql`${ref} < ${filter.value}`;
    case 'lte':
      return sql`${ref} <= ${filter.value}`;
    case 'gt':
      return sql`${ref} > ${filter.value}`;
    case 'gte':
      return sql`${ref} >= ${filter.value}`;
    case 'in':
      return sql`${ref} in (${sql.join(filter.value as unknown[])})`;
    case 'is_null':
      return filter.value ? sql`${ref} is null` : sql`${ref} is not null`;
    case 'contains': {
      const escaped = String(filter.value).replace(/[\\%_]/g, (c) => `\\${c}`);
      return sql`${ref} ilike ${`%${escaped}%`}`;
    }
  }
}

/** Casts go through a fixed list: a SQL type name never comes from the request. */
const CASTS = new Set(['uuid', 'text', 'timestamptz', 'date', 'bigint', 'boolean', 'numeric']);
export function keysetSql(sort: Sort, after: { value: unknown; id: string }): RawBuilder<unknown> {
  const cast = sort.cast.startsWith('numeric') ? 'numeric' : sort.cast;
  if (!CASTS.has(cast)) throw new RampartError('internal', { detail: 'unexpected sort type' });
  const value = sql`cast(${after.value} as ${sql.raw(cast)})`;
  return sort.descending ? sql`(${sql.ref(sort.column)}, "id") < (${value}, cast(${after.id} as uuid))` : sql`(${sql.ref(sort.column)}, "id") > (${value}, cast(${after.id} as uuid))`;
}
