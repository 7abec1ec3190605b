import { createHash } from 'node:crypto';
import type { Transaction } from 'kysely';
import { canonicalJson } from '../audit/index.js';
import type { GrantTriple, Schema } from '../db/index.js';
import type { AttributeRule, Matrix, ResourceDefinition } from './types.js';

/** SQL for the authorization tables. Every function runs in the caller's transaction. */

export type StoredPolicy = { id: string; cedar: string; description: string };
export type PolicyData = {
  roles: Array<{ name: string; description: string; highPrivilege: boolean }>;
  grants: GrantTriple[];
  rules: AttributeRule[];
  policies: StoredPolicy[];
  /** Resources this tenant adds to the static catalog (e.g. applied apps), when the service loads them. */
  resources?: ResourceDefinition[];
};

const byTriple = (a: GrantTriple, b: GrantTriple) => `${a.role}\u0000${a.resource}\u0000${a.action}`.localeCompare(`${b.role}\u0000${b.resource}\u0000${b.action}`);

export async function loadPolicyData(trx: Transaction<Schema>, tenantId: string): Promise<PolicyData> {
  const [roles, grants, rules, policies] = await Promise.all([
    trx.selectFrom('authz_roles').select(['name', 'description', 'high_privilege']).where('tenant_id', '=', tenantId).orderBy('name').execute(),
    trx.selectFrom('authz_grants').select(['role', 'resource', 'action']).where('tenant_id', '=', tenantId).execute(),
    trx.selectFrom('authz_rules').select(['id', 'definition']).where('tenant_id', '=', tenantId).orderBy('id').execute(),
    trx.selectFrom('authz_policies').select(['id', 'cedar', 'description']).where('tenant_id', '=', tenantId).orderBy('id').execute(),
  ]);
  return {
    roles: roles.map((r) => ({ name: r.name, description: r.description, highPrivilege: r.high_privilege })),
    grants: grants.sort(byTriple),
    rules: rules.map((r) => ({ ...(r.definition as AttributeRule), id: r.id })),
    policies,
  };
}

export function toMatrix(grants: GrantTriple[]): Matrix {
  const matrix: Matrix = {};
  for (const { role, resource, action } of grants) ((matrix[role] ??= {})[resource] ??= []).push(action);
  for (const resources of Object.values(matrix)) for (const actions of Object.values(resources)) actions.sort();
  return matrix;
}

export function fromMatrix(matrix: Matrix): GrantTriple[] {
  return Object.entries(matrix)
    .flatMap(([role, resources]) => Object.entries(resources).flatMap(([resource, actions]) => actions.map((action) => ({ role, resource, action }))))
    .sort(byTriple);
}

/** Tenant-written policies as one Cedar document, each with its stored id. */
export const customPolicyText = (policies: StoredPolicy[]): string => policies.map((p) => `@id("${p.id}")\n${p.cedar.trim()}`).join('\n\n');

export const grantKey = (g: GrantTriple) => `${g.role}:${g.resource}:${g.action}`;

export function diffGrants(before: GrantTriple[], after: GrantTriple[]): { added: GrantTriple[]; removed: GrantTriple[] } {
  const beforeKeys = new Set(before.map(grantKey));
  const afterKeys = new Set(after.map(grantKey));
  return { added: after.filter((g) => !beforeKeys.has(grantKey(g))), removed: before.filter((g) => !afterKeys.has(grantKey(g))) };
}

/** A digest of the effective configuration, so two snapshots compare in O(1). */
export const policyDigest = (data: Pick<PolicyData, 'grants' | 'rules' | 'policies'>): string =>
  createHash('sha256').update(canonicalJson({ grants: data.grants, rules: data.rules, policies: data.policies.map((p) => ({ id: p.id, cedar: p.cedar })) })).digest('hex');
