import type { Migration } from '../migrate.js';

/**
 * ID-1: a revoked grant stays revoked, whatever order the requests of a race run in.
 *
 * Two requests redeeming one refresh token at once: the loser revokes the grant while the winner
 * may still be writing its new tokens. Deleting the grant's rows alone loses that race whenever
 * the winner writes after the delete. So revocation is a row of its own, `oidc_revoked_grants`,
 * written before anything is deleted; every lookup of a grant-bound artifact and every later save
 * checks it (`src/identity/oidc/adapter.ts`). A row lives longer than any artifact of its grant
 * can, then the purge job removes it.
 *
 * Closed to the app role like `oidc_payloads` (no grants): only the provider, as the owner, reads
 * it, and it spans tenants because a protocol request names none until its client is known.
 *
 * Grant rows now carry their own id in `grant_id` (other kinds carry the grant they belong to), so
 * one check covers the grant and everything issued under it.
 */
export const oidcRevokedGrantsMigration: Migration = {
  version: 10,
  name: 'oidc_revoked_grants',
  sql: `
CREATE TABLE oidc_revoked_grants (
  grant_id text PRIMARY KEY CHECK (length(grant_id) BETWEEN 1 AND 256),
  revoked_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX oidc_revoked_grants_expiry ON oidc_revoked_grants (expires_at);

UPDATE oidc_payloads SET grant_id = payload->>'jti' WHERE kind = 'Grant' AND grant_id IS NULL AND length(payload->>'jti') BETWEEN 1 AND 256;
`,
};
