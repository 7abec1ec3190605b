import { createHash } from 'node:crypto';
import type { FieldSpec, ResourceSpec } from '../spec/schema.js';
import { isEncrypted, sqlType, TEXT_TYPES, NUMBER_TYPES, type TableNamer } from '../spec/model.js';

/**
 * SQL text for app tables. Every identifier has passed the spec's identifier pattern and is
 * quoted again here through `ident`, which refuses anything else: no SQL is ever built from an
 * unvalidated string. Literals are only numbers (checked finite) and enum values (checked against
 * their own pattern). Every table gets the tenant block of the built-in tables (invariant 1):
 * tenant_id NOT NULL, ENABLE + FORCE row level security, the tenant_isolation policy for
 * rampart_app, system_access for the owner, and the narrowest grants the data API needs.
 */

const SAFE_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const SAFE_ENUM = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function ident(name: string): string {
  if (!SAFE_IDENTIFIER.test(name)) throw new Error(`refusing unsafe SQL identifier ${JSON.stringify(name.slice(0, 80))}`);
  return `"${name}"`;
}

const num = (value: number): string => {
  if (!Number.isFinite(value)) throw new Error('refusing a non-finite SQL number');
  return String(value);
};

const enumLiteral = (value: string): string => {
  if (!SAFE_ENUM.test(value)) throw new Error('refusing an unsafe enum literal');
  return `'${value}'`;
};

/** Constraint and index names derive from table, column and kind (short, stable, never truncated). */
export const constraintName = (kind: 'ck' | 'uq' | 'fk' | 'ix', table: string, column: string): string =>
  `${kind}_${createHash('sha256').update(`${table}.${column}.${kind}`).digest('hex').slice(0, 24)}`;

export function columnDefinition(field: FieldSpec): string {
  return `${ident(field.name)} ${sqlType(field)}${field.required ? ' NOT NULL' : ''}`;
}

/** CHECK and UNIQUE constraints of one column (not its reference), as ALTER TABLE statements. */
export function columnConstraints(table: string, field: FieldSpec): string[] {
  const t = ident(table);
  const c = ident(field.name);
  const out: string[] = [];
  if (!isEncrypted(field.class)) {
    const checks: string[] = [];
    if (field.type === 'enum' && field.values) checks.push(`${c} IN (${field.values.map(enumLiteral).join(', ')})`);
    if (field.type === 'email') checks.push(`${c} ~ '^[^@[:space:]]+@[^@[:space:]]+$'`);
    if (NUMBER_TYPES.has(field.type)) {
      if (field.min !== undefined) checks.push(`${c} >= ${num(field.min)}`);
      if (field.max !== undefined) checks.push(`${c} <= ${num(field.max)}`);
    } else if (TEXT_TYPES.has(field.type)) {
      if (field.min !== undefined) checks.push(`char_length(${c}) >= ${num(field.min)}`);
      if (field.max !== undefined) checks.push(`char_length(${c}) <= ${num(field.max)}`);
    }
    if (checks.length) out.push(`ALTER TABLE ${t} ADD CONSTRAINT ${ident(constraintName('ck', table, field.name))} CHECK (${checks.join(' AND ')});`);
    if (field.unique) out.push(`ALTER TABLE ${t} ADD CONSTRAINT ${ident(constraintName('uq', table, field.name))} UNIQUE ("tenant_id", ${c});`);
  }
  return out;
}

/**
 * A reference is a composite foreign key on (tenant_id, column): the database itself refuses a
 * row pointing at another tenant's record, whatever the API does.
 */
export function referenceConstraint(tableOf: TableNamer, table: string, field: FieldSpec): string[] {
  if (field.type !== 'reference' || !field.to) return [];
  const onDelete = field.onDelete === 'cascade' ? 'CASCADE' : field.onDelete === 'set_null' ? `SET NULL (${ident(field.name)})` : 'RESTRICT';
  return [
    `ALTER TABLE ${ident(table)} ADD CONSTRAINT ${ident(constraintName('fk', table, field.name))} FOREIGN KEY ("tenant_id", ${ident(field.name)}) REFERENCES ${ident(tableOf(field.to))} ("tenant_id", "id") ON DELETE ${onDelete};`,
    `CREATE INDEX ${ident(constraintName('ix', table, field.name))} ON ${ident(table)} ("tenant_id", ${ident(field.name)});`,
  ];
}

export function dropColumnConstraints(table: string, column: string, options: { withReference: boolean }): string[] {
  const t = ident(table);
  const out = [
    `ALTER TABLE ${t} DROP CONSTRAINT IF EXISTS ${ident(constraintName('ck', table, column))};`,
    `ALTER TABLE ${t} DROP CONSTRAINT IF EXISTS ${ident(constraintName('uq', table, column))};`,
  ];
  if (options.withReference) {
    out.push(`ALTER TABLE ${t} DROP CONSTRAINT IF EXISTS ${ident(constraintName('fk', table, column))};`, `DROP INDEX IF EXISTS ${ident(constraintName('ix', table, column))};`);
  }
  return out;
}

export const grantUpdate = (table: string, columns: string[]): string => `GRANT UPDATE (${columns.map(ident).join(', ')}) ON ${ident(table)} TO rampart_app;`;

/** CREATE TABLE with the system columns, the fields, row security and grants (references come later). */
export function createTable(tableOf: TableNamer, resource: ResourceSpec): string[] {
  const table = tableOf(resource.name);
  const t = ident(table);
  const columns = [
    '"tenant_id" uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE',
    '"id" uuid NOT NULL',
    '"owner_id" text',
    '"created_by" text NOT NULL',
    '"created_at" timestamptz NOT NULL DEFAULT now()',
    '"updated_at" timestamptz NOT NULL DEFAULT now()',
    ...resource.fields.map(columnDefinition),
    'PRIMARY KEY ("tenant_id", "id")',
  ];
  return [
    `CREATE TABLE ${t} (\n  ${columns.join(',\n  ')}\n);`,
    ...resource.fields.flatMap((field) => columnConstraints(table, field)),
    `CREATE INDEX ${ident(constraintName('ix', table, 'created_at'))} ON ${t} ("tenant_id", "created_at", "id");`,
    ...(resource.attributes.owner ? [`CREATE INDEX ${ident(constraintName('ix', table, 'owner_id'))} ON ${t} ("tenant_id", "owner_id");`] : []),
    `ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY;`,
    `ALTER TABLE ${t} FORCE ROW LEVEL SECURITY;`,
    `CREATE POLICY tenant_isolation ON ${t} TO rampart_app USING (tenant_id = rampart_current_tenant()) WITH CHECK (tenant_id = rampart_current_tenant());`,
    `CREATE POLICY system_access ON ${t} TO CURRENT_USER USING (true) WITH CHECK (true);`,
    `GRANT SELECT, INSERT, DELETE ON ${t} TO rampart_app;`,
    grantUpdate(table, [...resource.fields.map((f) => f.name), 'updated_at']),
  ];
}
