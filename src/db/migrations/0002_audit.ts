import type { Migration } from '../migrate.js';

/**
 * The audit log (control: MO-1). Append-only twice over: rampart_app holds only INSERT and SELECT,
 * and triggers refuse UPDATE, DELETE and TRUNCATE for every role, the owner included. A superuser
 * can still disable triggers; the per-chain hash chain and the signed checkpoints make that
 * detectable (`rampart audit verify`).
 *
 * Chains: one per tenant (`chain` = tenant id) and one for system events (`chain` = 'system',
 * tenant_id NULL, invisible to rampart_app). `seq` is gapless per chain: appends serialise on a
 * transaction-level advisory lock per chain, so commit order equals seq order within a chain,
 * which is what lets SIEM delivery use per-chain cursors without losing late commits.
 */
export const auditMigration: Migration = {
  version: 2,
  name: 'audit',
  sql: `
CREATE TABLE audit_events (
  id uuid PRIMARY KEY,
  tenant_id uuid REFERENCES tenants(id) ON DELETE RESTRICT,
  chain text NOT NULL CHECK (chain = 'system' OR chain = tenant_id::text),
  seq bigint NOT NULL CHECK (seq > 0),
  occurred_at timestamptz NOT NULL,
  actor_type text NOT NULL CHECK (actor_type IN ('user', 'agent', 'system', 'anonymous')),
  actor_id text,
  on_behalf_of text,
  action text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.:-]{0,99}$'),
  target_type text,
  target_id text,
  diff jsonb,
  ip text,
  user_agent text,
  device_id text,
  justification text,
  request_id text,
  prev_hash text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  UNIQUE (chain, seq)
);
CREATE INDEX audit_events_time ON audit_events (chain, occurred_at);
CREATE INDEX audit_events_action ON audit_events (chain, action, occurred_at);
CREATE INDEX audit_events_target ON audit_events (chain, target_type, target_id);

CREATE FUNCTION rampart_audit_immutable() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$fn$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION rampart_audit_immutable();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION rampart_audit_immutable();

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_events TO rampart_app
  USING (tenant_id = rampart_current_tenant())
  WITH CHECK (tenant_id = rampart_current_tenant() AND chain = tenant_id::text);
CREATE POLICY system_access ON audit_events TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT, INSERT ON audit_events TO rampart_app;

CREATE TABLE audit_checkpoints (
  id uuid PRIMARY KEY,
  tenant_id uuid REFERENCES tenants(id) ON DELETE RESTRICT,
  chain text NOT NULL,
  seq bigint NOT NULL,
  hash text NOT NULL,
  created_at timestamptz NOT NULL,
  key_id text NOT NULL,
  signature text NOT NULL,
  UNIQUE (chain, seq)
);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION rampart_audit_immutable();
ALTER TABLE audit_checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_checkpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_checkpoints TO rampart_app USING (tenant_id = rampart_current_tenant());
CREATE POLICY system_access ON audit_checkpoints TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT ON audit_checkpoints TO rampart_app;

CREATE TABLE audit_sink_cursors (
  sink text NOT NULL,
  chain text NOT NULL,
  last_seq bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sink, chain)
);

CREATE TABLE alerts (
  id uuid PRIMARY KEY,
  tenant_id uuid REFERENCES tenants(id) ON DELETE RESTRICT,
  chain text NOT NULL,
  seq bigint NOT NULL,
  rule text NOT NULL,
  severity text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  summary text NOT NULL,
  event_id uuid NOT NULL REFERENCES audit_events(id),
  created_at timestamptz NOT NULL,
  UNIQUE (chain, seq)
);
CREATE INDEX alerts_recent ON alerts (tenant_id, created_at);
ALTER TABLE alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE alerts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON alerts TO rampart_app
  USING (tenant_id = rampart_current_tenant())
  WITH CHECK (tenant_id = rampart_current_tenant() AND chain = tenant_id::text);
CREATE POLICY system_access ON alerts TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT, INSERT ON alerts TO rampart_app;

CREATE TABLE alert_sink_cursors (
  sink text NOT NULL,
  chain text NOT NULL,
  last_seq bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sink, chain)
);
`,
};
