import type { Migration } from '../migrate.js';

/**
 * Core tables: tenants, tenant data keys, jobs. Frozen once released: the runner checksums this
 * text, so a change here must be a new migration.
 *
 * Tenancy (invariant 1): every table with tenant data has ENABLE + FORCE ROW LEVEL SECURITY and a
 * policy for rampart_app on rampart_current_tenant(). The `system_access` policies exist for an
 * owner role that is not a superuser (managed PostgreSQL): FORCE applies to table owners too, and
 * system work (jobs, maintenance) must still see every tenant. They apply to the migrating role
 * only, never to rampart_app. (control: DE-2)
 */
export const coreMigration: Migration = {
  version: 1,
  name: 'core',
  sql: `
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO rampart_app;

CREATE FUNCTION rampart_current_tenant() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $fn$ SELECT NULLIF(current_setting('rampart.tenant_id', true), '')::uuid $fn$;

CREATE FUNCTION rampart_current_actor() RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $fn$ SELECT NULLIF(current_setting('rampart.actor_id', true), '') $fn$;

CREATE TABLE tenants (
  id uuid PRIMARY KEY,
  slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants TO rampart_app
  USING (id = rampart_current_tenant());
CREATE POLICY system_access ON tenants TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT ON tenants TO rampart_app;

CREATE TABLE tenant_data_keys (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
  id text PRIMARY KEY,
  kek_id text NOT NULL,
  wrapped bytea NOT NULL,
  status text NOT NULL CHECK (status IN ('active', 'retired')),
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz
);
CREATE UNIQUE INDEX tenant_data_keys_one_active ON tenant_data_keys (tenant_id) WHERE status = 'active';
CREATE INDEX tenant_data_keys_kek ON tenant_data_keys (kek_id);
ALTER TABLE tenant_data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_data_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_data_keys TO rampart_app
  USING (tenant_id = rampart_current_tenant())
  WITH CHECK (tenant_id = rampart_current_tenant());
CREATE POLICY system_access ON tenant_data_keys TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT, INSERT ON tenant_data_keys TO rampart_app;
GRANT UPDATE (status, retired_at) ON tenant_data_keys TO rampart_app;

CREATE TABLE jobs (
  id uuid PRIMARY KEY,
  tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.:-]{0,99}$'),
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'dead')),
  run_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
  last_error text,
  locked_by text,
  locked_until timestamptz,
  recurring_key text UNIQUE,
  interval_seconds integer CHECK (interval_seconds IS NULL OR interval_seconds > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  CHECK ((recurring_key IS NULL) = (interval_seconds IS NULL))
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_lease ON jobs (locked_until) WHERE status = 'running';
CREATE INDEX jobs_tenant ON jobs (tenant_id, created_at);
ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON jobs TO rampart_app
  USING (tenant_id = rampart_current_tenant())
  WITH CHECK (tenant_id = rampart_current_tenant());
CREATE POLICY system_access ON jobs TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT, INSERT ON jobs TO rampart_app;
`,
};
