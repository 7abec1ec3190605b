import type { Migration } from '../migrate.js';

/**
 * Identity extras (controls ID-4, ID-5, ID-7, ID-9, ID-10):
 * - `sessions.webauthn_verified_at`: when this session last proved a passkey (sign-in or step-up).
 *   Freshness is computed from it at check time, so an elevation expires with its max age instead
 *   of sticking to the session (Keycloak discussion #39084).
 * - Passkey management: the app role may rename and delete its tenant's passkeys.
 * - `webauthn_challenges` also serve username-less sign-in (no session or user yet) and step-up.
 * - `magic_links` and `setup_tokens`: single-use, expiring, only the SHA-256 of the token stored.
 * Same RLS pattern as 0004: ENABLE + FORCE, `tenant_isolation` for the app role, `system_access`
 * for the owner (the purge job), narrowest grants.
 */
export const identityExtrasMigration: Migration = {
  version: 7,
  name: 'identity_extras',
  sql: `
ALTER TABLE sessions ADD COLUMN webauthn_verified_at timestamptz;
GRANT UPDATE (webauthn_verified_at) ON sessions TO rampart_app;
CREATE INDEX sessions_purge ON sessions (absolute_expires_at);

GRANT UPDATE (name) ON webauthn_credentials TO rampart_app;
GRANT DELETE ON webauthn_credentials TO rampart_app;

ALTER TABLE webauthn_challenges ALTER COLUMN session_id DROP NOT NULL;
ALTER TABLE webauthn_challenges ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE webauthn_challenges DROP CONSTRAINT webauthn_challenges_purpose_check;
ALTER TABLE webauthn_challenges ADD CONSTRAINT webauthn_challenges_purpose_check CHECK (purpose IN ('register', 'authenticate', 'step_up', 'sign_in'));
ALTER TABLE webauthn_challenges ADD CONSTRAINT webauthn_challenges_bound CHECK (purpose = 'sign_in' OR (session_id IS NOT NULL AND user_id IS NOT NULL));
CREATE UNIQUE INDEX webauthn_challenges_sign_in ON webauthn_challenges (tenant_id, challenge) WHERE purpose = 'sign_in';

CREATE TABLE magic_links (
  tenant_id uuid NOT NULL,
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL,
  token_hash text NOT NULL UNIQUE CHECK (length(token_hash) = 64),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  ip inet,
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX magic_links_expiry ON magic_links (expires_at);

CREATE TABLE setup_tokens (
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  id uuid PRIMARY KEY,
  token_hash text NOT NULL UNIQUE CHECK (length(token_hash) = 64),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  used_by uuid,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

DO $rls$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['magic_links', 'setup_tokens'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I TO rampart_app USING (tenant_id = rampart_current_tenant()) WITH CHECK (tenant_id = rampart_current_tenant())', t);
    EXECUTE format('CREATE POLICY system_access ON %I TO CURRENT_USER USING (true) WITH CHECK (true)', t);
  END LOOP;
END
$rls$;
GRANT SELECT, INSERT ON magic_links TO rampart_app;
GRANT UPDATE (used_at) ON magic_links TO rampart_app;
GRANT SELECT, INSERT ON setup_tokens TO rampart_app;
GRANT UPDATE (used_at, used_by, revoked_at) ON setup_tokens TO rampart_app;
`,
};
