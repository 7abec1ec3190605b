import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicySet, type CompiledPolicySet } from './compile.js';
import { constraintFor, constraintMatches } from './constraint.js';
import { decide, decideWithCedar } from './decide.js';
import { RECORD_ATTRIBUTES, type AttributeRule, type AuthzPrincipal, type AuthzRequest, type Condition, type PolicySetInput, type RecordAttribute, type RecordAttributes, type ResourceDefinition } from './types.js';

/**
 * Differential tests (controls AZ-1, AZ-3): random catalogs, matrices, rules, principals and
 * records; the compiled path must give Cedar's decision and the same determining policies, and the
 * list constraint must select exactly the records `decide` allows.
 */

const ROLES = ['r1', 'r2', 'r3', 'r4'];
const RESOURCES = ['alpha', 'beta', 'gamma'];
const ACTIONS = ['list', 'read', 'update', 'export', 'refund'];
const VALUES: Record<RecordAttribute, string[]> = {
  owner: ['u1', 'u2', 'u3'],
  department: ['sales', 'ops'],
  region: ['eu', 'us', 'apac'],
  sensitivity: ['public', 'pii', 'phi'],
};

const resourcesArb: fc.Arbitrary<ResourceDefinition[]> = fc.tuple(
  ...RESOURCES.map((name) =>
    fc.record({
      name: fc.constant(name),
      actions: fc.subarray(ACTIONS, { minLength: 1 }),
      attributes: fc.subarray([...RECORD_ATTRIBUTES]).map((list) => Object.fromEntries(list.map((attribute) => [attribute, true as const]))),
    }),
  ),
);

function conditionArb(attributes: RecordAttribute[]): fc.Arbitrary<Condition> {
  return fc.constantFrom(...attributes).chain((record): fc.Arbitrary<Condition> => {
    const literal = fc.constantFrom(...VALUES[record]);
    const refs = record === 'owner' ? (['id'] as const) : (['department', 'region'] as const);
    return fc.oneof(
      fc.record({ record: fc.constant(record), op: fc.constantFrom('eq' as const, 'neq' as const), value: fc.oneof(literal, fc.constantFrom(...refs).map((principal) => ({ principal }))) }),
      fc.record({ record: fc.constant(record), op: fc.constantFrom('in' as const, 'not_in' as const), value: fc.subarray(VALUES[record], { minLength: 1 }) }),
    );
  });
}

function ruleArb(resources: ResourceDefinition[], id: string): fc.Arbitrary<AttributeRule | undefined> {
  return fc.constantFrom('*', ...resources.map((resource) => resource.name)).chain((resource) => {
    const target = resources.find((candidate) => candidate.name === resource);
    const actions = target ? target.actions : [...new Set(resources.flatMap((candidate) => candidate.actions))];
    const attributes = target ? (Object.keys(target.attributes ?? {}) as RecordAttribute[]) : [...RECORD_ATTRIBUTES];
    const when = attributes.length ? fc.array(conditionArb(attributes), { maxLength: 3 }) : fc.constant([]);
    return fc
      .record({
        effect: fc.constantFrom('permit' as const, 'forbid' as const),
        roles: fc.oneof(fc.constant('*' as const), fc.subarray(ROLES, { minLength: 1 })),
        exceptRoles: fc.subarray(ROLES, { maxLength: 2 }),
        actions: fc.subarray(actions, { minLength: 1 }),
        when,
      })
      .map((rule) => (rule.effect === 'permit' && rule.when.length === 0 ? undefined : { id, resource, ...rule }));
  });
}

const inputArb: fc.Arbitrary<PolicySetInput> = resourcesArb.chain((resources) =>
  fc.record({
    resources: fc.constant(resources),
    roles: fc.constant(ROLES),
    matrix: fc.record(Object.fromEntries(ROLES.map((role) => [role, fc.record(Object.fromEntries(resources.map((resource) => [resource.name, fc.subarray(resource.actions)])))]))),
    rules: fc.tuple(...[0, 1, 2, 3, 4].map((index) => ruleArb(resources, `g${index}`))).map((rules) => rules.filter((rule): rule is AttributeRule => rule !== undefined)),
  }),
);

const maybe = <T,>(arb: fc.Arbitrary<T>) => fc.oneof(arb, fc.constant(undefined), fc.constant(null));

const principalArb: fc.Arbitrary<AuthzPrincipal> = fc.record({
  id: fc.constantFrom(...VALUES.owner),
  tenantId: fc.constant('t1'),
  roles: fc.subarray([...ROLES, 'ghost']),
  department: maybe(fc.constantFrom(...VALUES.department)),
  region: maybe(fc.constantFrom(...VALUES.region)),
});

const recordArb: fc.Arbitrary<RecordAttributes> = fc.record(
  Object.fromEntries(RECORD_ATTRIBUTES.map((attribute) => [attribute, maybe(fc.constantFrom(...VALUES[attribute]))])) as Record<RecordAttribute, fc.Arbitrary<string | null | undefined>>,
);

const requestArb = fc.record({ action: fc.constantFrom(...ACTIONS, 'bogus'), type: fc.constantFrom(...RESOURCES, 'nothing') });

const scenarioArb = fc.record({
  input: inputArb,
  principals: fc.array(principalArb, { minLength: 1, maxLength: 3 }),
  requests: fc.array(requestArb, { minLength: 1, maxLength: 4 }),
  records: fc.array(recordArb, { minLength: 1, maxLength: 6 }),
});

const outcome = (decision: { allowed: boolean; policyIds: string[] }) => ({ allowed: decision.allowed, policyIds: decision.policyIds });

function checkScenario(set: CompiledPolicySet, scenario: { principals: AuthzPrincipal[]; requests: Array<{ action: string; type: string }>; records: RecordAttributes[] }, stats: { exact: number; rowCheck: number }) {
  for (const principal of scenario.principals) {
    for (const { action, type } of scenario.requests) {
      const constraint = constraintFor(set, { principal, action, resourceType: type });
      if ('needsRowCheck' in constraint && constraint.needsRowCheck) stats.rowCheck += 1;
      else stats.exact += 1;
      for (const attributes of scenario.records) {
        const request: AuthzRequest = { principal, action, resource: { type, id: 'x', attributes } };
        const fast = decide(set, request);
        expect(outcome(fast), JSON.stringify({ request, policies: set.policies })).toEqual(outcome(decideWithCedar(set, request)));
        const matches = constraintMatches(constraint, attributes);
        if ('needsRowCheck' in constraint && constraint.needsRowCheck) {
          if (fast.allowed) expect(matches, JSON.stringify({ constraint, request })).toBe(true);
        } else expect(matches, JSON.stringify({ constraint, request, fast })).toBe(fast.allowed);
      }
    }
  }
}

describe('AZ-3 differential: compiled path vs Cedar', () => {
  it('AZ-3 decide equals Cedar, and constraintFor selects exactly the allowed records (500 random policy sets)', () => {
    const stats = { exact: 0, rowCheck: 0 };
    fc.assert(
      fc.property(scenarioArb, (scenario) => checkScenario(compilePolicySet(scenario.input), scenario, stats)),
      { numRuns: 500 },
    );
    // The DNF cap is a safety valve, not the common case.
    expect(stats.rowCheck).toBeLessThan((stats.exact + stats.rowCheck) * 0.05);
  }, 240_000);

  it('AZ-3 with random tenant Cedar policies: decide still equals Cedar and constraints stay sound', () => {
    const customArb = fc.array(
      fc.record({
        effect: fc.constantFrom('permit', 'forbid'),
        scope: fc.oneof(
          fc.record({ resource: fc.constantFrom(...RESOURCES), action: fc.constantFrom(...ACTIONS) }).map(({ resource, action }) => ({ text: `action == Action::"${resource}:${action}", resource`, resource, action })),
          fc.constantFrom(...RESOURCES).map((resource) => ({ text: `action, resource is ${resource}`, resource, action: undefined })),
          fc.constant({ text: 'action, resource', resource: undefined, action: undefined }),
        ),
        principal: fc.constantFrom('principal', 'principal in Role::"r1"', 'principal in Role::"r2"'),
        region: fc.constantFrom(...VALUES.region),
      }),
      { maxLength: 3 },
    );
    const stats = { exact: 0, rowCheck: 0 };
    fc.assert(
      fc.property(scenarioArb, customArb, (scenario, customs) => {
        const valid = customs.filter((custom) => scenario.input.resources.some((resource) => (custom.scope.resource === undefined || resource.name === custom.scope.resource) && (custom.scope.action === undefined || resource.actions.includes(custom.scope.action))));
        const customPolicies = valid.map((custom) => `${custom.effect} (${custom.principal}, ${custom.scope.text}) when { principal has region && principal.region == "${custom.region}" };`).join('\n');
        checkScenario(compilePolicySet({ ...scenario.input, customPolicies }), scenario, stats);
      }),
      { numRuns: 150 },
    );
  }, 240_000);

  it('AZ-3 random tenant Cedar policies (role, user and attribute conditions): the constraint is per principal and exact where compiled', () => {
    const stats = { exact: 0, rowCheck: 0, uncompilable: 0, customs: 0 };
    fc.assert(
      fc.property(scenarioArb.chain((scenario) => fc.tuple(fc.constant(scenario), fc.array(tenantPolicyArb(scenario.input.resources), { maxLength: 4 }))), ([scenario, customs]) => {
        const text = (list: TenantPolicy[]) => list.map((custom) => custom.text).join('\n');
        const set = compilePolicySet({ ...scenario.input, customPolicies: text(customs) });
        stats.customs += customs.length;
        checkScenario(set, scenario, stats);
        for (const principal of scenario.principals) {
          // A policy whose scope names another role or user contributes nothing: the constraint equals
          // the one of the same set without it.
          const own = customs.filter((custom) => covers(custom, principal));
          const ownSet = own.length === customs.length ? set : compilePolicySet({ ...scenario.input, customPolicies: text(own) });
          for (const { action, type } of scenario.requests) {
            const constraint = constraintFor(set, { principal, action, resourceType: type });
            expect(constraint, JSON.stringify({ principal, action, type, policies: text(customs) })).toEqual(constraintFor(ownSet, { principal, action, resourceType: type }));
            const applicable = own.filter((custom) => custom.resource === type && custom.action === action);
            if (applicable.some((custom) => !custom.compilable)) stats.uncompilable += 1;
            // What the compiler understands is exact: no row check unless a policy it cannot read applies.
            else if (constraint.kind !== 'none') expect('needsRowCheck' in constraint && constraint.needsRowCheck, JSON.stringify({ principal, action, type, policies: text(applicable), constraint })).toBeFalsy();
          }
        }
      }),
      // A fixed seed: the run must reach policies the compiler cannot read (asserted below), which an
      // unseeded run misses now and then.
      { numRuns: 200, seed: 20_261_208 },
    );
    expect(stats.customs).toBeGreaterThan(200);
    expect(stats.uncompilable).toBeGreaterThan(0);
  }, 240_000);
});

type TenantPolicy = { text: string; resource: string; action: string; scope: { role: string } | { user: string } | 'all'; compilable: boolean };

const covers = (custom: TenantPolicy, principal: AuthzPrincipal): boolean =>
  custom.scope === 'all' || ('role' in custom.scope ? principal.roles.includes(custom.scope.role) : principal.id === custom.scope.user);

/** Cedar conditions on the resource's declared attributes, the principal, and both; `like` is the one the compiler does not read. */
function conditionTextArb(attributes: RecordAttribute[]): fc.Arbitrary<{ text: string; compilable: boolean }> {
  const compiled = (text: string) => ({ text, compilable: true });
  const principalOnly = fc.oneof(
    fc.constantFrom(...VALUES.region).map((region) => compiled(`principal has region && principal.region == "${region}"`)),
    fc.constantFrom(...ROLES).map((role) => compiled(`principal in Role::"${role}"`)),
    fc.constant(compiled('true')),
  );
  if (!attributes.length) return principalOnly;
  const literal = (attribute: RecordAttribute, value: string) => (attribute === 'owner' ? `User::"${value}"` : `"${value}"`);
  const onRecord = fc.constantFrom(...attributes).chain((attribute) => {
    const guard = `resource has ${attribute}`;
    const value = fc.constantFrom(...VALUES[attribute]);
    const options: Array<fc.Arbitrary<{ text: string; compilable: boolean }>> = [
      fc.constant(compiled(guard)),
      fc.constant(compiled(`!(${guard})`)),
      value.map((v) => compiled(`${guard} && resource.${attribute} == ${literal(attribute, v)}`)),
      value.map((v) => compiled(`${guard} && resource.${attribute} != ${literal(attribute, v)}`)),
      fc.tuple(value, fc.constantFrom(...VALUES.region)).map(([v, region]) => compiled(`(${guard} && resource.${attribute} == ${literal(attribute, v)}) || (principal has region && principal.region == "${region}")`)),
    ];
    if (attribute === 'owner') options.push(fc.constant(compiled(`${guard} && resource.owner == principal`)));
    else {
      options.push(fc.subarray(VALUES[attribute], { minLength: 1 }).map((values) => compiled(`${guard} && ${JSON.stringify(values)}.contains(resource.${attribute})`)));
      options.push(value.map((v) => ({ text: `${guard} && resource.${attribute} like "${v.slice(0, 1)}*"`, compilable: false })));
    }
    if (attribute === 'department' || attribute === 'region') options.push(fc.constant(compiled(`${guard} && principal has ${attribute} && resource.${attribute} == principal.${attribute}`)));
    return fc.oneof(...options);
  });
  return fc.oneof({ arbitrary: onRecord, weight: 3 }, { arbitrary: principalOnly, weight: 1 });
}

/** A tenant policy on one action of one resource of the catalog: permit or forbid, for everyone, a role or a user, with when/unless conditions. */
function tenantPolicyArb(resources: ResourceDefinition[]): fc.Arbitrary<TenantPolicy> {
  return fc.constantFrom(...resources).chain((resource) => {
    const attributes = Object.keys(resource.attributes ?? {}) as RecordAttribute[];
    return fc
      .record({
        effect: fc.constantFrom('permit', 'forbid'),
        action: fc.constantFrom(...resource.actions),
        scope: fc.oneof(fc.constant('all' as const), fc.constantFrom(...ROLES).map((role) => ({ role })), fc.constantFrom(...VALUES.owner).map((user) => ({ user }))),
        conditions: fc.array(fc.tuple(fc.constantFrom('when', 'unless'), conditionTextArb(attributes)), { maxLength: 2 }),
      })
      .map(({ effect, action, scope, conditions }) => {
        const principal = scope === 'all' ? 'principal' : 'role' in scope ? `principal in Role::"${scope.role}"` : `principal == User::"${scope.user}"`;
        const body = conditions.map(([kind, condition]) => ` ${kind} { ${condition.text} }`).join('');
        return { text: `${effect} (${principal}, action == Action::"${resource.name}:${action}", resource is ${resource.name})${body};`, resource: resource.name, action, scope, compilable: conditions.every(([, condition]) => condition.compilable) };
      });
  });
}
