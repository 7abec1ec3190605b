import type { Migration } from '../migrate.js';

/**
 * App builder storage (controls DE-4, AZ-1): migration plans compiled from app specs, their
 * approvals, and the spec each tenant has installed. The app tables themselves are created by
 * applying a plan (owner role, one transaction), never by this migration. rampart_app may create
 * and approve plans inside its tenant; only the owner-role apply path marks a plan applied or
 * changes what is installed (DE-2: the app role has no DDL and cannot fake an apply).
 */
export const appsMigration: Migration = {
  version: 8,
  name: 'apps',
  sql: `
CREATE TABLE app_plans (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id uuid PRIMARY KEY,
  app text NOT NULL CHECK (app ~ '^[a-z][a-z0-9_]{0,40}$'),
  from_version integer,
  to_version integer NOT NULL CHECK (to_version >= 1),
  spec jsonb NOT NULL,
  spec_hash text NOT NULL,
  steps jsonb NOT NULL,
  sql text NOT NULL,
  plan_hash text NOT NULL,
  destructive boolean NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'approved', 'applied', 'failed')),
  justification text NOT NULL CHECK (length(btrim(justification)) >= 10),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  approved_by text,
  approved_at timestamptz,
  applied_by text,
  applied_at timestamptz,
  error text CHECK (length(error) <= 2000),
  CHECK (approved_by IS NULL OR approved_by <> created_by)
);
CREATE INDEX app_plans_app ON app_plans (tenant_id, app, created_at DESC);

CREATE TABLE app_installed (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  app text NOT NULL CHECK (app ~ '^[a-z][a-z0-9_]{0,40}$'),
  version integer NOT NULL,
  spec jsonb NOT NULL,
  spec_hash text NOT NULL,
  resources jsonb NOT NULL,
  plan_id uuid NOT NULL REFERENCES app_plans(id),
  installed_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, app)
);

DO $rls$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['app_plans', 'app_installed'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I TO rampart_app USING (tenant_id = rampart_current_tenant()) WITH CHECK (tenant_id = rampart_current_tenant())', t);
    EXECUTE format('CREATE POLICY system_access ON %I TO CURRENT_USER USING (true) WITH CHECK (true)', t);
  END LOOP;
END
$rls$;
GRANT SELECT, INSERT ON app_plans TO rampart_app;
GRANT UPDATE (status, approved_by, approved_at) ON app_plans TO rampart_app;
GRANT SELECT ON app_installed TO rampart_app;
`,
};
