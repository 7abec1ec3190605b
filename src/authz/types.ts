/**
 * The vocabulary of the authorization engine (controls AZ-1, AZ-3). Everything here is data: a
 * catalog of resources, a role-permission matrix, and attribute rules. `compilePolicySet` turns
 * them into Cedar policies (the reference semantics) and a compiled TypeScript/SQL form (the hot
 * path), and the differential tests prove both agree.
 */

/** The record attributes a rule may test. A resource declares which of them its records carry. */
export const RECORD_ATTRIBUTES = ['owner', 'department', 'region', 'sensitivity'] as const;
export type RecordAttribute = (typeof RECORD_ATTRIBUTES)[number];

/** Standard actions; resources may add their own (e.g. `refund`). */
export const STANDARD_ACTIONS = ['list', 'read', 'create', 'update', 'delete', 'export'] as const;

export type ResourceDefinition = {
  name: string;
  actions: string[];
  attributes?: { owner?: true; department?: true; region?: true; sensitivity?: true };
  /**
   * Owner-only actions (issue: the tenant ceiling): reading secrets or PHI, approving credits,
   * managing OIDC clients, changing who may do what. Only an owner grants them, only to a role
   * marked high-privilege (which then needs a passkey, ID-5), and only with a second admin's
   * approval. Every other grant is bounded by what its author holds.
   */
  privileged?: string[];
};

/** role -> resource -> actions. Every entry is an unconditional permit. */
export type Matrix = Record<string, Record<string, string[]>>;

/** A value taken from the principal at decision time. `id` compares only with `owner`. */
export type PrincipalRef = { principal: 'id' | 'department' | 'region' };

/**
 * One test on a record attribute. A missing value (on the record, or on the principal for a
 * `PrincipalRef`) never satisfies any condition, `neq` and `not_in` included: this is SQL's NULL
 * rule, so the compiled SQL needs no special cases, and it makes forbid rules explicit about
 * what they cover (a record with no region is not "outside the principal's region").
 */
export type Condition =
  | { record: RecordAttribute; op: 'eq' | 'neq'; value: string | PrincipalRef }
  | { record: RecordAttribute; op: 'in' | 'not_in'; value: string[] };

/**
 * An attribute rule, with Cedar's combining semantics: a permit adds a conditional grant, a forbid
 * overrides every permit. Matrix grants are unconditional permits, so a permit rule must have at
 * least one condition (an unconditional grant belongs in the matrix, where AZ-1 and drift see it).
 *
 * `exceptRoles` exempts a principal holding any of those roles: "nobody but the DPO exports PII"
 * is `{ effect: 'forbid', roles: '*', exceptRoles: ['dpo'], ... }`. `resource: '*'` applies the
 * rule to every resource that declares one of its actions and every attribute its conditions use
 * (a resource whose records cannot carry `sensitivity` holds no PII by that rule).
 */
export type AttributeRule = {
  id: string;
  effect: 'permit' | 'forbid';
  roles: string[] | '*';
  exceptRoles?: string[];
  resource: string;
  actions: string[];
  when: Condition[];
  description?: string;
};

/** Null and undefined both mean "absent" (rows loaded from SQL carry null). */
export type AuthzPrincipal = {
  id: string;
  tenantId: string;
  roles: readonly string[];
  department?: string | null;
  region?: string | null;
};

export type RecordAttributes = { owner?: string | null; department?: string | null; region?: string | null; sensitivity?: string | null };

export type AuthzResource = { type: string; id?: string; attributes?: RecordAttributes };

export type AuthzRequest = { principal: AuthzPrincipal; action: string; resource: AuthzResource };

export type Decision = {
  allowed: boolean;
  /** The determining policy ids joined by ", ", or `no permit`, or why the request was unknown. */
  reason: string;
  /** Satisfied permits when allowed; satisfied forbids when denied by one; empty otherwise. */
  policyIds: string[];
  engine: 'compiled' | 'cedar';
};

export type PolicySetInput = {
  resources: ResourceDefinition[];
  matrix: Matrix;
  rules?: AttributeRule[];
  /** Every role name; defaults to the roles the matrix and rules mention. */
  roles?: string[];
  /** Tenant-written Cedar policies, validated against the generated schema. */
  customPolicies?: string;
};
