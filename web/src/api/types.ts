/** Shapes of the API answers the dashboard reads (see GET /api/v1/openapi.json). */

export type UiField = { name: string; label: string; type: string; class: string; required: boolean; values?: string[]; to?: string; maskedUnless?: string };
export type UiResource = { name: string; label: string; fields: UiField[]; list: { columns: string[]; filters: string[]; sort?: string }; form: { sections: Array<{ title: string; fields: string[] }> } };
export type InstalledApp = { app: string; version: number; specHash: string; title: string; resources: UiResource[] };

export type RecordRow = Record<string, unknown> & { id: string; owner_id?: string | null; created_at?: string; updated_at?: string; _masked?: string[] };
export type RecordPage = { items: RecordRow[]; next_cursor: string | null };

export type TenantInfo = { id: string; slug: string; name: string; status: string };

export type Role = { name: string; description?: string; highPrivilege?: boolean; high_privilege?: boolean };
export type MatrixResource = { name: string; actions: string[]; attributes: string[] };
/** A tenant-written Cedar policy (GET /api/v1/authz/policies). */
export type CedarPolicy = { id: string; cedar: string; description: string };
export type MatrixView = { roles: Role[]; resources: MatrixResource[]; matrix: Record<string, Record<string, string[]>>; rules: unknown[] };

export type Grant = { role: string; resource: string; action: string };
export type DriftReport = {
  snapshotId: string;
  previousSnapshotAt: string | null;
  added: Grant[];
  removed: Grant[];
  unexplainedAdded: Grant[];
  unexplainedRemoved: Grant[];
  policiesChanged: string[];
  unexplainedPolicies: string[];
  rulesChanged: string[];
  unexplainedRules: string[];
  drifted: boolean;
};

export type DiffEntry = { before?: unknown; after?: unknown };
export type AuditEvent = {
  id: string;
  seq: string;
  occurred_at: string;
  actor_type: string;
  actor_id: string | null;
  on_behalf_of: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  diff: Record<string, DiffEntry> | null;
  ip: string | null;
  user_agent: string | null;
  device_id: string | null;
  justification: string | null;
  request_id: string | null;
  hash: string;
  prev_hash: string;
};
export type AuditPage = { items: AuditEvent[]; next_cursor: string | null };
export type ChainStatus = { chain: string; events: number; checkpoints: number; lastCheckpointSeq: string | null; problem: { seq?: string; reason?: string; kind?: string } | string | null };

export type SessionInfo = { id: string; created_at: string; last_seen_at: string; auth_time: string; amr: string[]; acr: string; ip: string | null; user_agent: string | null; stage: string };
export type Passkey = { id: string; name: string; createdAt: string; lastUsedAt: string | null; backedUp: boolean; deviceType: string };
export type Invitation = { invitation: { id: string; email: string; role: string; expires_at?: string; expiresAt?: string }; token: string };

export type Member = { id: string; email: string; display_name: string; roles: string[]; status: string; created_at: string; has_passkey: boolean; has_totp: boolean };
export type MemberPage = { items: Member[]; next_cursor: string | null };

/** An app spec as the no-code editor edits it: loosely typed on purpose, the server's linter is the judge. */
export type FieldDraft = { name: string; type: string; class?: string; required?: boolean; values?: string[]; to?: string; currency?: string; [key: string]: unknown };
export type ResourceDraft = { name: string; label?: string; fields: FieldDraft[]; actions?: Array<string | { name: string }>; [key: string]: unknown };
export type AppSpecDraft = {
  app: string;
  version: number;
  title?: string;
  roles?: Array<{ name: string; [key: string]: unknown }>;
  resources: ResourceDraft[];
  matrix: Record<string, Record<string, string[]>>;
  views?: Record<string, { form?: { sections: Array<{ title: string; fields: string[] }> }; [key: string]: unknown }>;
  [key: string]: unknown;
};
export type Finding = { code: string; message: string; pointer: string; severity: 'error' | 'warning' };
export type PlanStep = { kind: string; resource: string; field?: string; destructive: boolean; summary: string };
export type PlanPreview = { ok: boolean; findings: Finding[]; steps: PlanStep[]; destructive: boolean; fromVersion: number | null; requireApproval: boolean };
export type AppPlan = {
  id: string;
  app: string;
  fromVersion: number | null;
  toVersion: number;
  status: 'pending' | 'approved' | 'applied' | 'failed';
  destructive: boolean;
  steps: PlanStep[];
  createdBy: string;
  approvedBy: string | null;
  error: string | null;
};
