import { RampartError } from '../core/index.js';
import { guardWasmInlining, preparse, preparsedIds, type Preparsed } from './cedar.js';
import { parseCustomPolicies, type CustomPolicy } from './custom.js';
import { cedarEngine } from './engine.js';
import { buildIndex, evaluate, type DecisionIndex } from './fast.js';
import { cedarString, generatePolicies } from './policies.js';
import { cedarSchema, type CedarSchema } from './schema.js';
import { checkInput, type Catalog } from './validate.js';
import type { AuthzRequest, Decision, PolicySetInput } from './types.js';

/**
 * A compiled policy set: the Cedar form (reference semantics, and the engine for tenant-written
 * policies) and the compiled form (the hot path) of the same matrix and rules. Immutable; compile
 * a new one when the matrix, rules or custom policies change.
 */
export type CompiledPolicySet = {
  /** Known roles, sorted. */
  roles: readonly string[];
  roleSet: ReadonlySet<string>;
  /** Resource name -> its actions and declared record attributes. */
  resources: Catalog['resources'];
  /** The matrix as given, deduplicated and sorted. */
  matrix: Catalog['matrix'];
  rules: Catalog['rules'];
  /** Every Cedar policy by id: `matrix:…`, `rule:…`, `custom:…`. */
  policies: Readonly<Record<string, string>>;
  /** All policies as one Cedar document with `@id` annotations (for display and drift snapshots). */
  policyText: string;
  schema: CedarSchema;
  /** Tenant-written policies, parsed and validated. */
  custom: readonly CustomPolicy[];
  /** Cedar's validation warnings on the custom policies (e.g. a policy that can never apply). */
  warnings: readonly string[];
  /** Handles of the pre-parsed policy set and schema inside cedar-wasm. */
  preparsed: Preparsed;
  /** The compiled decision function (matrix and rules only; ignores custom policies). */
  evaluate: (request: AuthzRequest) => Decision;
  /** Internal: the decision index behind `evaluate` and `constraintFor`. */
  index: DecisionIndex;
};

/**
 * Policy sets already validated and pre-parsed in this thread, by content hash. A pure memo (the
 * same text validates the same way, and cedar-wasm never evicts a pre-parsed set): recompiling an
 * unchanged tenant set skips the ~10 ms of schema validation and parsing.
 */
const readyInThisThread = new Set<string>();

/**
 * Checks and compiles a policy set. Throws `RampartError('validation_failed')`, with one issue per
 * problem pointing at it, when the matrix names an unknown resource or action, a rule uses an
 * attribute its resource does not declare, or a custom policy fails to parse or to validate
 * against the generated schema (Cedar's message, with line and column).
 */
export function compilePolicySet(input: PolicySetInput): CompiledPolicySet {
  guardWasmInlining();
  const catalog = checkInput(input);
  const schema = cedarSchema(catalog);
  const generated = generatePolicies(catalog);
  const { policies: custom, warnings } = parseCustomPolicies(input.customPolicies ?? '', schema);
  const policies: Record<string, string> = { ...generated };
  for (const policy of custom) policies[policy.id] = policy.text;
  const preparsed = preparsedIds(policies, schema);
  const key = `${preparsed.policySetId} ${preparsed.schemaName}`;
  if (!readyInThisThread.has(key)) {
    assertValid(generated, schema);
    preparse(policies, schema, preparsed);
    if (readyInThisThread.size >= 10_000) readyInThisThread.clear();
    readyInThisThread.add(key);
  }
  const index = buildIndex(catalog);
  return {
    roles: catalog.roles,
    roleSet: new Set(catalog.roles),
    resources: catalog.resources,
    matrix: catalog.matrix,
    rules: catalog.rules,
    policies,
    policyText: Object.entries(policies)
      .map(([id, text]) => (text.trimStart().startsWith('@id(') ? text : `@id(${cedarString(id)})\n${text}`))
      .join('\n\n'),
    schema,
    custom,
    warnings,
    preparsed,
    evaluate: (request) => evaluate(index, request),
    index,
  };
}

/** The generated policies must validate; if they do not, the generator is wrong (a bug, not bad input). */
function assertValid(policies: Record<string, string>, schema: CedarSchema): void {
  const answer = cedarEngine().run((cedar) => cedar.validate({ schema, policies: { staticPolicies: policies }, validationSettings: { mode: 'strict' } }));
  const problems =
    answer.type === 'failure' ? answer.errors.map((error) => error.message) : answer.validationErrors.map((error) => `${error.policyId}: ${error.error.message}`);
  if (problems.length) throw new RampartError('internal', { detail: `generated Cedar policies failed validation: ${problems.join('; ')}` });
}
