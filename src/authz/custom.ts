import type { DetailedError, EntityUidJson, PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { FieldIssue } from '../core/index.js';
import { cedarEngine, refuseFaultingPolicy, type CedarModule } from './engine.js';
import { cedarLimitIssues } from './limits.js';
import type { CedarSchema } from './schema.js';
import { invalid } from './validate.js';

/**
 * Tenant-written Cedar policies. They are parsed and validated (strict mode) against the
 * generated schema; anything wrong is refused with Cedar's message, the policy it concerns and a
 * line and column in the text the tenant wrote.
 *
 * Arbitrary Cedar (entity hierarchy tests, `like`, extension functions, any boolean shape) cannot
 * be compiled into the TypeScript/SQL fast path with a proof of equivalence, so decisions a custom
 * policy can touch go through Cedar itself. What a policy can touch is read from its scope: the
 * actions it names (all actions when it names none) and the resource type it is restricted to.
 */
export type CustomPolicy = {
  /** `custom:<@id annotation>` or `custom:<position>` (0-based, in text order). */
  id: string;
  effect: 'permit' | 'forbid';
  text: string;
  /** `resource:action` keys this policy can apply to, or `all`. */
  actions: ReadonlySet<string> | 'all';
  /** The resource type its scope restricts it to, if any. */
  resourceType?: string;
  /** Cedar's JSON form of the policy: read by the list constraint (custom-constraint.ts). */
  json: PolicyJson;
};

const POINTER = '/customPolicies';

export function parseCustomPolicies(text: string, schema: CedarSchema): { policies: CustomPolicy[]; warnings: string[] } {
  if (!text.trim()) return { policies: [], warnings: [] };
  // Bounded before the engine sees a byte (limits.ts); a fault that still happens is contained
  // (engine.ts) and refuses the text rather than failing the request.
  const overLimit = cedarLimitIssues(text);
  if (overLimit.length) throw invalid(overLimit);
  try {
    return cedarEngine().run((cedar) => parseWith(cedar, text, schema));
  } catch (error) {
    return refuseFaultingPolicy(error, POINTER);
  }
}

function parseWith(cedar: CedarModule, text: string, schema: CedarSchema): { policies: CustomPolicy[]; warnings: string[] } {
  // Parsing as a static set also refuses templates (`?principal` slots): a tenant links nothing.
  const parsed = cedar.checkParsePolicySet({ staticPolicies: text });
  if (parsed.type === 'failure') throw invalid(parsed.errors.map((error) => issue(text, 'syntax error', error)));
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === 'failure') throw invalid(parts.errors.map((error) => issue(text, 'syntax error', error)));

  // policySetTextToParts returns the policies sorted by their generated ids (policy0, policy1,
  // policy10, ...): undo that sort to recover each policy's position in the text.
  const positions = parts.policies.map((_, index) => `policy${index}`).sort().map(positionOf);
  const policies = parts.policies.map((policyText, index) => describe(cedar, policyText, positions[index] ?? index)).sort((a, b) => a.position - b.position);
  const idAt = (cedarId: string): string => policies[positionOf(cedarId)]?.id ?? customId(positionOf(cedarId));

  const validation = cedar.validate({ schema, policies: { staticPolicies: text }, validationSettings: { mode: 'strict' } });
  if (validation.type === 'failure') throw invalid(validation.errors.map((error) => issue(text, 'invalid', error)));
  if (validation.validationErrors.length) {
    throw invalid(
      validation.validationErrors.map(({ policyId, error }) => {
        // Cedar names the policy by its internal id (`policy1`); the tenant knows it as custom:….
        const message = error.message.replaceAll(`\`${policyId}\``, `\`${idAt(policyId)}\``);
        return issue(text, `${idAt(policyId)} is invalid`, { ...error, message });
      }),
    );
  }
  const seen = new Set<string>();
  for (const policy of policies) {
    if (seen.has(policy.id)) throw invalid([{ pointer: POINTER, message: `policy id "${policy.id}" is used twice` }]);
    seen.add(policy.id);
  }
  // Warnings (e.g. "policy is impossible") do not refuse the set; the editor shows them.
  const warnings = validation.validationWarnings.map(({ policyId, error }) => issue(text, idAt(policyId), { ...error, message: error.message.replaceAll(`\`${policyId}\``, `\`${idAt(policyId)}\``) }).message);
  return { policies: policies.map(({ position: _position, ...policy }) => policy), warnings };
}

const positionOf = (cedarId: string): number => Number(cedarId.replace(/^policy/, ''));
const customId = (label: string | number): string => `custom:${label}`;

function describe(cedar: CedarModule, text: string, position: number): CustomPolicy & { position: number } {
  const json = cedar.policyToJson(text);
  if (json.type === 'failure') throw invalid(json.errors.map((error) => issue(text, 'syntax error', error)));
  const policy: PolicyJson = json.json;
  const annotated = policy.annotations?.id;
  return {
    id: customId(annotated ?? position),
    effect: policy.effect,
    text,
    actions: policy.action.op === 'All' ? 'all' : new Set(actionIds(policy.action).map((uid) => uidOf(uid).id)),
    ...resourceTypeOf(policy),
    json: policy,
    position,
  };
}

function actionIds(action: Exclude<PolicyJson['action'], { op: 'All' }>): EntityUidJson[] {
  if ('entities' in action) return action.entities;
  if ('entity' in action) return [action.entity];
  return [];
}

function resourceTypeOf(policy: PolicyJson): { resourceType?: string } {
  const scope = policy.resource;
  if (scope.op === 'is') return { resourceType: scope.entity_type };
  // Resources have no parents, so `resource in E` holds only for E itself: same type either way.
  if ((scope.op === '==' || scope.op === 'in') && 'entity' in scope) return { resourceType: uidOf(scope.entity).type };
  return {};
}

const uidOf = (uid: EntityUidJson): { type: string; id: string } => ('__entity' in uid ? uid.__entity : uid);

/** Cedar's message with the policy, line and column it points at (offsets are UTF-8 bytes). */
function issue(text: string, what: string, error: DetailedError): FieldIssue {
  const start = error.sourceLocations?.[0]?.start;
  const where = start === undefined ? '' : ` at ${lineColumn(text, start)}`;
  const label = error.sourceLocations?.[0]?.label;
  const help = [label, error.help].filter(Boolean).join('; ');
  return { pointer: POINTER, message: `${what}${where}: ${error.message}${help ? ` (${help})` : ''}` };
}

function lineColumn(text: string, byteOffset: number): string {
  const before = Buffer.from(text, 'utf8').subarray(0, byteOffset).toString('utf8');
  const lines = before.split('\n');
  return `line ${lines.length}, column ${(lines.at(-1)?.length ?? 0) + 1}`;
}
