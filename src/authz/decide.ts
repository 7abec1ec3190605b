import { cedarDecide, requestEntities, type CedarCallOptions } from './cedar.js';
import type { CompiledPolicySet } from './compile.js';
import type { CustomPolicy } from './custom.js';
import { unknownRequest } from './fast.js';
import { actionId } from './schema.js';
import type { AuthzRequest, Decision } from './types.js';

/**
 * Decides one request (control: AZ-2). Deny by default: an action or resource type the catalog
 * does not know is denied, not thrown, so a route declaring a stale action fails closed.
 *
 * The compiled path answers unless a tenant-written Cedar policy could apply to this
 * (resource, action); then Cedar decides on the whole set (matrix, rules and custom policies),
 * because arbitrary Cedar has no compiled form. Sets without custom policies never touch wasm.
 */
export function decide(set: CompiledPolicySet, request: AuthzRequest): Decision {
  if (!isKnown(set, request)) return unknownRequest(request, 'compiled');
  if (customPoliciesFor(set, request.resource.type, request.action).length) {
    // The entities are built from the catalog (known roles, declared attributes), so the
    // per-call schema check cannot fail here; skipping it saves ~40% of the wasm call.
    return decideWithCedar(set, request, { validateRequest: false });
  }
  return set.evaluate(request);
}

/** The reference: Cedar on the full policy set (pre-parsed by default; `api: 'stateless'` re-sends everything). */
export function decideWithCedar(set: CompiledPolicySet, request: AuthzRequest, options: CedarCallOptions = {}): Decision {
  const definition = set.resources.get(request.resource.type);
  if (!definition?.actions.has(request.action)) return unknownRequest(request, 'cedar');
  const entities = requestEntities(request, { roles: set.roleSet, attributes: definition.attributes });
  return cedarDecide(set, request, entities, options);
}

/** The custom policies whose scope can match this resource type and action. */
export function customPoliciesFor(set: CompiledPolicySet, resourceType: string, action: string): CustomPolicy[] {
  if (!set.custom.length) return [];
  const key = actionId(resourceType, action);
  return set.custom.filter((policy) => {
    if (policy.resourceType !== undefined && policy.resourceType !== resourceType) return false;
    return policy.actions === 'all' || policy.actions.has(key);
  });
}

function isKnown(set: CompiledPolicySet, request: AuthzRequest): boolean {
  return set.resources.get(request.resource.type)?.actions.has(request.action) ?? false;
}
