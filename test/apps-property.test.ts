import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authzInputFor, compileApp, compilePlan, FIELD_TYPES, lintSpec, resourceActions, tableName, DATA_CLASSES, type AppSpecInput } from '../src/apps/index.js';
import { compilePolicySet, decide, matrixCases, negativeMatrixCases } from '../src/authz/index.js';
import { execScript, findRlsViolations, type Database } from '../src/db/index.js';
import { testDatabase } from './support/rampart.js';

/**
 * Property tests of the spec compiler (AZ-1, DE-2, DA-1): random valid specs lint clean, compile,
 * and every (role, action, resource) their matrix does not grant is denied; applied to a real
 * (embedded) PostgreSQL every generated table has forced row security and the catalog check
 * passes; random invalid specs are refused with findings and never crash the linter.
 */

const ROLES = ['owner', 'admin', 'member', 'viewer', 'dpo', 'clerk'] as const;

const specArbitrary: fc.Arbitrary<AppSpecInput> = fc
  .record({
    app: fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/).map((s) => `a${s}`),
    resourceCount: fc.integer({ min: 1, max: 3 }),
    seed: fc.array(fc.record({ type: fc.constantFrom(...FIELD_TYPES), class: fc.constantFrom(...DATA_CLASSES), required: fc.boolean(), unique: fc.boolean(), bound: fc.option(fc.integer({ min: 0, max: 50 })) }), { minLength: 3, maxLength: 12 }),
    owner: fc.boolean(),
    grants: fc.array(fc.tuple(fc.constantFrom(...ROLES), fc.nat(), fc.array(fc.nat(), { maxLength: 6 })), { maxLength: 12 }),
    withRule: fc.boolean(),
  })
  .map(({ app, resourceCount, seed, owner, grants, withRule }) => {
    const names = Array.from({ length: resourceCount }, (_, i) => `res${i}`);
    const resources = names.map((name, r) => {
      const fields = seed.slice(r, r + 4 + r).map((f, i) => {
        const encrypted = f.class === 'phi' || f.class === 'secret';
        const field: Record<string, unknown> = { name: `f${i}`, type: f.type, class: f.type === 'reference' && encrypted ? 'internal' : f.class, required: f.required, unique: f.unique && !encrypted && f.type !== 'reference' };
        if (f.type === 'enum') field.values = ['a', 'b', 'c'];
        if (f.type === 'money') field.currency = 'EUR';
        if (f.type === 'reference') Object.assign(field, { to: names[(r + i) % names.length], onDelete: f.required ? 'cascade' : 'set_null' });
        if (f.bound !== null && ['text', 'integer', 'money', 'long_text'].includes(f.type)) field.max = f.bound;
        return field;
      });
      return { name, fields: fields.length ? fields : [{ name: 'title', type: 'text', class: 'internal' }], attributes: owner ? { owner: true as const } : {} };
    });
    const matrix: Record<string, Record<string, string[]>> = {};
    resources.forEach((resource, r) => ((matrix.owner ??= {})[resource.name] = r === 0 ? ['list'] : ['read']));
    for (const [role, r, picks] of grants) {
      const resource = resources[r % resources.length]!;
      const actions = resourceActions({ actions: [], fields: resource.fields as never });
      const row = ((matrix[role] ??= {})[resource.name] ??= []);
      for (const pick of picks) row.push(actions[pick % actions.length]!);
    }
    const rules = withRule && owner ? [{ id: 'own', effect: 'permit' as const, roles: ['member'], resource: 'res0', actions: ['update'], when: [{ record: 'owner' as const, op: 'eq' as const, value: { principal: 'id' as const } }], check: [{ record: 'owner' as const, op: 'eq' as const, value: { principal: 'id' as const } }] }] : [];
    return { app, version: 1, title: `App ${app}`, roles: [{ name: 'clerk' }], resources, matrix, rules } as AppSpecInput;
  });

describe('spec compiler properties', () => {
  it('AZ-1 random valid specs lint clean, compile, and every ungranted (role, action, resource) is denied', () => {
    fc.assert(
      fc.property(specArbitrary, (input) => {
        const result = lintSpec(input);
        expect(result.findings).toEqual([]);
        const compiled = compileApp(result.spec!);
        expect(compiled.cedar.policies.length).toBeGreaterThan(0);
        const set = compilePolicySet(authzInputFor(result.spec!));
        const negatives = negativeMatrixCases(set);
        for (const testCase of negatives) expect(decide(set, testCase.request).allowed, testCase.name).toBe(false);
        for (const testCase of matrixCases(set).filter((c) => c.expected === 'allow')) expect(decide(set, testCase.request).allowed, testCase.name).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('random invalid specs are refused with findings, never a crash', () => {
    const mutations: Array<(spec: Record<string, unknown> & { resources: Array<Record<string, unknown> & { fields: Array<Record<string, unknown>> }>; matrix: Record<string, Record<string, string[]>> }, n: number) => void> = [
      (s, n) => void delete s.resources[n % s.resources.length]!.fields[0]!.class,
      (s, n) => void (s.matrix.anonymous = { [s.resources[n % s.resources.length]!.name as string]: ['read'] }),
      (s) => void (s.matrix = {}),
      (s, n) => void (s.resources[n % s.resources.length]!.fields[0]!.name = 'Bad Name'),
      (s, n) => void (s.resources[n % s.resources.length]!.fields[0]!.type = 'blob'),
      (s, n) => void s.resources[n % s.resources.length]!.fields.push({ name: 'link', type: 'reference', class: 'internal', to: 'other.thing' }),
      (s, n) => void s.resources[n % s.resources.length]!.fields.push({ name: 'owner_id', type: 'text', class: 'internal' }),
      (s) => void ((s as Record<string, unknown>).rules = [{ id: 'w', effect: 'permit', roles: ['member'], resource: 'res0', actions: ['create'], when: [{ record: 'region', op: 'eq', value: 'eu' }] }]),
      (s) => void ((s as Record<string, unknown>).version = -1),
      (s, n) => void ((s as Record<string, unknown>)[['app', 'resources', 'matrix', 'title'][n % 4]!] = n % 2 ? null : { junk: [n] }),
    ];
    fc.assert(
      fc.property(specArbitrary, fc.integer({ min: 0, max: mutations.length - 1 }), fc.nat(), (input, which, n) => {
        const spec = structuredClone(input) as never;
        mutations[which]!(spec, n);
        const result = lintSpec(spec);
        expect(result.ok).toBe(false);
        expect(result.findings.length).toBeGreaterThan(0);
        for (const finding of result.findings) expect(finding).toMatchObject({ code: expect.any(String), message: expect.any(String), pointer: expect.stringMatching(/^\//) });
      }),
      { numRuns: 150 },
    );
  });

  describe('applied to the embedded database', () => {
    let db: Database;
    beforeAll(async () => {
      db = await testDatabase();
    });
    afterAll(() => db.close());

    it('DE-2 every generated table has ENABLE + FORCE row security and the catalog check passes', async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(specArbitrary, async (input) => {
          const spec = lintSpec(input).spec!;
          const key = (run++).toString(16).padStart(12, '0');
          await db.owner.transaction().execute((trx) => execScript(trx, compilePlan(null, spec, { tenantKey: key }).sql));
          const names = spec.resources.map((r) => tableName(key, spec.app, r.name));
          const { rows } = await sql<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }>`select relname, relrowsecurity, relforcerowsecurity from pg_class where relname in (${sql.join(names)})`.execute(db.owner);
          expect(rows).toHaveLength(names.length);
          for (const row of rows) expect(row).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true });
          expect(await findRlsViolations(db)).toEqual([]);
        }),
        { numRuns: 15 },
      );
    });
  });
});
