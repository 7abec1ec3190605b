import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RampartError } from '../core/index.js';
import { compilePolicySet } from './compile.js';
import { decide } from './decide.js';
import { CedarEngineFault, cedarEngine, createCedarEngine, loadCedarModule, type CedarModule } from './engine.js';
import { CEDAR_LIMITS, cedarLimitIssues } from './limits.js';
import { samplePolicySet } from './sample.js';

/**
 * Issue 12 §4: tenant-written Cedar cannot degrade another tenant. Text is bounded before the
 * engine (limits.ts); a fault that still happens is contained to its call (engine.ts).
 */

const head = 'permit (principal, action, resource is customer) when { ';
const nested = (open: string, close: string, n: number, inner = 'true') => `${head}${open.repeat(n)}${inner}${close.repeat(n)} };`;
const admin = { id: 'u-1', tenantId: 't-1', roles: ['admin'] };
const viewer = { id: 'u-2', tenantId: 't-1', roles: ['viewer'] };
const readCustomer = (principal: typeof admin) => ({ principal, action: 'read', resource: { type: 'customer', id: 'c-1' } });

function refusal(customPolicies: string): RampartError {
  try {
    compilePolicySet({ ...samplePolicySet, customPolicies });
  } catch (error) {
    if (error instanceof RampartError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('AZ-2 tenant Cedar is bounded before it reaches the engine', () => {
  it('AZ-2 a policy nested several hundred levels deep is a 400, and the engine never faults', () => {
    const before = cedarEngine().health().faults;
    for (const [open, close, inner] of [['(', ')', 'true'], ['[', ']', '1'], ['{a: ', '}', '1']] as const) {
      const error = refusal(nested(open, close, 400, inner));
      expect(error.code).toBe('validation_failed');
      expect(error.issues?.[0]?.message).toMatch(/nests brackets deeper than 16/);
    }
    expect(refusal(`${head}${Array(300).fill('principal has department').join(' || ')} };`).issues?.[0]?.message).toMatch(/more than 64 operators/);
    expect(refusal(Array(101).fill('forbid (principal, action, resource) when { false };').join('\n')).issues?.[0]?.message).toMatch(/more than 100 policies/);
    expect(refusal(`${head}"${'x'.repeat(11_000)}" == "" };`).issues?.[0]?.message).toMatch(/longer than 10000 bytes/);
    expect(cedarEngine().health().faults).toBe(before);
  });

  it('AZ-2 strings and comments do not count: brackets and operators inside them are text', () => {
    const text = `// ((((((((((((((((((((((((((((( && && && &&\n${head}resource.name like "*${'('.repeat(40)}${' && '.repeat(40)}*" };`;
    expect(cedarLimitIssues(text)).toEqual([]);
  });

  it('AZ-2 any generated shape within the limits compiles or is refused with 400, and never faults the engine', () => {
    const atom = fc.constantFrom('true', 'principal has department', '1 < 2', 'resource.name like "a*"', '[1, 2].contains(1)', 'context == {}');
    const shape = fc.record({
      chain: fc.array(atom, { minLength: 1, maxLength: 40 }),
      joiner: fc.constantFrom(' && ', ' || '),
      depth: fc.integer({ min: 0, max: 20 }),
      bracket: fc.constantFrom(['(', ')'], ['[', ']'], ['if true then ', ' else false']),
    });
    const before = cedarEngine().health().faults;
    fc.assert(
      fc.property(shape, ({ chain, joiner, depth, bracket: [open, close] }) => {
        const expression = `${open!.repeat(depth)}${chain.join(joiner)}${close!.repeat(depth)}`;
        const text = `${head}${expression}${open === '[' ? ' == [true]' : ''} };`;
        try {
          compilePolicySet({ ...samplePolicySet, customPolicies: text });
        } catch (error) {
          expect(error).toBeInstanceOf(RampartError);
          expect((error as RampartError).code).toBe('validation_failed');
        }
      }),
      { numRuns: 25 },
    );
    expect(cedarEngine().health().faults).toBe(before);
  });
});

describe('AZ-2 an engine fault is contained to its call', () => {
  it('AZ-2 a trap replaces the instance; other tenants decide as before, on a fresh instance', () => {
    const tenantA = compilePolicySet({ ...samplePolicySet, customPolicies: '@id("no-viewers") forbid (principal in Role::"viewer", action, resource is customer);' });
    const tenantB = compilePolicySet({ ...samplePolicySet, customPolicies: '@id("open") permit (principal, action == Action::"customer:read", resource);' });
    const answers = () => [decide(tenantA, readCustomer(admin)).allowed, decide(tenantA, readCustomer(viewer)).allowed, decide(tenantB, readCustomer(viewer)).allowed];
    const expected = answers();
    const engine = cedarEngine();
    const { generation, faults } = engine.health();
    // Straight to the engine, past the limits: what a parser bug or an unbounded path would do.
    expect(() => engine.run((cedar) => cedar.checkParsePolicySet({ staticPolicies: nested('(', ')', 400) }))).toThrow(CedarEngineFault);
    expect(engine.health().faults).toBe(faults + 1);
    expect(answers()).toEqual(expected);
    expect(engine.health().generation).toBe(generation + 1);
    expect(() => engine.probe()).not.toThrow();
  });

  it('AZ-2 a fresh instance answers right after a trap', () => {
    const engine = createCedarEngine({ load: loadCedarModule });
    expect(() => engine.run((cedar) => cedar.checkParsePolicySet({ staticPolicies: nested('[', ']', 300, '1') }))).toThrow(CedarEngineFault);
    expect(engine.run((cedar) => cedar.checkParsePolicySet({ staticPolicies: 'permit (principal, action, resource);' })).type).toBe('success');
  });

  it('AZ-2 readiness fails while the engine cannot answer', () => {
    let isBroken = true;
    const engine = createCedarEngine({
      load: () => {
        if (isBroken) return { checkParsePolicySet: () => { throw new WebAssembly.RuntimeError('unreachable'); } } as unknown as CedarModule;
        return loadCedarModule();
      },
    });
    expect(() => engine.probe()).toThrow(/does not answer/);
    expect(engine.health().isHealthy).toBe(false);
    isBroken = false;
    expect(() => engine.probe()).not.toThrow();
    expect(engine.health()).toMatchObject({ isHealthy: true, faults: 1 });
  });

  it('AZ-2 the limits are well inside what the engine survives (they can fail)', () => {
    const engine = createCedarEngine({ load: loadCedarModule });
    const atLimit = nested('(', ')', CEDAR_LIMITS.depth - 3);
    expect(cedarLimitIssues(atLimit)).toEqual([]);
    expect(engine.run((cedar) => cedar.checkParsePolicySet({ staticPolicies: atLimit })).type).toBe('success');
    expect(cedarLimitIssues(nested('(', ')', CEDAR_LIMITS.depth))).not.toEqual([]);
  });
});
