import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** Kysely types of the built-in tables. Each module adds its own tables' types here as it lands. */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json = ColumnType<unknown, string, string>;

export type MigrationsTable = {
  version: number;
  name: string;
  checksum: string;
  applied_at: Generated<Date>;
  duration_ms: number;
};

export type TenantStatus = 'active' | 'suspended';

export type TenantsTable = {
  id: string;
  slug: string;
  name: string;
  status: Generated<TenantStatus>;
  created_at: Timestamp;
  updated_at: Timestamp;
};

export type TenantDataKeysTable = {
  tenant_id: string;
  id: string;
  kek_id: string;
  wrapped: Buffer | Uint8Array;
  status: 'active' | 'retired';
  created_at: Timestamp;
  retired_at: Date | null;
};

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'dead';

export type JobsTable = {
  id: string;
  tenant_id: string | null;
  kind: string;
  payload: Json;
  status: Generated<JobStatus>;
  run_at: Timestamp;
  attempts: Generated<number>;
  max_attempts: Generated<number>;
  last_error: string | null;
  locked_by: string | null;
  locked_until: Date | null;
  recurring_key: string | null;
  interval_seconds: number | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  finished_at: Date | null;
};

export type AuditActorType = 'user' | 'agent' | 'system' | 'anonymous';

export type AuditEventsTable = {
  id: string;
  tenant_id: string | null;
  chain: string;
  seq: bigint;
  occurred_at: Date;
  actor_type: AuditActorType;
  actor_id: string | null;
  on_behalf_of: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  diff: ColumnType<unknown, string | null, never>;
  ip: string | null;
  user_agent: string | null;
  device_id: string | null;
  justification: string | null;
  request_id: string | null;
  prev_hash: string;
  hash: string;
};

export type AuditCheckpointsTable = {
  id: string;
  tenant_id: string | null;
  chain: string;
  seq: bigint;
  hash: string;
  created_at: Date;
  key_id: string;
  signature: string;
};

export type SinkCursorsTable = { sink: string; chain: string; last_seq: bigint; updated_at: Generated<Date> };

export type AlertSeverity = 'low' | 'medium' | 'high' | 'critical';

export type AlertsTable = {
  id: string;
  tenant_id: string | null;
  chain: string;
  seq: bigint;
  rule: string;
  severity: AlertSeverity;
  summary: string;
  event_id: string;
  created_at: Date;
};

export type AuthzRolesTable = { tenant_id: string; name: string; description: Generated<string>; high_privilege: Generated<boolean>; created_at: Generated<Date> };
export type GrantTriple = { role: string; resource: string; action: string };
export type AuthzChangesTable = {
  tenant_id: string;
  id: string;
  kind: 'bootstrap' | 'matrix' | 'rule' | 'policy' | 'role';
  summary: string;
  added: ColumnType<unknown, string, string>;
  removed: ColumnType<unknown, string, string>;
  justification: string;
  requested_by: string;
  approved_by: string | null;
  status: 'applied' | 'pending' | 'rejected';
  created_at: Date;
  applied_at: Date | null;
  /** What a pending change applies once a second admin approves it. */
  request: ColumnType<unknown, string | null | undefined, string | null>;
};
/** Platform operators (closed to the app role): a user account of some tenant, granted outside it. */
export type PlatformOperatorsTable = { account_tenant_id: string; account_user_id: string; granted_by: string; justification: string; granted_at: Generated<Date> };
export type AuthzGrantsTable = { tenant_id: string; role: string; resource: string; action: string; change_id: string | null; created_at: Generated<Date> };
export type AuthzRulesTable = { tenant_id: string; id: string; definition: ColumnType<unknown, string, string>; change_id: string | null; created_at: Generated<Date> };
export type AuthzPoliciesTable = { tenant_id: string; id: string; cedar: string; description: Generated<string>; change_id: string | null; created_at: Generated<Date> };
export type AuthzSnapshotsTable = {
  tenant_id: string;
  id: string;
  taken_at: Date;
  grants: ColumnType<unknown, string, string>;
  rules: ColumnType<unknown, string, string>;
  policies: ColumnType<unknown, string, string>;
  digest: string;
};

export type UserStatus = 'active' | 'disabled';
export type UsersTable = {
  tenant_id: string;
  id: string;
  email: string;
  display_name: string;
  department: string | null;
  region: string | null;
  status: Generated<UserStatus>;
  password_hash: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
};
export type UserRolesTable = { tenant_id: string; user_id: string; role: string; created_at: Generated<Date> };
export type InvitationsTable = {
  tenant_id: string;
  id: string;
  email: string;
  role: string;
  token_hash: string;
  expires_at: Date;
  used_at: Date | null;
  used_by: string | null;
  invited_by: string;
  created_at: Timestamp;
};
export type SessionStage = 'ok' | 'mfa_enrollment_required' | 'mfa_required' | 'passkey_required';
export type SessionsTable = {
  tenant_id: string;
  id: string;
  user_id: string;
  token_hash: string;
  stage: SessionStage;
  created_at: Date;
  last_seen_at: Date;
  idle_expires_at: Date;
  absolute_expires_at: Date;
  auth_time: Date;
  amr: ColumnType<string[], string[], string[]>;
  acr: string;
  ip: string | null;
  user_agent: string | null;
  revoked_at: Date | null;
  revoked_reason: string | null;
  /** When this session last proved a passkey (sign-in or step-up, ID-7); freshness is computed from it. */
  webauthn_verified_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
};
export type TotpCredentialsTable = {
  tenant_id: string;
  user_id: string;
  secret_ciphertext: string;
  last_used_step: number | null;
  confirmed_at: Date | null;
  created_at: Timestamp;
};
export type WebauthnCredentialsTable = {
  tenant_id: string;
  id: string;
  user_id: string;
  /** base64url, as the browser reports it. */
  credential_id: string;
  public_key: Uint8Array;
  /** bigint: PGlite returns bigint, node-postgres a string. */
  counter: ColumnType<bigint | number | string, number, number>;
  transports: ColumnType<string[], string[], string[]>;
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: boolean;
  name: string;
  created_at: Timestamp;
  last_used_at: Date | null;
};
export type WebauthnChallengesTable = {
  tenant_id: string;
  id: string;
  /** Null only for username-less sign-in ('sign_in'), where no session or user exists yet. */
  session_id: string | null;
  user_id: string | null;
  challenge: string;
  purpose: 'register' | 'authenticate' | 'step_up' | 'sign_in';
  expires_at: Date;
  used_at: Date | null;
  created_at: Timestamp;
};
export type RecoveryCodesTable = { tenant_id: string; id: string; user_id: string; code_hash: string; used_at: Date | null; created_at: Timestamp };
/** Magic sign-in links (one factor, ID-4): single use, 15 minutes, SHA-256 of the token only. */
export type MagicLinksTable = { tenant_id: string; id: string; user_id: string; token_hash: string; expires_at: Date; used_at: Date | null; ip: string | null; created_at: Timestamp };
/** First-admin setup tokens printed at start: single use, 24 h, superseded by the next start. */
export type SetupTokensTable = { tenant_id: string; id: string; token_hash: string; expires_at: Date; used_at: Date | null; used_by: string | null; revoked_at: Date | null; created_at: Timestamp };

export type OidcPayloadsTable = {
  kind: string;
  id_hash: string;
  payload: ColumnType<Record<string, unknown>, string, string>;
  grant_id: string | null;
  uid: string | null;
  user_code: string | null;
  expires_at: Date | null;
  consumed_at: Date | null;
  created_at: Timestamp;
};
export type OidcRevokedGrantsTable = {
  grant_id: string;
  revoked_at: Timestamp;
  expires_at: Date;
};
export type OidcSigningKeysTable = {
  kid: string;
  alg: 'ES256' | 'RS256' | 'EdDSA';
  public_jwk: ColumnType<Record<string, unknown>, string, string>;
  private_ciphertext: string;
  kek_id: string;
  status: 'next' | 'current' | 'retired';
  created_at: Timestamp;
  activated_at: Date | null;
  retired_at: Date | null;
  remove_after: Date | null;
};
export type OidcClientsTable = {
  client_id: string;
  tenant_id: string | null;
  name: string;
  metadata: ColumnType<Record<string, unknown>, string, string>;
  secret_ciphertext: string | null;
  created_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
};

/** App builder (migration 8): plans compiled from app specs, their approvals, and installed specs. */
export type AppPlanStatus = 'pending' | 'approved' | 'applied' | 'failed';
export type AppPlansTable = {
  tenant_id: string;
  id: string;
  app: string;
  from_version: number | null;
  to_version: number;
  spec: Json;
  spec_hash: string;
  steps: Json;
  sql: string;
  plan_hash: string;
  destructive: boolean;
  /** It grants an owner-only permission: a second admin approves it in every environment. */
  requires_approval: Generated<boolean>;
  status: AppPlanStatus;
  justification: string;
  created_by: string;
  created_at: Timestamp;
  approved_by: string | null;
  approved_at: Date | null;
  applied_by: string | null;
  applied_at: Date | null;
  error: string | null;
};
export type AppInstalledTable = { tenant_id: string; app: string; version: number; spec: Json; spec_hash: string; resources: Json; plan_id: string; installed_at: Timestamp; updated_at: Timestamp };

export type Schema = {
  app_plans: AppPlansTable;
  app_installed: AppInstalledTable;
  oidc_payloads: OidcPayloadsTable;
  oidc_revoked_grants: OidcRevokedGrantsTable;
  oidc_signing_keys: OidcSigningKeysTable;
  oidc_clients: OidcClientsTable;
  users: UsersTable;
  user_roles: UserRolesTable;
  invitations: InvitationsTable;
  sessions: SessionsTable;
  totp_credentials: TotpCredentialsTable;
  recovery_codes: RecoveryCodesTable;
  webauthn_credentials: WebauthnCredentialsTable;
  webauthn_challenges: WebauthnChallengesTable;
  magic_links: MagicLinksTable;
  setup_tokens: SetupTokensTable;
  authz_roles: AuthzRolesTable;
  authz_changes: AuthzChangesTable;
  platform_operators: PlatformOperatorsTable;
  authz_grants: AuthzGrantsTable;
  authz_rules: AuthzRulesTable;
  authz_policies: AuthzPoliciesTable;
  authz_snapshots: AuthzSnapshotsTable;
  audit_events: AuditEventsTable;
  audit_checkpoints: AuditCheckpointsTable;
  audit_sink_cursors: SinkCursorsTable;
  alerts: AlertsTable;
  alert_sink_cursors: SinkCursorsTable;
  rampart_migrations: MigrationsTable;
  tenants: TenantsTable;
  tenant_data_keys: TenantDataKeysTable;
  jobs: JobsTable;
};

export type Tenant = Selectable<TenantsTable>;
export type NewTenant = Insertable<TenantsTable>;
export type Job = Selectable<JobsTable>;
export type AuditEvent = Selectable<AuditEventsTable>;
export type Alert = Selectable<AlertsTable>;
export type AuditCheckpoint = Selectable<AuditCheckpointsTable>;
