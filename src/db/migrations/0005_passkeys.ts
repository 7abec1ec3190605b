import type { Migration } from '../migrate.js';

/**
 * Passkeys (WebAuthn) as a second factor and the factor high-privilege roles require (ID-4, ID-5).
 * Credentials keep only the public key, the signature counter (a counter that stops increasing
 * hints at a cloned authenticator) and display metadata. Ceremony challenges are bound to the
 * session that asked for them, single use (`used_at` is set by a conditional UPDATE) and expire
 * after five minutes. Same RLS pattern as 0004: ENABLE + FORCE, `tenant_isolation` for the app
 * role, `system_access` for the owner, column-level UPDATE grants only, no DELETE.
 */
export const passkeysMigration: Migration = {
  version: 5,
  name: 'passkeys',
  sql: `
CREATE TABLE webauthn_credentials (
  tenant_id uuid NOT NULL,
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL,
  credential_id text NOT NULL CHECK (length(credential_id) BETWEEN 1 AND 1400 AND credential_id ~ '^[A-Za-z0-9_-]+$'),
  public_key bytea NOT NULL CHECK (length(public_key) BETWEEN 1 AND 4096),
  counter bigint NOT NULL DEFAULT 0 CHECK (counter >= 0),
  transports text[] NOT NULL DEFAULT '{}',
  device_type text NOT NULL CHECK (device_type IN ('singleDevice', 'multiDevice')),
  backed_up boolean NOT NULL,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  UNIQUE (tenant_id, credential_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (tenant_id, user_id);

CREATE TABLE webauthn_challenges (
  tenant_id uuid NOT NULL,
  id uuid PRIMARY KEY,
  session_id uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  challenge text NOT NULL CHECK (length(challenge) BETWEEN 16 AND 512),
  purpose text NOT NULL CHECK (purpose IN ('register', 'authenticate')),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webauthn_challenges_session ON webauthn_challenges (tenant_id, session_id, purpose) WHERE used_at IS NULL;

DO $rls$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['webauthn_credentials', 'webauthn_challenges'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I TO rampart_app USING (tenant_id = rampart_current_tenant()) WITH CHECK (tenant_id = rampart_current_tenant())', t);
    EXECUTE format('CREATE POLICY system_access ON %I TO CURRENT_USER USING (true) WITH CHECK (true)', t);
  END LOOP;
END
$rls$;
GRANT SELECT, INSERT ON webauthn_credentials TO rampart_app;
GRANT UPDATE (counter, last_used_at) ON webauthn_credentials TO rampart_app;
GRANT SELECT, INSERT ON webauthn_challenges TO rampart_app;
GRANT UPDATE (used_at) ON webauthn_challenges TO rampart_app;
`,
};
