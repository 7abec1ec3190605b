import type { Migration } from '../migrate.js';

/**
 * The platform scope (DESIGN "Scopes"):
 * - `platform_operators`: who may reach platform resources (signing keys, jobs, the outbox). A row
 *   names a user account of some tenant (`account_*`, not `tenant_id`: the row belongs to no tenant), but the grant lives outside every tenant: closed to the
 *   app role (no grant, no policy), so no tenant principal can read or write it. It is written on
 *   the host (`rampart platform grant`) and by the first-admin setup of an install that has no
 *   operator yet.
 * - Platform resources leave the tenant catalogue: grants a tenant held on them (the default matrix
 *   gave admins `signing_key` and auditors `job`) are removed, so no tenant policy set names them.
 * - `authz_changes.request`: a change that waits for a second admin keeps what it will apply.
 * - `app_plans.requires_approval`: an app plan that grants an owner-only permission waits for a
 *   second admin in every environment, not only in production (the tenant ceiling).
 */
export const platformMigration: Migration = {
  version: 11,
  name: 'platform',
  sql: `
CREATE TABLE platform_operators (
  account_tenant_id uuid NOT NULL,
  account_user_id uuid NOT NULL,
  granted_by text NOT NULL CHECK (length(granted_by) BETWEEN 1 AND 200),
  justification text NOT NULL CHECK (length(justification) BETWEEN 1 AND 2000),
  granted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_tenant_id, account_user_id),
  FOREIGN KEY (account_tenant_id, account_user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE
);
REVOKE ALL ON platform_operators FROM rampart_app;
ALTER TABLE platform_operators ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_operators FORCE ROW LEVEL SECURITY;

DELETE FROM authz_grants WHERE resource IN ('signing_key', 'platform_operator', 'job', 'outbox');

ALTER TABLE authz_changes ADD COLUMN request jsonb;

ALTER TABLE app_plans ADD COLUMN requires_approval boolean NOT NULL DEFAULT false;
`,
};
