import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** Kysely types of the built-in tables. Each module adds its own tables' types here as it lands. */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json = ColumnType<unknown, string, string>;

export type MigrationsTable = {
  version: number;
  name: string;
  checksum: string;
  applied_at: Generated<Date>;
  duration_ms: number;
};

export type TenantStatus = 'active' | 'suspended';

export type TenantsTable = {
  id: string;
  slug: string;
  name: string;
  status: Generated<TenantStatus>;
  created_at: Timestamp;
  updated_at: Timestamp;
};

export type TenantDataKeysTable = {
  tenant_id: string;
  id: string;
  kek_id: string;
  wrapped: Buffer | Uint8Array;
  status: 'active' | 'retired';
  created_at: Timestamp;
  retired_at: Date | null;
};

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'dead';

export type JobsTable = {
  id: string;
  tenant_id: string | null;
  kind: string;
  payload: Json;
  status: Generated<JobStatus>;
  run_at: Timestamp;
  attempts: Generated<number>;
  max_attempts: Generated<number>;
  last_error: string | null;
  locked_by: string | null;
  locked_until: Date | null;
  recurring_key: string | null;
  interval_seconds: number | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  finished_at: Date | null;
};

export type Schema = {
  rampart_migrations: MigrationsTable;
  tenants: TenantsTable;
  tenant_data_keys: TenantDataKeysTable;
  jobs: JobsTable;
};

export type Tenant = Selectable<TenantsTable>;
export type NewTenant = Insertable<TenantsTable>;
export type Job = Selectable<JobsTable>;
