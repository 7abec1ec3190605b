import type { Matrix, ResourceDefinition } from './types.js';

/**
 * Rampart's own resources, roles and the matrix every new tenant starts from. Apps add their
 * resources to the catalog when they land; a tenant edits its matrix through the API or
 * `rampart matrix set`, each change justified, audited and explained for drift detection.
 */

/** Billing (BI-1 … BI-5): refunds need step-up; credits and write-offs need a second approver. */
const BILLING_RESOURCES: ResourceDefinition[] = [
  { name: 'billing_catalog', actions: ['list', 'read', 'create', 'update'] },
  { name: 'billing_coupon', actions: ['list', 'create'] },
  { name: 'billing_customer', actions: ['list', 'read', 'create', 'update'] },
  { name: 'billing_subscription', actions: ['list', 'read', 'create', 'update', 'cancel'] },
  { name: 'billing_usage', actions: ['create'] },
  { name: 'billing_invoice', actions: ['list', 'read', 'create', 'finalize', 'pay', 'void', 'credit'] },
  { name: 'billing_payment', actions: ['list', 'refund'] },
  { name: 'billing_credit', actions: ['list', 'request', 'approve'], privileged: ['approve'] },
  { name: 'billing_settings', actions: ['read', 'update'] },
];
const billingEverything = Object.fromEntries(BILLING_RESOURCES.map((resource) => [resource.name, [...resource.actions]]));
const billingReadOnly = Object.fromEntries(
  BILLING_RESOURCES.map((resource) => [resource.name, resource.actions.filter((action) => action === 'list' || action === 'read')] as const).filter(([, actions]) => actions.length > 0),
);

/**
 * The tenant catalogue: everything a tenant's matrix, attribute rules and Cedar policies may name.
 * Platform resources (below) are deliberately absent, so no tenant role, grant or policy can even
 * name them: a tenant policy set that mentions one fails to compile.
 */
export const BUILTIN_RESOURCES: ResourceDefinition[] = [
  { name: 'tenant', actions: ['read', 'update'] },
  /** Roles and the matrix decide who may do what: changing them is owner-level (the tenant ceiling). */
  { name: 'role', actions: ['list', 'read', 'create', 'update', 'delete'], privileged: ['create', 'update', 'delete'] },
  { name: 'member', actions: ['list', 'read', 'invite', 'update', 'disable'] },
  /** A user's own sessions ("sign out everywhere"); every role holds it. */
  { name: 'session', actions: ['list', 'revoke'] },
  { name: 'matrix', actions: ['read', 'update'], privileged: ['update'] },
  { name: 'authz_policy', actions: ['list', 'read', 'create', 'delete'], privileged: ['create', 'delete'] },
  { name: 'drift', actions: ['read', 'run'] },
  { name: 'audit_event', actions: ['list', 'read', 'export', 'verify'] },
  { name: 'alert', actions: ['list', 'read'] },
  /** App specs, their migration plans and approvals (DE-4); app data resources join per tenant when an app is applied. */
  { name: 'app_spec', actions: ['list', 'read', 'plan', 'approve', 'apply'] },
  /** OIDC relying parties registered by the tenant (ID-2, ID-8): a client acts for the tenant's users. */
  { name: 'client', actions: ['list', 'read', 'create', 'update', 'delete'], privileged: ['create', 'update', 'delete'] },
  ...BILLING_RESOURCES,
];

/**
 * The platform catalogue (DESIGN "Scopes"): what every tenant shares. Reachable only by a platform
 * operator (`src/authz/platform.ts`), never through a tenant's policy set, whatever it says.
 */
export const PLATFORM_RESOURCES: ResourceDefinition[] = [
  /** The provider's token signing keys (ID-3): one set signs every tenant's tokens. */
  { name: 'signing_key', actions: ['list', 'rotate'] },
  /** Who operates the platform; granted on the host (`rampart platform grant`). */
  { name: 'platform_operator', actions: ['list'] },
  /** The background job queue is one table for every tenant. */
  { name: 'job', actions: ['list', 'read', 'retry'] },
  /** The development mail outbox holds every tenant's mail. */
  { name: 'outbox', actions: ['read'] },
];

export const PLATFORM_RESOURCE_NAMES: ReadonlySet<string> = new Set(PLATFORM_RESOURCES.map((resource) => resource.name));

/** `platform` or `tenant`: which scope a resource of the catalogue belongs to. */
export const resourceScope = (resource: string): 'platform' | 'tenant' => (PLATFORM_RESOURCE_NAMES.has(resource) ? 'platform' : 'tenant');

export type RoleDefinition = { name: string; description: string; highPrivilege: boolean };

/** Admin and finance are high-privilege (control ID-5: they will need a passkey). */
export const BUILTIN_ROLES: RoleDefinition[] = [
  { name: 'owner', description: 'Everything, including role and policy administration', highPrivilege: true },
  { name: 'admin', description: 'Administers the tenant: members, roles, matrix, policies', highPrivilege: true },
  { name: 'finance', description: 'Billing and invoicing', highPrivilege: true },
  { name: 'auditor', description: 'Reads and exports the audit log and the access configuration', highPrivilege: false },
  { name: 'dpo', description: 'Data protection officer: the only role that may export personal data', highPrivilege: false },
  { name: 'member', description: 'Works with the tenant’s apps', highPrivilege: false },
  { name: 'viewer', description: 'Reads only', highPrivilege: false },
];

const everything = Object.fromEntries(BUILTIN_RESOURCES.map((resource) => [resource.name, [...resource.actions]]));

const ownSessions = { session: ['list', 'revoke'] };

export const DEFAULT_MATRIX: Matrix = {
  owner: everything,
  admin: everything,
  auditor: {
    ...ownSessions,
    member: ['list', 'read'],
    tenant: ['read'],
    role: ['list', 'read'],
    matrix: ['read'],
    authz_policy: ['list', 'read'],
    drift: ['read'],
    audit_event: ['list', 'read', 'export', 'verify'],
    alert: ['list', 'read'],
    app_spec: ['list', 'read'],
    ...billingReadOnly,
  },
  dpo: { ...ownSessions, tenant: ['read'], audit_event: ['list', 'read'] },
  finance: { ...ownSessions, tenant: ['read'], ...billingEverything },
  member: { ...ownSessions, tenant: ['read'] },
  viewer: { ...ownSessions, tenant: ['read'] },
};
