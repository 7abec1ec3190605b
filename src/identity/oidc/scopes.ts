import { constraintFor, type CompiledPolicySet, type AuthzPrincipal } from '../../authz/index.js';

/**
 * Scopes of Rampart's own API (control ID-8). Narrow and per resource:
 *   `rampart:<resource>:read`  list and read that resource;
 *   `rampart:<resource>`       every action on it.
 * A scope never adds a permission: a token's request must pass both its scopes and the user's
 * policy, so the token carries at most what the user holds (and an agent's down-scoped token less).
 */

export const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const;
const READ_ACTIONS = new Set(['list', 'read']);
const PREFIX = 'rampart:';

export const isApiScope = (scope: string) => scope.startsWith(PREFIX);
/** `rampart:<resource>` or `rampart:<resource>:read`, with a resource name the catalog could hold. */
export const isWellFormedApiScope = (scope: string): boolean => /^rampart:[a-z][a-z0-9_.-]{0,127}(?::read)?$/.test(scope);

/** Registered on a client: it may ask for any API scope (still narrowed to what the user holds). */
export const API_WILDCARD = 'rampart:*';

/** The API scopes a client is registered for (kept in its `rampart_api_scopes` metadata). */
export const clientApiScopes = (client: { metadata(): Record<string, unknown> }): string[] => {
  const value = client.metadata()['rampart_api_scopes'];
  return Array.isArray(value) ? value.filter((s): s is string => typeof s === 'string' && isApiScope(s)) : [];
};

export const apiScopesOf = (resources: Iterable<string>): string[] => [...resources].flatMap((r) => [`${PREFIX}${r}`, `${PREFIX}${r}:read`]);

/** Does a token with these scopes cover `action` on `resource`? */
export function scopeAllows(scopes: ReadonlySet<string>, action: string, resource: string): boolean {
  if (scopes.has(`${PREFIX}${resource}`)) return true;
  return READ_ACTIONS.has(action) && scopes.has(`${PREFIX}${resource}:read`);
}

/** The API scopes the principal could use under the tenant's current policy. */
export function heldApiScopes(set: CompiledPolicySet, principal: AuthzPrincipal): Set<string> {
  const held = new Set<string>();
  for (const [resource, definition] of set.resources) {
    const allowed = [...definition.actions].filter((action) => constraintFor(set, { principal, action, resourceType: resource }).kind !== 'none');
    // The full scope only for someone who may do more than read: a reader asking for it gets `:read`.
    if (allowed.some((a) => !READ_ACTIONS.has(a))) held.add(`${PREFIX}${resource}`);
    if (allowed.some((a) => READ_ACTIONS.has(a))) held.add(`${PREFIX}${resource}:read`);
  }
  return held;
}

/**
 * What a grant may carry: the requested API scopes the client is registered for and the user
 * holds. Nothing is substituted: a reader asking for `rampart:<resource>` gets neither it nor
 * `…:read` unless they asked for that too (clients ask for both and use what they get).
 */
export function grantableApiScopes({ requested, clientScopes, held }: { requested: Iterable<string>; clientScopes: ReadonlySet<string>; held: ReadonlySet<string> }): string[] {
  const out = new Set<string>();
  for (const scope of requested) {
    if (!isApiScope(scope) || scope === API_WILDCARD || !(clientScopes.has(scope) || clientScopes.has(API_WILDCARD))) continue;
    if (held.has(scope)) out.add(scope);
  }
  return [...out].sort();
}
