import { createHash } from 'node:crypto';
import type { DataClass, FieldSpec, FieldType, ResourceSpec } from './schema.js';
import { STANDARD_APP_ACTIONS } from './schema.js';

/** Names and derived facts every part of the app module agrees on. */

/**
 * Each tenant has its own tables (tenants install different apps and versions of them), named
 * `app_<tenant key>_<app>__<resource>`; `__` cannot occur in an identifier, so names never collide
 * within a tenant. The tenant key is 48 bits of SHA-256 of the tenant id: should two tenants ever
 * share one, CREATE TABLE fails rather than sharing a table, and row security still separates rows.
 */
const tenantKeys = new Map<string, string>();
/** A tenant's key in its app tables' names; memoized (bounded), since every data API call needs it. */
export const tenantKey = (tenantId: string): string => {
  let key = tenantKeys.get(tenantId);
  if (key === undefined) {
    key = createHash('sha256').update(`rampart:app-tables:${tenantId}`).digest('hex').slice(0, 12);
    if (tenantKeys.size >= 10_000) tenantKeys.clear();
    tenantKeys.set(tenantId, key);
  }
  return key;
};
export const tableName = (key: string, app: string, resource: string): string => `app_${key}_${app}__${resource}`;
/** Table names of one tenant's app. */
export type TableNamer = (resource: string) => string;
export const tableNamer = (key: string, app: string): TableNamer => (resource) => tableName(key, app, resource);
/** The resource's name in the tenant's authorization catalog (and its Cedar entity type). */
export const catalogName = (app: string, resource: string): string => `${app}__${resource}`;
/** PostgreSQL truncates identifiers longer than 63 bytes; truncation could make two tables one. */
export const MAX_SQL_IDENTIFIER = 63;

/** Columns every app table has; a field may not take their names. */
export const SYSTEM_COLUMNS = ['tenant_id', 'id', 'owner_id', 'created_by', 'created_at', 'updated_at'] as const;

/** Classes stored encrypted with the tenant's data key (DA-2). */
export const isEncrypted = (dataClass: DataClass): boolean => dataClass === 'phi' || dataClass === 'secret';

/** Classes masked unless the caller holds the matching action on the resource (DA-1). */
export const GATED_CLASSES: Partial<Record<DataClass, string>> = { pii: 'read_pii', phi: 'read_phi', secret: 'read_secret' };

export const TEXT_TYPES: ReadonlySet<FieldType> = new Set(['text', 'long_text', 'email', 'phone', 'url', 'enum']);
export const NUMBER_TYPES: ReadonlySet<FieldType> = new Set(['integer', 'decimal', 'money']);

/** Every action of a resource: the standard six, its custom ones, and a `read_<class>` per gated class it holds. */
export function resourceActions(resource: Pick<ResourceSpec, 'actions' | 'fields'>): string[] {
  const gated = new Set<string>();
  for (const field of resource.fields) {
    const action = GATED_CLASSES[field.class];
    if (action) gated.add(action);
  }
  return [...new Set([...STANDARD_APP_ACTIONS, ...resource.actions, ...[...gated].sort()])];
}

/** The SQL type of a field's column. Encrypted fields hold a ciphertext string whatever their type. */
export function sqlType(field: Pick<FieldSpec, 'type' | 'class' | 'scale'>): string {
  if (isEncrypted(field.class)) return 'text';
  switch (field.type) {
    case 'integer':
    case 'money':
      return 'bigint';
    case 'decimal':
      return field.scale === undefined ? 'numeric' : `numeric(38, ${field.scale})`;
    case 'date':
      return 'date';
    case 'datetime':
      return 'timestamptz';
    case 'boolean':
      return 'boolean';
    case 'reference':
      return 'uuid';
    case 'json':
      return 'jsonb';
    default:
      return 'text';
  }
}
