import { CompiledQuery, sql, type RawBuilder } from 'kysely';
import type { AuditLog, RequestContext } from '../../audit/index.js';
import { diffRecords } from '../../audit/index.js';
import { authorizeRecord, constraintFor, decide, type AuthzPrincipal, type CompiledPolicySet, type Condition, type ConstraintColumns, type RecordAttributes } from '../../authz/index.js';
import { RampartError, uuidv7, type Envelope, type KekRing, type KeyCache } from '../../core/index.js';
import { envelopeFor, readAsTenant, withTenant, type Actor, type Database, type TenantTransaction } from '../../db/index.js';
import { appRuleId } from '../compile/authz.js';
import { constraintName } from '../compile/ddl.js';
import type { AppSpec, ResourceSpec } from '../spec/schema.js';
import { catalogName, GATED_CLASSES, isEncrypted, tableName, tenantKey } from '../spec/model.js';
import { checkBody, encryptionContext, formatValue, fromPlaintext, MASK, sealValues } from './values.js';

/**
 * The data API's operations (AZ-2, AZ-3, DA-1, DA-2); lists and exports are in list.ts. Each runs
 * in one `withTenant` transaction as rampart_app, so row-level security confines it to the
 * caller's tenant whatever else goes wrong; on top of that every call is decided by the tenant's
 * policy set with the record's attributes: single records are decided one by one (an unreadable
 * record is a 404, as is another tenant's), and a write must leave the record inside what the
 * caller may write (the rule's post-condition). The policy set is fetched before the transaction
 * opens (the embedded database is one session).
 */

export type DataDeps = { db: Database; audit: AuditLog; keys: { ring: KekRing; cache: KeyCache } };
export type Target = { app: string; spec: AppSpec; resource: ResourceSpec; table: string; type: string };
export type DataCall = { principal: AuthzPrincipal; actor: Actor; set: CompiledPolicySet; target: Target; context?: RequestContext };
export type Row = Record<string, unknown> & { id: string; owner_id: string | null };

export function targetOf(tenantId: string, spec: AppSpec, resourceName: string): Target | undefined {
  const resource = spec.resources.find((r) => r.name === resourceName);
  return resource ? { app: spec.app, spec, resource, table: tableName(tenantKey(tenantId), spec.app, resource.name), type: catalogName(spec.app, resource.name) } : undefined;
}

export function columnsOf(resource: ResourceSpec): ConstraintColumns {
  const columns: ConstraintColumns = {};
  if (resource.attributes.owner) columns.owner = 'owner_id';
  if (resource.attributes.department) columns.department = resource.attributes.department;
  if (resource.attributes.region) columns.region = resource.attributes.region;
  if (resource.attributes.sensitivity) columns.sensitivity = resource.attributes.sensitivity;
  return columns;
}

export function attributesOf(resource: ResourceSpec, row: Record<string, unknown>): RecordAttributes {
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  const attributes: RecordAttributes = {};
  if (resource.attributes.owner) attributes.owner = text(row.owner_id);
  if (resource.attributes.department) attributes.department = text(row[resource.attributes.department]);
  if (resource.attributes.region) attributes.region = text(row[resource.attributes.region]);
  if (resource.attributes.sensitivity) attributes.sensitivity = text(row[resource.attributes.sensitivity]);
  return attributes;
}

export function selectList(resource: ResourceSpec): RawBuilder<unknown> {
  const columns = ['id', 'owner_id', 'created_by', 'created_at', 'updated_at'].map((c) => sql.ref(c));
  // Dates go out as text: a driver turning them into local-midnight Date objects shifts the day.
  for (const field of resource.fields) columns.push(field.type === 'date' && !isEncrypted(field.class) ? sql`${sql.ref(field.name)}::text as ${sql.ref(field.name)}` : sql.ref(field.name));
  return sql.join(columns);
}

/** The gated classes (pii, phi, secret) this caller may see on this record. */
function visibleClasses(call: DataCall, attributes: RecordAttributes): Set<string> {
  const visible = new Set<string>(['public', 'internal', 'confidential']);
  for (const [dataClass, action] of Object.entries(GATED_CLASSES)) {
    if (decide(call.set, { principal: call.principal, action, resource: { type: call.target.type, attributes } }).allowed) visible.add(dataClass);
  }
  return visible;
}

/**
 * Fields masked for this caller on at least some records: filtering or sorting on them would let
 * the caller learn what the mask hides, so both are refused unless the class is visible on every
 * record, which only an exact `all` constraint proves (one that needs a row check proves nothing).
 */
export function hiddenFields(call: DataCall): Set<string> {
  const seesEverywhere = (action: string) => {
    const constraint = constraintFor(call.set, { principal: call.principal, action, resourceType: call.target.type });
    return constraint.kind === 'all' && !constraint.needsRowCheck;
  };
  return new Set(call.target.resource.fields.filter((f) => GATED_CLASSES[f.class] !== undefined && !seesEverywhere(GATED_CLASSES[f.class]!)).map((f) => f.name));
}

export async function present(call: DataCall, row: Row, envelope: () => Envelope, tenantId: string): Promise<Record<string, unknown>> {
  const { resource, table } = call.target;
  const visible = visibleClasses(call, attributesOf(resource, row));
  const out: Record<string, unknown> = { id: row.id, owner_id: row.owner_id, created_by: row.created_by, created_at: formatValue({ type: 'datetime' } as never, row.created_at), updated_at: formatValue({ type: 'datetime' } as never, row.updated_at) };
  const masked: string[] = [];
  for (const field of resource.fields) {
    const value = row[field.name];
    // Masked whether empty or not: a null beside "[masked]" would tell which records have a value.
    if (!visible.has(field.class)) {
      out[field.name] = MASK;
      masked.push(field.name);
    } else if (value === null || value === undefined) out[field.name] = null;
    else if (isEncrypted(field.class)) {
      out[field.name] = fromPlaintext(field, await envelope().decryptText({ tenantId, context: encryptionContext(table, field.name), ciphertext: String(value) }));
    } else out[field.name] = formatValue(field, value);
  }
  if (masked.length) out._masked = masked;
  return out;
}

/** Post-conditions (the `check` of the rules that permitted the write) must hold on the record as written. */
function postConditionsHold(call: DataCall, action: string, attributes: RecordAttributes): boolean {
  const decision = decide(call.set, { principal: call.principal, action, resource: { type: call.target.type, attributes } });
  if (!decision.allowed) return false;
  const checks = new Map(call.target.spec.rules.map((rule) => [`rule:${appRuleId(call.target.app, rule.id)}`, rule.check]));
  // A matrix grant or a custom policy has no post-condition; a rule without a check has none either.
  return decision.policyIds.some((id) => {
    const check = checks.get(id);
    return !check?.length || check.every((condition) => conditionHolds(condition, call.principal, attributes));
  });
}

function conditionHolds(condition: Condition, principal: AuthzPrincipal, attributes: RecordAttributes): boolean {
  const actual = attributes[condition.record];
  if (actual === null || actual === undefined) return false;
  switch (condition.op) {
    case 'in':
    case 'not_in':
      return condition.value.includes(actual) === (condition.op === 'in');
    case 'eq':
    case 'neq': {
      const expected = typeof condition.value === 'string' ? condition.value : principal[condition.value.principal];
      if (expected === null || expected === undefined) return false;
      return condition.op === 'eq' ? actual === expected : actual !== expected;
    }
  }
}

export const tenantOf = (call: DataCall) => call.principal.tenantId;
export const scope = (call: DataCall) => ({ tenantId: tenantOf(call), actor: call.actor });
export const envelopeIn = (deps: DataDeps, trx: TenantTransaction) => {
  let envelope: Envelope | undefined;
  return () => (envelope ??= envelopeFor(trx, deps.keys.ring, deps.keys.cache));
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const notFound = (call: DataCall) => new RampartError('not_found', { detail: `no such ${call.target.resource.name}` });

/** The SELECT of one record by id (an id that is not a UUID matches nothing: 404 without SQL). */
function rowById(call: DataCall, id: string, options: { forUpdate?: boolean } = {}): RawBuilder<Row> {
  if (!UUID.test(id)) throw notFound(call);
  const lock = options.forUpdate ? sql` for update` : sql``;
  return sql<Row>`select ${selectList(call.target.resource)} from ${sql.table(call.target.table)} where "id" = ${id}${lock}`;
}

/** The read-by-id statement's text per resource spec and table: compiled once, bound per call. */
const readByIdText = new WeakMap<ResourceSpec, Map<string, string>>();

function readByIdQuery(deps: DataDeps, call: DataCall, id: string): CompiledQuery {
  if (!UUID.test(id)) throw notFound(call);
  const { resource, table } = call.target;
  let byTable = readByIdText.get(resource);
  if (!byTable) readByIdText.set(resource, (byTable = new Map()));
  let text = byTable.get(table);
  if (text === undefined) {
    text = rowById(call, id).compile(deps.db.app).sql;
    byTable.set(table, text);
  }
  return CompiledQuery.raw(text, [id]);
}

async function loadRow(trx: TenantTransaction, call: DataCall, id: string, options: { forUpdate?: boolean } = {}): Promise<Row> {
  const { rows } = await rowById(call, id, options).execute(trx);
  // Row-level security already hid other tenants' rows: theirs and missing ones both answer 404.
  if (!rows[0]) throw notFound(call);
  return rows[0];
}

/** Maps constraint violations to the field that caused them (the driver's text may carry values). */
function mapWriteError(error: unknown, call: DataCall): never {
  const { code, constraint } = error as { code?: string; constraint?: string };
  for (const field of call.target.resource.fields) {
    const pointer = `/${field.name}`;
    if (constraint === constraintName('fk', call.target.table, field.name)) {
      if (code === '23503') throw new RampartError('validation_failed', { detail: `body ${pointer}: no such ${field.to} in this tenant`, issues: [{ in: 'body', pointer, message: `no such ${field.to}` }] });
    }
    if (constraint === constraintName('uq', call.target.table, field.name) && code === '23505') {
      throw new RampartError('conflict', { detail: `another ${call.target.resource.name} has the same ${field.name}`, issues: [{ in: 'body', pointer, message: 'must be unique' }] });
    }
  }
  if (code === '23503') throw new RampartError('conflict', { detail: `this ${call.target.resource.name} is still referenced by other records` });
  throw error;
}

const classesOf = (resource: ResourceSpec) => Object.fromEntries(resource.fields.map((f) => [f.name, f.class]));

export async function createRecord(deps: DataDeps, call: DataCall, body: unknown): Promise<Record<string, unknown>> {
  const { resource, table } = call.target;
  const values = checkBody(resource, body, { partial: false });
  const id = uuidv7();
  const attributes = attributesOf(resource, { ...values, owner_id: call.principal.id });
  if (!postConditionsHold(call, 'create', attributes)) throw new RampartError('forbidden', { detail: `not allowed to create this ${resource.name}` });
  return withTenant(deps.db, scope(call), async (trx) => {
    const envelope = envelopeIn(deps, trx);
    const sealed = await sealValues(values, { resource, table, tenantId: tenantOf(call), envelope });
    const row = { tenant_id: tenantOf(call), id, owner_id: resource.attributes.owner ? call.principal.id : null, created_by: call.principal.id, ...sealed };
    const names = Object.keys(row);
    try {
      await sql`insert into ${sql.table(table)} (${sql.join(names.map((n) => sql.ref(n)))}) values (${sql.join(names.map((n) => (row as Record<string, unknown>)[n]))})`.execute(trx);
    } catch (error) {
      mapWriteError(error, call);
    }
    await deps.audit.record(trx, { tenantId: tenantOf(call), actor: call.actor, action: 'app.record.created', target: { type: call.target.type, id }, diff: diffRecords(null, values, { classes: classesOf(resource) }), ...(call.context ? { context: call.context } : {}) });
    return present(call, await loadRow(trx, call, id), envelope, tenantOf(call));
  });
}

/**
 * One record: the SELECT goes out with the tenant scope as one unit (readAsTenant: one call
 * embedded, one round trip on PostgreSQL), then the record is decided and shaped. Encrypted values
 * need the tenant's data key, which is read in a read-only tenant transaction of its own.
 */
export async function readRecord(deps: DataDeps, call: DataCall, id: string): Promise<Record<string, unknown>> {
  const [row] = await readAsTenant<Row>(deps.db, scope(call), readByIdQuery(deps, call, id));
  // Row-level security already hid other tenants' rows: theirs and missing ones both answer 404.
  if (!row) throw notFound(call);
  authorizeRecord(call.set, call.principal, 'read', { type: call.target.type, id, attributes: attributesOf(call.target.resource, row) });
  const sealed = call.target.resource.fields.some((field) => isEncrypted(field.class) && row[field.name] !== null && row[field.name] !== undefined);
  if (!sealed) return present(call, row, noEnvelope, tenantOf(call));
  return withTenant(deps.db, scope(call), (trx) => present(call, row, envelopeIn(deps, trx), tenantOf(call)), { readOnly: true });
}

/** For a record without encrypted values: present() never asks for the envelope. */
const noEnvelope = (): Envelope => {
  throw new Error('no encrypted value to open');
};

export async function updateRecord(deps: DataDeps, call: DataCall, id: string, body: unknown): Promise<Record<string, unknown>> {
  const { resource, table } = call.target;
  const changes = checkBody(resource, body, { partial: true });
  return withTenant(deps.db, scope(call), async (trx) => {
    const row = await loadRow(trx, call, id, { forUpdate: true });
    authorizeRecord(call.set, call.principal, 'update', { type: call.target.type, id, attributes: attributesOf(resource, row) });
    // WITH CHECK: the record as written must still be one the caller may update (no giving a deal away).
    if (!postConditionsHold(call, 'update', attributesOf(resource, { ...row, ...changes }))) throw new RampartError('forbidden', { detail: `the change would take this ${resource.name} outside what you may update` });
    const envelope = envelopeIn(deps, trx);
    const sealed = await sealValues(changes, { resource, table, tenantId: tenantOf(call), envelope });
    const names = Object.keys(sealed);
    if (names.length) {
      try {
        await sql`update ${sql.table(table)} set ${sql.join([...names.map((n) => sql`${sql.ref(n)} = ${sealed[n]}`), sql`"updated_at" = now()`])} where "id" = ${id}`.execute(trx);
      } catch (error) {
        mapWriteError(error, call);
      }
      const before = Object.fromEntries(names.map((n) => [n, row[n]]));
      await deps.audit.record(trx, { tenantId: tenantOf(call), actor: call.actor, action: 'app.record.updated', target: { type: call.target.type, id }, diff: diffRecords(before, changes, { classes: classesOf(resource) }), ...(call.context ? { context: call.context } : {}) });
    }
    return present(call, await loadRow(trx, call, id), envelope, tenantOf(call));
  });
}

export async function deleteRecord(deps: DataDeps, call: DataCall, id: string): Promise<void> {
  await withTenant(deps.db, scope(call), async (trx) => {
    const row = await loadRow(trx, call, id, { forUpdate: true });
    authorizeRecord(call.set, call.principal, 'delete', { type: call.target.type, id, attributes: attributesOf(call.target.resource, row) });
    try {
      await sql`delete from ${sql.table(call.target.table)} where "id" = ${id}`.execute(trx);
    } catch (error) {
      mapWriteError(error, call);
    }
    await deps.audit.record(trx, { tenantId: tenantOf(call), actor: call.actor, action: 'app.record.deleted', target: { type: call.target.type, id }, ...(call.context ? { context: call.context } : {}) });
  });
}
