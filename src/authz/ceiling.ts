import { RampartError } from '../core/index.js';
import type { CompiledPolicySet } from './compile.js';
import { constraintFor } from './constraint.js';
import { decide } from './decide.js';
import type { AuthzPrincipal } from './types.js';

/**
 * The ceiling on every tenant role, the owner's included (issue 12 class 2). A change to who may
 * do what (matrix, attribute rule or Cedar policy) is judged by its EFFECT: both policy sets are
 * compiled and, for every role alone and every pair of roles (a forbid's `exceptRoles` can widen
 * what two roles held together reach), the permissions the change makes reachable are computed.
 * A permission is reachable when some record could be allowed (`constraintFor` is not `none`) for a
 * probe principal whose department and region are set, so conditions on them count.
 *
 * Rules, in order:
 * 1. nobody grants what they do not hold: every newly reachable permission must be one the author
 *    holds before the change, unless the change creates it (a new app resource or action); the
 *    host's CLI, the break-glass path, has no author and skips this;
 * 2. owner-only (`privileged`) permissions go only to roles marked high-privilege (which then need a
 *    passkey, ID-5), are granted only by an owner, and wait for a second admin's approval;
 * Whatever the owner role gains is not a widening (the owner is the tenant's top).
 * 3. only an owner reduces what the owner role holds, and no change may take from the owner what
 *    it needs to administer the tenant (the owner can never be locked out).
 */

export type CeilingRole = { name: string; highPrivilege: boolean };
export type CeilingInput = {
  before: CompiledPolicySet;
  after: CompiledPolicySet;
  roles: readonly CeilingRole[];
  /** The person making the change; absent for the host's CLI. */
  author?: AuthzPrincipal | undefined;
};
export type CeilingVerdict = {
  /** `resource:action` pairs the change makes newly reachable, per role set (`a+b` for pairs). */
  widened: Array<{ roles: string[]; permission: string; privileged: boolean }>;
  /** True when a privileged permission is among them: the change waits for a second admin. */
  needsApproval: boolean;
};

export const OWNER_ROLE = 'owner';
/** What the owner must keep to administer the tenant (and so to undo any other change). */
export const OWNER_ADMINISTRATION = ['matrix:read', 'matrix:update', 'authz_policy:list', 'authz_policy:read', 'authz_policy:create', 'authz_policy:delete', 'role:list', 'role:read', 'role:create', 'role:update', 'member:list', 'member:read', 'member:invite', 'member:update', 'member:disable', 'tenant:read', 'tenant:update'];

const PROBE = 'ceiling-probe';
const reason = (value: string) => ({ extensions: { reason: value } });

/** Every `resource:action` a principal holding exactly `roles` could be allowed on some record. */
export function reachable(set: CompiledPolicySet, roles: readonly string[], tenantId: string): Set<string> {
  const principal: AuthzPrincipal = { id: PROBE, tenantId, roles, department: PROBE, region: PROBE };
  const out = new Set<string>();
  for (const [resource, definition] of set.resources) {
    for (const action of definition.actions) {
      if (constraintFor(set, { principal, action, resourceType: resource }).kind !== 'none') out.add(`${resource}:${action}`);
    }
  }
  return out;
}

const isPrivileged = (set: CompiledPolicySet, permission: string): boolean => {
  const [resource, action] = permission.split(':') as [string, string];
  return set.resources.get(resource)?.privileged.has(action) ?? false;
};

const existsIn = (set: CompiledPolicySet, permission: string): boolean => {
  const [resource, action] = permission.split(':') as [string, string];
  return set.resources.get(resource)?.actions.has(action) ?? false;
};

/** Throws the first rule a change breaks; otherwise says what it widens and whether it needs approval. */
export function checkCeiling({ before, after, roles, author }: CeilingInput): CeilingVerdict {
  const tenantId = author?.tenantId ?? PROBE;
  const names = roles.map((r) => r.name);
  const sets: string[][] = [[], ...names.map((n) => [n]), ...names.flatMap((a, i) => names.slice(i + 1).map((b) => [a, b]))];
  const high = new Set(roles.filter((r) => r.highPrivilege).map((r) => r.name));
  const authorHolds = author ? reachable(before, author.roles, tenantId) : undefined;
  const isOwnerAuthor = !author || author.roles.includes(OWNER_ROLE);
  const widened: CeilingVerdict['widened'] = [];

  for (const roleSet of sets) {
    // The owner's rights are the ceiling itself: giving the owner more lowers nobody's bar.
    if (roleSet.includes(OWNER_ROLE)) continue;
    const was = reachable(before, roleSet, tenantId);
    const now = reachable(after, roleSet, tenantId);
    const label = roleSet.join('+') || 'every principal';
    for (const permission of now) {
      if (was.has(permission)) continue;
      const privileged = isPrivileged(after, permission);
      // A resource (or action) the change itself creates, e.g. a new app's table, is the author's
      // to open; what it holds that is owner-only still follows rule 2.
      const isNew = !existsIn(before, permission);
      if (authorHolds && !authorHolds.has(permission) && !(isNew && !privileged)) {
        throw new RampartError('forbidden', { detail: `this change would let ${label} ${permission.replace(':', ' → ')}, which you do not hold yourself`, ...reason('grant_exceeds_author') });
      }
      if (privileged && !roleSet.some((role) => high.has(role))) {
        throw new RampartError('validation_failed', { detail: `${permission} is owner-only: it can be granted only to a role marked high-privilege, not to ${label}`, ...reason('privileged_to_low_role') });
      }
      if (privileged && !isOwnerAuthor) throw new RampartError('forbidden', { detail: `${permission} is owner-only: only an owner may grant it`, ...reason('privileged_needs_owner') });
      widened.push({ roles: roleSet, permission, privileged });
    }
  }

  // The administration resources carry no record attributes, so Cedar's decision on the type is
  // exact, tenant forbids included (a compiled constraint only ever shows what permits open).
  const owner: AuthzPrincipal = { id: PROBE, tenantId, roles: [OWNER_ROLE], department: PROBE, region: PROBE };
  const ownerMay = (set: CompiledPolicySet, permission: string) => {
    const [resource, action] = permission.split(':') as [string, string];
    return decide(set, { principal: owner, action, resource: { type: resource } }).allowed;
  };
  const lockout = OWNER_ADMINISTRATION.filter((p) => ownerMay(before, p) && !ownerMay(after, p));
  const ownerAfter = reachable(after, [OWNER_ROLE], tenantId);
  const lost = [...reachable(before, [OWNER_ROLE], tenantId)].filter((p) => !ownerAfter.has(p));
  if (lockout.length) throw new RampartError('conflict', { detail: `this change would take ${lockout.join(', ')} from the owner, who must always be able to administer the tenant`, ...reason('owner_lockout') });
  if (lost.length && !isOwnerAuthor) throw new RampartError('forbidden', { detail: `only an owner may reduce what the owner role holds (${lost.slice(0, 3).join(', ')})`, ...reason('owner_only_change') });

  return { widened, needsApproval: widened.some((w) => w.privileged) };
}
