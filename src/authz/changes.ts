import type { Transaction } from 'kysely';
import { RampartError } from '../core/index.js';
import type { GrantTriple, Schema } from '../db/index.js';
import { diffGrants, type PolicyData, type StoredPolicy } from './store.js';
import type { AttributeRule } from './types.js';

/**
 * The five ways who-may-do-what changes, as data: a pending change keeps its request in
 * `authz_changes.request` and is planned again on the state as it is when a second admin approves.
 */
export type ChangeRequest =
  | { kind: 'matrix'; role: string; resource: string; actions: string[] }
  | { kind: 'policy_put'; id: string; cedar: string; description: string }
  | { kind: 'policy_delete'; id: string }
  | { kind: 'rule_put'; rule: AttributeRule }
  | { kind: 'rule_delete'; id: string };

/** What a change does to the stored policy data, described for the change log and applied by `write`. */
export type PlannedChange = {
  kind: 'matrix' | 'policy' | 'rule';
  summary: string;
  added: unknown[];
  removed: unknown[];
  action: string;
  target: { type: string; id: string };
  override: Partial<{ grants: GrantTriple[]; policies: StoredPolicy[]; rules: AttributeRule[] }>;
  write(trx: Transaction<Schema>, tenantId: string, changeId: string): Promise<void>;
};

/** The plan of a request on the current data; undefined when it changes nothing. 404 for a missing role, policy or rule. */
export function planChange(current: PolicyData, request: ChangeRequest): PlannedChange | undefined {
  switch (request.kind) {
    case 'matrix':
      return planGrants(current, request);
    case 'policy_put': {
      const policy: StoredPolicy = { id: request.id, cedar: request.cedar, description: request.description };
      const previous = current.policies.filter((p) => p.id === request.id);
      return {
        kind: 'policy',
        summary: `${previous.length ? 'replaced' : 'added'} policy ${request.id}`,
        added: [policy],
        removed: previous,
        action: 'authz.policy.updated',
        target: { type: 'authz_policy', id: request.id },
        override: { policies: [...current.policies.filter((p) => p.id !== request.id), policy] },
        async write(trx, tenantId, changeId) {
          await trx.deleteFrom('authz_policies').where('tenant_id', '=', tenantId).where('id', '=', request.id).execute();
          await trx.insertInto('authz_policies').values({ tenant_id: tenantId, ...policy, change_id: changeId }).execute();
        },
      };
    }
    case 'policy_delete': {
      const existing = current.policies.find((p) => p.id === request.id);
      if (!existing) throw new RampartError('not_found', { detail: `no policy "${request.id}"` });
      return {
        kind: 'policy',
        summary: `removed policy ${request.id}`,
        added: [],
        removed: [existing],
        action: 'authz.policy.deleted',
        target: { type: 'authz_policy', id: request.id },
        override: { policies: current.policies.filter((p) => p.id !== request.id) },
        async write(trx, tenantId) {
          await trx.deleteFrom('authz_policies').where('tenant_id', '=', tenantId).where('id', '=', request.id).execute();
        },
      };
    }
    case 'rule_put': {
      const { rule } = request;
      const previous = current.rules.filter((r) => r.id === rule.id);
      return {
        kind: 'rule',
        summary: `${previous.length ? 'replaced' : 'added'} rule ${rule.id}`,
        added: [rule],
        removed: previous,
        action: 'authz.rule.updated',
        target: { type: 'authz_rule', id: rule.id },
        override: { rules: [...current.rules.filter((r) => r.id !== rule.id), rule] },
        async write(trx, tenantId, changeId) {
          await trx.deleteFrom('authz_rules').where('tenant_id', '=', tenantId).where('id', '=', rule.id).execute();
          await trx.insertInto('authz_rules').values({ tenant_id: tenantId, id: rule.id, definition: JSON.stringify(rule), change_id: changeId }).execute();
        },
      };
    }
    case 'rule_delete': {
      const existing = current.rules.find((r) => r.id === request.id);
      if (!existing) throw new RampartError('not_found', { detail: `no rule "${request.id}"` });
      return {
        kind: 'rule',
        summary: `removed rule ${request.id}`,
        added: [],
        removed: [existing],
        action: 'authz.rule.deleted',
        target: { type: 'authz_rule', id: request.id },
        override: { rules: current.rules.filter((r) => r.id !== request.id) },
        async write(trx, tenantId) {
          await trx.deleteFrom('authz_rules').where('tenant_id', '=', tenantId).where('id', '=', request.id).execute();
        },
      };
    }
  }
}

function planGrants(current: PolicyData, request: Extract<ChangeRequest, { kind: 'matrix' }>): PlannedChange | undefined {
  if (!current.roles.some((r) => r.name === request.role)) throw new RampartError('not_found', { detail: `no role "${request.role}"` });
  const actions = [...new Set(request.actions)];
  const others = current.grants.filter((g) => !(g.role === request.role && g.resource === request.resource));
  const next = [...others, ...actions.map((action) => ({ role: request.role, resource: request.resource, action }))];
  const { added, removed } = diffGrants(current.grants, next);
  if (!added.length && !removed.length) return undefined;
  return {
    kind: 'matrix',
    summary: `${request.role} on ${request.resource}: ${actions.sort().join(', ') || '(nothing)'}`,
    added,
    removed,
    action: 'authz.matrix.updated',
    target: { type: 'matrix', id: `${request.role}/${request.resource}` },
    override: { grants: next },
    async write(trx, tenantId, changeId) {
      for (const g of removed) await trx.deleteFrom('authz_grants').where('tenant_id', '=', tenantId).where('role', '=', g.role).where('resource', '=', g.resource).where('action', '=', g.action).execute();
      if (added.length) await trx.insertInto('authz_grants').values(added.map((g) => ({ tenant_id: tenantId, ...g, change_id: changeId }))).execute();
    },
  };
}
