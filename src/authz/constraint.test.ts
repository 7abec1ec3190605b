import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../../test/support/rampart.js';
import { RampartError } from '../core/index.js';
import { execScript, type Database } from '../db/index.js';
import { compilePolicySet } from './compile.js';
import { applyConstraint, constraintFor, constraintMatches, type Constraint } from './constraint.js';
import { decide } from './decide.js';
import { samplePolicySet } from './sample.js';
import type { AttributeRule, AuthzPrincipal, RecordAttributes } from './types.js';

// control: AZ-3. The list constraint: exact OR-of-ANDs, forbids as AND NOT, proven against SQL.
const extraRules: AttributeRule[] = [
  { id: 'viewers-own-department', effect: 'forbid', roles: ['viewer'], resource: 'customer', actions: ['read', 'list'], when: [{ record: 'department', op: 'neq', value: { principal: 'department' } }] },
  { id: 'no-apac-invoice-lists', effect: 'forbid', roles: '*', exceptRoles: ['admin'], resource: 'invoice', actions: ['list'], when: [{ record: 'region', op: 'eq', value: 'apac' }, { record: 'sensitivity', op: 'not_in', value: ['public'] }] },
  { id: 'members-update-own-invoices', effect: 'permit', roles: ['member'], resource: 'invoice', actions: ['update'], when: [{ record: 'owner', op: 'eq', value: { principal: 'id' } }] },
  { id: 'members-update-eu', effect: 'permit', roles: ['member'], resource: 'invoice', actions: ['update'], when: [{ record: 'region', op: 'in', value: ['eu', 'uk'] }] },
];
const set = compilePolicySet({ ...samplePolicySet, rules: [...(samplePolicySet.rules ?? []), ...extraRules] });
const principal = (roles: string[], extra: Partial<AuthzPrincipal> = {}): AuthzPrincipal => ({ id: 'u1', tenantId: 't1', roles, ...extra });

describe('AZ-3 constraintFor', () => {
  it('a matrix grant is "all"; no grant is "none"', () => {
    expect(constraintFor(set, { principal: principal(['admin']), action: 'read', resourceType: 'invoice' })).toEqual({ kind: 'all' });
    expect(constraintFor(set, { principal: principal(['viewer']), action: 'delete', resourceType: 'invoice' })).toEqual({ kind: 'none' });
  });
  it('permit rules become OR-ed terms with the principal filled in', () => {
    expect(constraintFor(set, { principal: principal(['finance'], { region: 'eu' }), action: 'refund', resourceType: 'invoice' })).toEqual({ kind: 'where', anyOf: [[{ column: 'region', op: 'eq', value: 'eu' }]] });
    expect(constraintFor(set, { principal: principal(['finance']), action: 'refund', resourceType: 'invoice' })).toEqual({ kind: 'none' });
    expect(constraintFor(set, { principal: principal(['member']), action: 'update', resourceType: 'invoice' })).toEqual({
      kind: 'where',
      anyOf: [[{ column: 'owner', op: 'eq', value: 'u1' }], [{ column: 'region', op: 'in', value: ['eu', 'uk'] }]],
    });
  });
  it('forbid rules become AND NOT, keeping rows where the forbidden attribute is NULL', () => {
    expect(constraintFor(set, { principal: principal(['admin']), action: 'export', resourceType: 'customer' })).toEqual({
      kind: 'where',
      anyOf: [[{ column: 'sensitivity', op: 'not_in', value: ['phi', 'pii'] }], [{ column: 'sensitivity', op: 'is_null' }]],
    });
    expect(constraintFor(set, { principal: principal(['viewer'], { department: 'sales' }), action: 'read', resourceType: 'customer' })).toEqual({
      kind: 'where',
      anyOf: [[{ column: 'department', op: 'eq', value: 'sales' }], [{ column: 'department', op: 'is_null' }]],
    });
    // A viewer without a department: "neq principal.department" can never hold, so nothing is forbidden.
    expect(constraintFor(set, { principal: principal(['viewer']), action: 'read', resourceType: 'customer' })).toEqual({ kind: 'all' });
  });
  it('a forbid and a permit on the same column simplify; contradictions drop out', () => {
    const both = compilePolicySet({
      ...samplePolicySet,
      rules: [
        { id: 'p', effect: 'permit', roles: ['viewer'], resource: 'invoice', actions: ['update'], when: [{ record: 'region', op: 'in', value: ['eu', 'us'] }] },
        { id: 'f', effect: 'forbid', roles: '*', resource: 'invoice', actions: ['update'], when: [{ record: 'region', op: 'eq', value: 'us' }] },
        { id: 'g', effect: 'forbid', roles: '*', resource: 'invoice', actions: ['update'], when: [{ record: 'region', op: 'eq', value: 'eu' }] },
      ],
    });
    expect(constraintFor(both, { principal: principal(['viewer']), action: 'update', resourceType: 'invoice' })).toEqual({ kind: 'none' });
    expect(constraintFor(both, { principal: principal(['admin']), action: 'update', resourceType: 'invoice' })).toEqual({
      kind: 'where',
      anyOf: [[{ column: 'region', op: 'not_in', value: ['eu', 'us'] }], [{ column: 'region', op: 'is_null' }]],
    });
  });
  it('an unconditional forbid is "none"; too many forbid terms fall back to a flagged over-approximation', () => {
    const locked = compilePolicySet({ ...samplePolicySet, rules: [{ id: 'lock', effect: 'forbid', roles: '*', resource: 'invoice', actions: ['read'], when: [] }] });
    expect(constraintFor(locked, { principal: principal(['admin']), action: 'read', resourceType: 'invoice' })).toEqual({ kind: 'none' });
    const columns = ['owner', 'department', 'region', 'sensitivity'] as const;
    const many: AttributeRule[] = Array.from({ length: 5 }, (_, index) => ({
      id: `f${index}`,
      effect: 'forbid',
      roles: '*',
      resource: 'invoice',
      actions: ['read'],
      when: columns.map((record) => ({ record, op: 'eq' as const, value: `${record}-${index}` })),
    }));
    const wide = compilePolicySet({ ...samplePolicySet, rules: many });
    const constraint = constraintFor(wide, { principal: principal(['admin']), action: 'read', resourceType: 'invoice' });
    expect(constraint).toEqual({ kind: 'all', needsRowCheck: true });
    const values = (index: number) => Object.fromEntries(columns.map((column) => [column, `${column}-${index}`]));
    const forbidden = { type: 'invoice', attributes: values(3) };
    expect(decide(wide, { principal: principal(['admin']), action: 'read', resource: forbidden }).allowed).toBe(false);
    expect(constraintMatches(constraint, forbidden.attributes)).toBe(true); // sound, not exact: the row check removes it
  });
});

describe('AZ-3 applyConstraint against a real PostgreSQL table (PGlite)', () => {
  type Scratch = { authz_scratch: { id: number; owner_id: string | null; dept: string | null; region: string | null; sensitivity: string | null } };
  const columns = { owner: 'owner_id', department: 'dept', region: 'authz_scratch.region', sensitivity: 'sensitivity' } as const;
  let db: Database;
  const rows: Array<{ id: number } & RecordAttributes> = [];

  beforeAll(async () => {
    db = await testDatabase();
    await execScript(db.owner, 'create table authz_scratch (id int primary key, owner_id text, dept text, region text, sensitivity text)');
    const pick = (options: string[]) => fc.option(fc.constantFrom(...options), { nil: null });
    const rowArb = fc.record({ owner: pick(['u1', 'u2']), department: pick(['sales', 'ops', '']), region: pick(['eu', 'us', 'apac', 'uk']), sensitivity: pick(['public', 'pii', 'phi']) });
    fc.sample(rowArb, { numRuns: 300, seed: 42 }).forEach((row, index) => rows.push({ id: index + 1, ...row }));
    const table = db.owner.withTables<Scratch>();
    await table
      .insertInto('authz_scratch')
      .values(rows.map((row) => ({ id: row.id, owner_id: row.owner ?? null, dept: row.department ?? null, region: row.region ?? null, sensitivity: row.sensitivity ?? null })))
      .execute();
  });
  afterAll(async () => db?.close());

  async function selectIds(constraint: Constraint): Promise<number[]> {
    const query = db.owner.withTables<Scratch>().selectFrom('authz_scratch').select('id').orderBy('id');
    return (await applyConstraint(query, constraint, columns).execute()).map((row) => row.id);
  }

  it('AZ-3 the SQL form selects exactly the rows decide allows, for every principal and action of the catalog', async () => {
    const principals = fc.sample(
      fc.record({
        id: fc.constantFrom('u1', 'u2'),
        tenantId: fc.constant('t1'),
        roles: fc.subarray(['admin', 'finance', 'member', 'viewer', 'dpo'], { maxLength: 2 }),
        department: fc.option(fc.constantFrom('sales', 'ops'), { nil: undefined }),
        region: fc.option(fc.constantFrom('eu', 'us'), { nil: undefined }),
      }),
      { numRuns: 40, seed: 7 },
    );
    let compared = 0;
    for (const who of principals) {
      for (const resourceType of ['customer', 'invoice']) {
        for (const action of set.resources.get(resourceType)?.actions ?? []) {
          const constraint = constraintFor(set, { principal: who, action, resourceType });
          const expected = rows.filter((row) => decide(set, { principal: who, action, resource: { type: resourceType, attributes: row } }).allowed).map((row) => row.id);
          expect(await selectIds(constraint), JSON.stringify({ who, action, resourceType, constraint })).toEqual(expected);
          compared += 1;
        }
      }
    }
    expect(compared).toBe(40 * 13);
  });

  it('composes with other WHERE clauses, binds values as parameters, and fails closed on an unmapped column', async () => {
    const constraint = constraintFor(set, { principal: principal(['admin']), action: 'export', resourceType: 'customer' });
    const query = db.owner.withTables<Scratch>().selectFrom('authz_scratch').select('id').where('id', '<', 0);
    const compiled = applyConstraint(query, constraint, columns).compile();
    expect(compiled.sql).toBe('select "id" from "authz_scratch" where "id" < $1 and (("sensitivity" not in ($2, $3)) or ("sensitivity" is null))');
    expect(compiled.parameters).toEqual([0, 'phi', 'pii']);
    expect(await applyConstraint(query, constraint, columns).execute()).toEqual([]);
    expect(() => applyConstraint(query, constraint, { owner: 'owner_id' })).toThrow(RampartError);
    expect(applyConstraint(query, { kind: 'all' }, {})).toBe(query);
    expect(await selectIds({ kind: 'none' })).toEqual([]);
    expect(await selectIds({ kind: 'where', anyOf: [[{ column: 'region', op: 'in', value: [] }], [{ column: 'owner', op: 'not_in', value: [] }, { column: 'sensitivity', op: 'neq', value: 'pii' }]] })).toEqual(
      rows.filter((row) => row.owner !== null && row.sensitivity !== null && row.sensitivity !== 'pii').map((row) => row.id),
    );
  });
});
