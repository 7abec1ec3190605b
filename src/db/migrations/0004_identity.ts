import type { Migration } from '../migrate.js';

/**
 * Identity accounts and sessions, per tenant (controls ID-4, ID-5, ID-6): users are scoped to a
 * tenant like Keycloak realms, so every table carries tenant_id under forced RLS (invariant 1).
 * Secrets are never stored in the clear: sessions and invitations keep the SHA-256 of their
 * random token, recovery codes an HMAC under a server pepper, TOTP secrets a ciphertext under the
 * tenant's data key (DA-2). Grants are the narrowest the operations need: nothing is deleted by
 * the app role except superseded TOTP enrollments and recovery code sets.
 */
export const identityMigration: Migration = {
  version: 4,
  name: 'identity',
  sql: `
CREATE TABLE users (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id uuid PRIMARY KEY,
  email text NOT NULL CHECK (length(email) BETWEEN 3 AND 320 AND email = lower(email) AND position('@' in email) > 1),
  display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  department text CHECK (length(department) <= 100),
  region text CHECK (length(region) <= 100),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  password_hash text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, email),
  UNIQUE (tenant_id, id)
);

CREATE TABLE user_roles (
  tenant_id uuid NOT NULL,
  user_id uuid NOT NULL,
  role text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id, role),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, role) REFERENCES authz_roles(tenant_id, name)
);

CREATE TABLE invitations (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id uuid PRIMARY KEY,
  email text NOT NULL CHECK (length(email) BETWEEN 3 AND 320 AND email = lower(email)),
  role text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  used_by uuid,
  invited_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, role) REFERENCES authz_roles(tenant_id, name)
);

CREATE TABLE sessions (
  tenant_id uuid NOT NULL,
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL,
  token_hash text NOT NULL UNIQUE,
  stage text NOT NULL CHECK (stage IN ('ok', 'mfa_enrollment_required', 'mfa_required', 'passkey_required')),
  created_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  idle_expires_at timestamptz NOT NULL,
  absolute_expires_at timestamptz NOT NULL,
  auth_time timestamptz NOT NULL,
  amr text[] NOT NULL DEFAULT '{}',
  acr text NOT NULL,
  ip inet,
  user_agent text CHECK (length(user_agent) <= 512),
  revoked_at timestamptz,
  revoked_reason text CHECK (length(revoked_reason) <= 200),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id) WHERE revoked_at IS NULL;

CREATE TABLE totp_credentials (
  tenant_id uuid NOT NULL,
  user_id uuid NOT NULL,
  secret_ciphertext text NOT NULL,
  last_used_step integer CHECK (last_used_step >= 0),
  confirmed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE recovery_codes (
  tenant_id uuid NOT NULL,
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL,
  code_hash text NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX recovery_codes_user ON recovery_codes (tenant_id, user_id);

DO $rls$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['users', 'user_roles', 'invitations', 'sessions', 'totp_credentials', 'recovery_codes'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I TO rampart_app USING (tenant_id = rampart_current_tenant()) WITH CHECK (tenant_id = rampart_current_tenant())', t);
    EXECUTE format('CREATE POLICY system_access ON %I TO CURRENT_USER USING (true) WITH CHECK (true)', t);
  END LOOP;
END
$rls$;
GRANT SELECT, INSERT ON users TO rampart_app;
GRANT UPDATE (display_name, department, region, status, password_hash, updated_at) ON users TO rampart_app;
GRANT SELECT, INSERT, DELETE ON user_roles TO rampart_app;
GRANT SELECT, INSERT ON invitations TO rampart_app;
GRANT UPDATE (used_at, used_by) ON invitations TO rampart_app;
GRANT SELECT, INSERT ON sessions TO rampart_app;
GRANT UPDATE (token_hash, stage, auth_time, last_seen_at, idle_expires_at, absolute_expires_at, amr, acr, revoked_at, revoked_reason) ON sessions TO rampart_app;
GRANT SELECT, INSERT, DELETE ON totp_credentials TO rampart_app;
GRANT UPDATE (last_used_step, confirmed_at) ON totp_credentials TO rampart_app;
GRANT SELECT, INSERT, DELETE ON recovery_codes TO rampart_app;
GRANT UPDATE (used_at) ON recovery_codes TO rampart_app;
`,
};
