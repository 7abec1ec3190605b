import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import type { AuthorizationAnswer, EntityJson, EntityUidJson } from '@cedar-policy/cedar-wasm/nodejs';
import { RampartError } from '../core/index.js';
import { CedarEngineFault, cedarEngine } from './engine.js';
import { actionId, type CedarSchema } from './schema.js';
import type { AuthzRequest, Decision, RecordAttribute } from './types.js';

/**
 * The thin layer over `@cedar-policy/cedar-wasm`: entity JSON, the stateless and the pre-parsed
 * (stateful) calls, and the translation of Cedar's answer into a Decision.
 */

let isWasmInliningGuarded = false;

/**
 * Works around a V8 crash. On Node 20 (V8 11.3), once TurboFan inlines the JS->Wasm calls into
 * cedar-wasm's bindings, a later deoptimization can abort the whole process ("Fatal error ...
 * unreachable code" in Deoptimizer::DoComputeBuiltinContinuation); no JS error, no recovery.
 * Reproduced here: the differential test aborted in 10 of 15 runs without this flag, in none of 13 with it.
 * The flag only affects code optimized afterwards, so it is set before the first Cedar call. It is
 * process-wide (PGlite's wasm calls are not inlined either; the cost is a few ns per call). Applied
 * on V8 12 too (Node 22, untested here); V8 13+ (Node 24) is left alone.
 */
export function guardWasmInlining(): void {
  if (isWasmInliningGuarded) return;
  isWasmInliningGuarded = true;
  const major = Number(process.versions.v8.split('.')[0]);
  if (major <= 12) setFlagsFromString('--no-turbo-inline-js-wasm-calls');
}

/** Handles of a policy set and schema parsed once into the wasm instance (thread-local cache). */
export type Preparsed = { policySetId: string; schemaName: string };

/**
 * The names under which a policy set and schema are pre-parsed: content hashes, so recompiling an
 * unchanged tenant set reuses its entry. cedar-wasm 4.13 has no call to drop an entry, so each
 * distinct version stays cached for the life of the process (a few KB). The cache is per thread:
 * a worker thread must compile its own set.
 */
export function preparsedIds(policies: Record<string, string>, schema: CedarSchema): Preparsed {
  return { policySetId: `rampart-policies:${digest(policies)}`, schemaName: `rampart-schema:${digest(schema)}` };
}

/**
 * Parses the policy set and schema into the engine's current instance, once per instance: a
 * replaced instance (after a fault, see engine.ts) gets them again on first use.
 */
export function preparse(policies: Record<string, string>, schema: CedarSchema, ids: Preparsed): void {
  cedarEngine().ensurePreparsed(`${ids.policySetId} ${ids.schemaName}`, (cedar) => {
    const parsed = cedar.preparsePolicySet(ids.policySetId, { staticPolicies: policies });
    // The set validated before it got here: a refusal now is a bug of ours, not bad input.
    if (parsed.type === 'failure') throw new RampartError('internal', { detail: `cedar refused the policy set: ${parsed.errors.map((error) => error.message).join('; ')}` });
    const parsedSchema = cedar.preparseSchema(ids.schemaName, schema);
    if (parsedSchema.type === 'failure') throw new RampartError('internal', { detail: `cedar refused the schema: ${parsedSchema.errors.map((error) => error.message).join('; ')}` });
  });
}

const digest = (value: unknown): string => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);

export type EntityContext = { roles: ReadonlySet<string>; attributes: ReadonlySet<RecordAttribute> };

/**
 * The entities of one request:
 * `User::"<id>"` with attrs `{ department?, region? }` and parents `Role::"<role>"` (known roles
 * only: the Role type is an enum, and an unknown role grants nothing anyway), and
 * `<resource type>::"<id or empty>"` with the attributes its type declares; `owner` is a
 * `User` reference. Absent (null/undefined) values are left out, so `has` is false for them.
 */
export function requestEntities(request: AuthzRequest, context: EntityContext): EntityJson[] {
  const { principal, resource } = request;
  const principalAttrs: Record<string, string> = {};
  if (isPresent(principal.department)) principalAttrs.department = principal.department;
  if (isPresent(principal.region)) principalAttrs.region = principal.region;
  const resourceAttrs: EntityJson['attrs'] = {};
  for (const attribute of context.attributes) {
    const value = resource.attributes?.[attribute];
    if (!isPresent(value)) continue;
    resourceAttrs[attribute] = attribute === 'owner' ? { __entity: { type: 'User', id: value } } : value;
  }
  return [
    { uid: userUid(principal.id), attrs: principalAttrs, parents: principal.roles.filter((role) => context.roles.has(role)).map((role) => ({ type: 'Role', id: role })) },
    { uid: resourceUid(request), attrs: resourceAttrs, parents: [] },
  ];
}

export const isPresent = (value: string | null | undefined): value is string => value !== undefined && value !== null;

const userUid = (id: string): EntityUidJson => ({ type: 'User', id });
const resourceUid = (request: AuthzRequest): EntityUidJson => ({ type: request.resource.type, id: request.resource.id ?? '' });

export type CedarCallOptions = {
  /** `stateful` (default) evaluates the pre-parsed set; `stateless` sends policies and schema with every call. */
  api?: 'stateful' | 'stateless';
  /** Validate the request and entities against the schema (default true). */
  validateRequest?: boolean;
};

export type CedarPolicySet = { policies: Record<string, string>; schema: CedarSchema; preparsed: Preparsed };

export function cedarDecide(set: CedarPolicySet, request: AuthzRequest, entities: EntityJson[], options: CedarCallOptions = {}): Decision {
  const validateRequest = options.validateRequest ?? true;
  const call = {
    principal: userUid(request.principal.id),
    action: { type: 'Action', id: actionId(request.resource.type, request.action) },
    resource: resourceUid(request),
    context: {},
    entities,
    validateRequest,
  };
  try {
    if (options.api === 'stateless') {
      return toDecision(cedarEngine().run((cedar) => cedar.isAuthorized({ ...call, policies: { staticPolicies: set.policies }, ...(validateRequest ? { schema: set.schema } : {}) })));
    }
    preparse(set.policies, set.schema, set.preparsed);
    return toDecision(cedarEngine().run((cedar) => cedar.statefulIsAuthorized({ ...call, preparsedPolicySetId: set.preparsed.policySetId, ...(validateRequest ? { preparsedSchemaName: set.preparsed.schemaName } : {}) })));
  } catch (error) {
    // Contained per call: the engine replaced its instance; this one request is denied (fail closed).
    if (error instanceof CedarEngineFault) return { allowed: false, reason: `cedar: engine fault (${error.message.slice(0, 120)})`, policyIds: [], engine: 'cedar' };
    throw error;
  }
}

function toDecision(answer: AuthorizationAnswer): Decision {
  // Fail closed: a request Cedar cannot evaluate is denied, with Cedar's reason for the log.
  if (answer.type === 'failure') return { allowed: false, reason: `cedar: ${answer.errors.map((error) => error.message).join('; ')}`, policyIds: [], engine: 'cedar' };
  const policyIds = [...answer.response.diagnostics.reason].sort();
  const allowed = answer.response.decision === 'allow';
  return { allowed, reason: policyIds.length ? policyIds.join(', ') : 'no permit', policyIds, engine: 'cedar' };
}
