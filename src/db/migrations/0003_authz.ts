import type { Migration } from '../migrate.js';

/**
 * Authorization data per tenant (controls AZ-1, AZ-3, AZ-4, AZ-5): roles, the role-permission
 * matrix as one row per grant, attribute rules, tenant-written Cedar policies, the log of changes
 * that explain every grant (with their justification), and the snapshots drift detection diffs.
 */
export const authzMigration: Migration = {
  version: 3,
  name: 'authz',
  sql: `
CREATE TABLE authz_roles (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  high_privilege boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, name)
);

CREATE TABLE authz_changes (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id uuid PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('bootstrap', 'matrix', 'rule', 'policy', 'role')),
  summary text NOT NULL,
  added jsonb NOT NULL DEFAULT '[]'::jsonb,
  removed jsonb NOT NULL DEFAULT '[]'::jsonb,
  justification text NOT NULL CHECK (length(btrim(justification)) >= 10),
  requested_by text NOT NULL,
  approved_by text,
  status text NOT NULL CHECK (status IN ('applied', 'pending', 'rejected')),
  created_at timestamptz NOT NULL,
  applied_at timestamptz
);
CREATE INDEX authz_changes_applied ON authz_changes (tenant_id, applied_at);

CREATE TABLE authz_grants (
  tenant_id uuid NOT NULL,
  role text NOT NULL,
  resource text NOT NULL CHECK (resource ~ '^[a-z][a-z0-9_.:-]{0,127}$'),
  action text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_:-]{0,63}$'),
  change_id uuid REFERENCES authz_changes(id),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, role, resource, action),
  FOREIGN KEY (tenant_id, role) REFERENCES authz_roles(tenant_id, name) ON DELETE CASCADE
);

CREATE TABLE authz_rules (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id text NOT NULL CHECK (id ~ '^[a-z][a-z0-9_.:-]{0,62}$'),
  definition jsonb NOT NULL,
  change_id uuid REFERENCES authz_changes(id),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE authz_policies (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id text NOT NULL CHECK (id ~ '^[a-z][a-z0-9_.:-]{0,62}$'),
  cedar text NOT NULL CHECK (length(cedar) <= 20000),
  description text NOT NULL DEFAULT '',
  change_id uuid REFERENCES authz_changes(id),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE authz_snapshots (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id uuid PRIMARY KEY,
  taken_at timestamptz NOT NULL,
  grants jsonb NOT NULL,
  rules jsonb NOT NULL,
  policies jsonb NOT NULL,
  digest text NOT NULL
);
CREATE INDEX authz_snapshots_latest ON authz_snapshots (tenant_id, taken_at DESC);

DO $rls$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['authz_roles', 'authz_changes', 'authz_grants', 'authz_rules', 'authz_policies', 'authz_snapshots'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I TO rampart_app USING (tenant_id = rampart_current_tenant()) WITH CHECK (tenant_id = rampart_current_tenant())', t);
    EXECUTE format('CREATE POLICY system_access ON %I TO CURRENT_USER USING (true) WITH CHECK (true)', t);
  END LOOP;
END
$rls$;
GRANT SELECT, INSERT, UPDATE, DELETE ON authz_roles, authz_grants, authz_rules, authz_policies TO rampart_app;
GRANT SELECT, INSERT ON authz_changes TO rampart_app;
GRANT UPDATE (status, approved_by, applied_at) ON authz_changes TO rampart_app;
GRANT SELECT ON authz_snapshots TO rampart_app;
`,
};
