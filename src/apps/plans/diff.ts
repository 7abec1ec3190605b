import type { AppSpec, FieldSpec, ResourceSpec } from '../spec/schema.js';
import { isEncrypted, sqlType, type TableNamer } from '../spec/model.js';
import { columnConstraints, columnDefinition, constraintName, createTable, dropColumnConstraints, grantUpdate, ident, referenceConstraint } from '../compile/ddl.js';
import type { Finding } from '../lint/lint.js';

/**
 * Spec v1 -> v2 as a list of steps (control DE-4): create or drop a table, add, rename, change or
 * drop a column. Steps that can lose data (drops, type changes) are flagged destructive and need an
 * explicit confirmation to apply. A change that SQL cannot express safely (a column moving between
 * plaintext and encrypted storage) is refused with a finding instead of half-done.
 */

export type PlanStepKind = 'create_table' | 'drop_table' | 'add_column' | 'drop_column' | 'rename_column' | 'change_column' | 'add_reference';

export type PlanStep = { kind: PlanStepKind; resource: string; field?: string; destructive: boolean; summary: string; sql: string[] };

export type PlanDiff = { steps: PlanStep[]; problems: Finding[] };

export function diffSpecs(from: AppSpec | null, to: AppSpec, tableOf: TableNamer): PlanDiff {
  const steps: PlanStep[] = [];
  const references: PlanStep[] = [];
  const problems: Finding[] = [];
  if (from && from.app !== to.app) {
    problems.push({ code: 'plan/app-mismatch', pointer: '/app', message: `the installed app is "${from.app}"`, severity: 'error' });
    return { steps, problems };
  }
  const before = new Map((from?.resources ?? []).map((r) => [r.name, r]));
  const after = new Map(to.resources.map((r) => [r.name, r]));

  to.resources.forEach((resource, r) => {
    const old = before.get(resource.name);
    const table = tableOf(resource.name);
    if (!old) {
      steps.push({ kind: 'create_table', resource: resource.name, destructive: false, summary: `create table ${table} (${resource.fields.length} fields) with row security`, sql: createTable(tableOf, resource) });
      for (const field of resource.fields) {
        const sql = referenceConstraint(tableOf, table, field);
        if (sql.length) references.push({ kind: 'add_reference', resource: resource.name, field: field.name, destructive: false, summary: `${table}.${field.name} references ${field.to} in the same tenant`, sql });
      }
      return;
    }
    diffResource(tableOf, old, resource, `/resources/${r}`, steps, references, problems);
  });
  for (const old of from?.resources ?? []) {
    if (after.has(old.name)) continue;
    const table = tableOf(old.name);
    steps.push({ kind: 'drop_table', resource: old.name, destructive: true, summary: `DROP table ${table} and every row in it`, sql: [`DROP TABLE ${ident(table)};`] });
  }
  // Dropped columns first (they may reference a dropped table), then dropped tables; references last.
  const order = (step: PlanStep) => (step.kind === 'drop_column' ? 0 : step.kind === 'drop_table' ? 1 : 2);
  return { steps: [...steps.sort((a, b) => order(a) - order(b)), ...references], problems };
}

function changed(a: FieldSpec, b: FieldSpec): boolean {
  const shape = (f: FieldSpec) => JSON.stringify([sqlType(f), f.type, f.required, f.unique, f.values ?? null, f.min ?? null, f.max ?? null, f.to ?? null, f.onDelete, isEncrypted(f.class)]);
  return shape(a) !== shape(b);
}

function diffResource(tableOf: TableNamer, old: ResourceSpec, resource: ResourceSpec, at: string, steps: PlanStep[], references: PlanStep[], problems: Finding[]): void {
  const table = tableOf(resource.name);
  const t = ident(table);
  const oldFields = new Map(old.fields.map((f) => [f.name, f]));
  const kept = new Set<string>();
  resource.fields.forEach((field, f) => {
    const pointer = `${at}/fields/${f}`;
    const renamedFrom = field.renamedFrom && !oldFields.has(field.name) ? oldFields.get(field.renamedFrom) : undefined;
    const previous = oldFields.get(field.name) ?? renamedFrom;
    if (!previous) {
      steps.push({
        kind: 'add_column',
        resource: resource.name,
        field: field.name,
        destructive: false,
        summary: `add ${table}.${field.name} ${sqlType(field)}${field.required ? ' NOT NULL (fails on a table with rows)' : ''}`,
        sql: [`ALTER TABLE ${t} ADD COLUMN ${columnDefinition(field)};`, ...columnConstraints(table, field), grantUpdate(table, [field.name])],
      });
      const sql = referenceConstraint(tableOf, table, field);
      if (sql.length) references.push({ kind: 'add_reference', resource: resource.name, field: field.name, destructive: false, summary: `${table}.${field.name} references ${field.to} in the same tenant`, sql });
      return;
    }
    kept.add(previous.name);
    if (isEncrypted(previous.class) !== isEncrypted(field.class)) {
      problems.push({ code: 'plan/encryption-change', pointer: `${pointer}/class`, message: `moving ${field.name} between plaintext (${previous.class}) and encrypted (${field.class}) storage cannot be done in SQL: add a new field and copy the values through the data API`, severity: 'error' });
      return;
    }
    const sql: string[] = [];
    if (previous.name !== field.name) {
      sql.push(...dropColumnConstraints(table, previous.name, { withReference: previous.type === 'reference' }));
      sql.push(`ALTER TABLE ${t} RENAME COLUMN ${ident(previous.name)} TO ${ident(field.name)};`);
    }
    const isChanged = changed(previous, field);
    if (isChanged && previous.name === field.name) sql.push(...dropColumnConstraints(table, field.name, { withReference: previous.type === 'reference' }));
    const typeChanged = sqlType(previous) !== sqlType(field);
    if (typeChanged) sql.push(`ALTER TABLE ${t} ALTER COLUMN ${ident(field.name)} TYPE ${sqlType(field)} USING ${ident(field.name)}::${sqlType(field)};`);
    if (previous.required !== field.required) sql.push(`ALTER TABLE ${t} ALTER COLUMN ${ident(field.name)} ${field.required ? 'SET' : 'DROP'} NOT NULL;`);
    if (isChanged || previous.name !== field.name) {
      sql.push(...columnConstraints(table, field));
      const reference = referenceConstraint(tableOf, table, field);
      if (reference.length) references.push({ kind: 'add_reference', resource: resource.name, field: field.name, destructive: false, summary: `${table}.${field.name} references ${field.to} in the same tenant`, sql: reference });
    }
    if (!sql.length) return;
    const what = [previous.name !== field.name ? `rename ${previous.name} -> ${field.name}` : '', typeChanged ? `type ${sqlType(previous)} -> ${sqlType(field)}` : '', isChanged && !typeChanged ? 'constraints' : ''].filter(Boolean).join(', ');
    steps.push({ kind: previous.name !== field.name && !isChanged ? 'rename_column' : 'change_column', resource: resource.name, field: field.name, destructive: typeChanged, summary: `${table}: ${what}`, sql });
  });
  for (const field of old.fields) {
    if (kept.has(field.name)) continue;
    steps.push({ kind: 'drop_column', resource: resource.name, field: field.name, destructive: true, summary: `DROP column ${table}.${field.name} and its values`, sql: [`ALTER TABLE ${t} DROP COLUMN ${ident(field.name)};`] });
  }
  if (!old.attributes.owner && resource.attributes.owner) {
    steps.push({ kind: 'change_column', resource: resource.name, field: 'owner_id', destructive: false, summary: `${table}: index owner_id`, sql: [`CREATE INDEX IF NOT EXISTS ${ident(constraintName('ix', table, 'owner_id'))} ON ${t} ("tenant_id", "owner_id");`] });
  }
}
