import type { Migration } from '../migrate.js';

/**
 * The OpenID Connect provider's storage (controls ID-1, ID-2, ID-3, ID-8).
 *
 * - `oidc_payloads` holds the protocol state oidc-provider keeps (sessions, interactions, grants,
 *   authorization codes, access and refresh tokens, replay detection). Rows are found by the
 *   SHA-256 of their id, never by the id itself: a stolen database copy holds no usable bearer
 *   token or code. The table is closed to the app role (no grants at all): only the provider,
 *   running as the owner, reads it, and it spans tenants because a protocol request does not name
 *   one until the client or account is known.
 * - `oidc_signing_keys` holds token signing keys, the private half sealed under the master key
 *   (AES-256-GCM, bound to the key id). Closed to the app role as well.
 * - `oidc_clients` are relying parties. A client belongs to one tenant (its users sign in) or, with
 *   a NULL tenant, to the platform (first-party clients such as the admin dashboard, which sign in
 *   users of any tenant named in the request). Tenant admins manage their own clients through the
 *   app role under RLS; platform clients are invisible to it.
 */
export const oidcMigration: Migration = {
  version: 6,
  name: 'oidc',
  sql: `
CREATE TABLE oidc_payloads (
  kind text NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
  id_hash text NOT NULL CHECK (id_hash ~ '^[0-9a-f]{64}$'),
  payload jsonb NOT NULL,
  grant_id text CHECK (length(grant_id) <= 256),
  uid text CHECK (length(uid) <= 256),
  user_code text CHECK (length(user_code) <= 256),
  expires_at timestamptz,
  consumed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, id_hash)
);
CREATE INDEX oidc_payloads_grant ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_payloads_uid ON oidc_payloads (kind, uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_payloads_expiry ON oidc_payloads (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE oidc_signing_keys (
  kid text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{8,128}$'),
  alg text NOT NULL CHECK (alg IN ('ES256', 'RS256', 'EdDSA')),
  public_jwk jsonb NOT NULL,
  private_ciphertext text NOT NULL,
  kek_id text NOT NULL,
  status text NOT NULL CHECK (status IN ('next', 'current', 'retired')),
  created_at timestamptz NOT NULL DEFAULT now(),
  activated_at timestamptz,
  retired_at timestamptz,
  remove_after timestamptz,
  CHECK ((status = 'retired') = (retired_at IS NOT NULL AND remove_after IS NOT NULL))
);
-- Per algorithm at most one signing key and one staged key, even with several nodes rotating.
CREATE UNIQUE INDEX oidc_signing_keys_one_current ON oidc_signing_keys (alg, status) WHERE status IN ('current', 'next');

CREATE TABLE oidc_clients (
  client_id text PRIMARY KEY CHECK (client_id ~ '^[A-Za-z0-9._-]{3,128}$'),
  tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  metadata jsonb NOT NULL,
  secret_ciphertext text,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oidc_clients_tenant ON oidc_clients (tenant_id);

ALTER TABLE oidc_clients ENABLE ROW LEVEL SECURITY;
ALTER TABLE oidc_clients FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON oidc_clients TO rampart_app USING (tenant_id = rampart_current_tenant()) WITH CHECK (tenant_id = rampart_current_tenant());
CREATE POLICY system_access ON oidc_clients TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, DELETE ON oidc_clients TO rampart_app;
GRANT UPDATE (name, metadata, secret_ciphertext, updated_at) ON oidc_clients TO rampart_app;
`,
};
