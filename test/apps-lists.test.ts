import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rampart } from '../src/app.js';
import { MASK, tableName, tenantKey } from '../src/apps/index.js';
import { decideWithCedar, type AuthzPrincipal, type CompiledPolicySet, type RecordAttributes } from '../src/authz/index.js';
import type { Tenant } from '../src/db/index.js';
import type { Principal } from '../src/http/index.js';
import { bearerAuthenticator, testRampart } from './support/rampart.js';

/**
 * AZ-1 / AZ-3 / DA-1 over HTTP: random matrices plus random tenant Cedar policies (permit and
 * forbid, for everyone, a role or a user, with conditions on the owner and the region, some in
 * Cedar the list compiler does not read), random records and random list queries. Whatever the
 * policies, list, filter, sort and cursor pagination expose exactly the rows and fields that
 * per-record Cedar decisions allow: the right rows in the right order, full pages, no cursor
 * after the last allowed row, masked fields masked (empty or not), filters and sorts on a field
 * only for callers who read it unmasked on every record, and cursors that carry nothing readable.
 */

const ROLES = ['r1', 'r2', 'r3'];
const USERS = ['u1', 'u2', 'u3'];
const REGIONS = ['eu', 'us'];
const TYPE = 'notes__note';
const SPEC = {
  app: 'notes',
  version: 1,
  title: 'Notes',
  roles: ROLES.map((name) => ({ name })),
  resources: [
    {
      name: 'note',
      attributes: { owner: true, region: 'region' },
      fields: [
        { name: 'title', type: 'text', class: 'internal', required: true },
        { name: 'email', type: 'text', class: 'pii', required: true },
        { name: 'phone', type: 'text', class: 'pii' },
        { name: 'region', type: 'enum', class: 'internal', values: REGIONS },
      ],
    },
  ],
  matrix: { r1: { note: ['list'] } },
  rules: [],
};

const principals: Record<string, Principal> = {};
let rampart: Rampart;
let tenant: Tenant;
let table: string;

beforeAll(async () => {
  rampart = await testRampart({ authenticate: (request) => bearerAuthenticator(principals)(request) });
  tenant = await rampart.createTenant({ slug: 'lists', name: 'Lists' });
  principals.installer = { type: 'user', id: 'installer', tenantId: tenant.id, roles: ['owner'] };
  const response = await rampart.server.app.inject({ method: 'POST', url: '/api/v1/app-plans', headers: { authorization: 'Bearer installer' }, payload: { spec: SPEC, justification: 'list properties' } });
  expect(response.statusCode, response.body).toBe(201);
  table = tableName(tenantKey(tenant.id), 'notes', 'note');
});
afterAll(() => rampart.close());

type Policy = { text: string; actions: string[]; covers: (p: AuthzPrincipal) => boolean; compiled: boolean };

const conditionArb = fc.oneof(
  fc.constantFrom(...USERS).map((u) => ({ text: `resource has owner && resource.owner == User::"${u}"`, compiled: true })),
  fc.constant({ text: 'resource has owner && resource.owner == principal', compiled: true }),
  fc.constantFrom(...REGIONS).map((r) => ({ text: `resource has region && resource.region == "${r}"`, compiled: true })),
  fc.constant({ text: 'resource has region && principal has region && resource.region == principal.region', compiled: true }),
  fc.constant({ text: '!(resource has region)', compiled: true }),
  fc.constantFrom(...REGIONS).map((r) => ({ text: `principal has region && principal.region == "${r}"`, compiled: true })),
  fc.constantFrom(...REGIONS).map((r) => ({ text: `resource has region && resource.region like "${r.slice(0, 1)}*"`, compiled: false })),
);

const policyArb: fc.Arbitrary<Policy> = fc
  .record({
    effect: fc.constantFrom('permit', 'forbid'),
    actions: fc.subarray(['list', 'read_pii'], { minLength: 1 }),
    scope: fc.oneof(fc.constant({ kind: 'all' as const, name: '' }), fc.constantFrom(...ROLES).map((name) => ({ kind: 'role' as const, name })), fc.constantFrom(...USERS).map((name) => ({ kind: 'user' as const, name }))),
    conditions: fc.array(fc.tuple(fc.constantFrom('when', 'unless'), conditionArb), { maxLength: 2 }),
  })
  .map(({ effect, actions, scope, conditions }) => {
    const principal = scope.kind === 'all' ? 'principal' : scope.kind === 'role' ? `principal in Role::"${scope.name}"` : `principal == User::"${scope.name}"`;
    const action = `action in [${actions.map((a) => `Action::"${TYPE}:${a}"`).join(', ')}]`;
    const text = `${effect} (${principal}, ${action}, resource is ${TYPE})${conditions.map(([kind, c]) => ` ${kind} { ${c.text} }`).join('')};`;
    const covers = (p: AuthzPrincipal) => scope.kind === 'all' || (scope.kind === 'role' ? p.roles.includes(scope.name) : p.id === scope.name);
    return { text, actions, covers, compiled: conditions.every(([, c]) => c.compiled) };
  });

const rowArb = fc.record({ owner: fc.option(fc.constantFrom(...USERS, 'u9'), { nil: null }), region: fc.option(fc.constantFrom(...REGIONS), { nil: null }), phone: fc.option(fc.constantFrom('+1 555', '+49 30'), { nil: null }) });

const scenarioArb = fc.record({
  grants: fc.tuple(...ROLES.map(() => fc.subarray(['list', 'read_pii']))),
  policies: fc.array(policyArb, { maxLength: 3 }),
  rows: fc.array(rowArb, { maxLength: 9 }),
  principal: fc.record({ id: fc.constantFrom(...USERS), roles: fc.subarray(ROLES), region: fc.option(fc.constantFrom(...REGIONS), { nil: null }) }),
  limit: fc.integer({ min: 1, max: 4 }),
  sort: fc.constantFrom('title', '-title', '-created_at', 'id', 'email', '-email'),
  filter: fc.constantFrom('none', 'region', 'email', 'phone_null'),
});

type Row = { id: string; owner_id: string | null; title: string; email: string; phone: string | null; region: string | null; created_at: string };

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

async function setUp(scenario: Scenario): Promise<Row[]> {
  // Written straight to the tables (the service's audited path compiles the set on every change: slow for 60 runs).
  await sql`delete from authz_grants where tenant_id = ${tenant.id} and resource = ${TYPE}`.execute(rampart.db.owner);
  await sql`delete from authz_policies where tenant_id = ${tenant.id}`.execute(rampart.db.owner);
  for (const [index, role] of ROLES.entries()) {
    for (const action of scenario.grants[index]!) await sql`insert into authz_grants (tenant_id, role, resource, action) values (${tenant.id}, ${role}, ${TYPE}, ${action})`.execute(rampart.db.owner);
  }
  for (const [index, policy] of scenario.policies.entries()) await sql`insert into authz_policies (tenant_id, id, cedar, description) values (${tenant.id}, ${`p${index}`}, ${policy.text}, '')`.execute(rampart.db.owner);
  rampart.authz.invalidate(tenant.id);
  const rows: Row[] = scenario.rows.map((row, index) => ({ id: crypto.randomUUID(), owner_id: row.owner, title: `t${(index * 7) % 10}n${index}`, email: `e${index}mail`, phone: row.phone, region: row.region, created_at: `2026-01-01T00:00:0${index % 3}.000Z` }));
  await sql`delete from ${sql.table(table)}`.execute(rampart.db.owner);
  for (const row of rows) {
    await sql`insert into ${sql.table(table)} (tenant_id, id, owner_id, created_by, created_at, title, email, phone, region) values (${tenant.id}, ${row.id}, ${row.owner_id}, 'test', ${row.created_at}, ${row.title}, ${row.email}, ${row.phone}, ${row.region})`.execute(rampart.db.owner);
  }
  return rows;
}

const attributesOf = (row: { owner_id: string | null; region: string | null }): RecordAttributes => ({ owner: row.owner_id, region: row.region });
const allows = (set: CompiledPolicySet, principal: AuthzPrincipal, action: string, attributes: RecordAttributes, id = '') => decideWithCedar(set, { principal, action, resource: { type: TYPE, id, attributes } }).allowed;
/**
 * Every kind of record as Cedar sees it: the policies name u1-u3, eu and us, so u9 and apac stand for
 * every other owner and region (the enum keeps apac out of the table, not out of a policy's reach).
 * "Allowed on some record" and "on every record" are read from it.
 */
const DOMAIN = [...USERS, 'u9', null].flatMap((owner) => [...REGIONS, 'apac', null].map((region) => ({ owner, region })));

/** A caller who may list records of a region no policy names (none are stored): the list is open, not 403. */
const OTHER_REGION: Scenario = {
  grants: [[], [], []],
  policies: [
    { text: `permit (principal, action in [Action::"${TYPE}:list"], resource is ${TYPE}) when { resource has region && resource.region != "eu" };`, actions: ['list'], covers: () => true, compiled: true },
    { text: `forbid (principal, action in [Action::"${TYPE}:list"], resource is ${TYPE}) when { resource has region && resource.region == "us" };`, actions: ['list'], covers: () => true, compiled: true },
  ],
  rows: [{ owner: 'u1', region: 'eu', phone: null }],
  principal: { id: 'u1', roles: [], region: null },
  limit: 1,
  sort: 'title',
  filter: 'none',
};

const list = (query: string) => rampart.server.app.inject({ method: 'GET', url: `/api/v1/apps/notes/note?${query}`, headers: { authorization: 'Bearer caller' } });

describe('AZ-3 / DA-1 list, filter, sort and cursor expose exactly what per-record decisions allow', () => {
  it('AZ-3 random matrices plus random tenant Cedar policies, over HTTP', async () => {
    const seen = { listed: 0, refused: 0, masked_refusals: 0, pages: 0 };
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const rows = await setUp(scenario);
        const principal: AuthzPrincipal = { id: scenario.principal.id, tenantId: tenant.id, roles: scenario.principal.roles, region: scenario.principal.region };
        principals.caller = { type: 'user', id: principal.id, tenantId: tenant.id, roles: principal.roles, ...(principal.region ? { attributes: { region: principal.region } } : {}) };
        const set = await rampart.authz.policySet(tenant.id);
        const opaque = (action: string) => scenario.policies.some((p) => !p.compiled && p.actions.includes(action) && p.covers(principal));
        const context = JSON.stringify({ principal, grants: scenario.grants, policies: scenario.policies.map((p) => p.text), sort: scenario.sort, filter: scenario.filter, limit: scenario.limit });

        const canList = DOMAIN.some((attributes) => allows(set, principal, 'list', attributes));
        const readsPiiEverywhere = DOMAIN.every((attributes) => allows(set, principal, 'read_pii', attributes));
        const target = rows[0];
        const filter = scenario.filter === 'region' ? 'region=eu' : scenario.filter === 'email' && target ? `email=${target.email}` : scenario.filter === 'phone_null' ? 'phone[is_null]=true' : '';
        const usesPii = filter.startsWith('email') || filter.startsWith('phone') || scenario.sort.endsWith('email');
        const base = [`limit=${scenario.limit}`, `sort=${encodeURIComponent(scenario.sort)}`, ...(filter ? [filter] : [])].join('&');

        const first = await list(base);
        if (!canList && !opaque('list')) {
          expect(first.statusCode, context).toBe(403);
          seen.refused += 1;
          return;
        }
        if (first.statusCode === 403) {
          // Only Cedar the compiler cannot read may make a list look open to a caller it gives nothing.
          expect(canList, context).toBe(false);
          return;
        }
        if (usesPii && (!readsPiiEverywhere || opaque('read_pii'))) {
          if (!readsPiiEverywhere) expect(first.statusCode, `${context} ${first.body}`).toBe(400);
          if (first.statusCode === 400) {
            expect(first.json(), context).toMatchObject({ code: 'validation_failed', reason: 'field_masked' });
            seen.masked_refusals += 1;
            return;
          }
        }
        expect(first.statusCode, `${context} ${first.body}`).toBe(200);

        const matches = (row: Row) => (scenario.filter === 'region' ? row.region === 'eu' : scenario.filter === 'email' ? row.email === target?.email : scenario.filter === 'phone_null' ? row.phone === null : true);
        const column = scenario.sort.replace(/^-/, '') as 'title' | 'email' | 'id' | 'created_at';
        const direction = scenario.sort.startsWith('-') ? -1 : 1;
        const key = (row: Row) => row[column];
        const expected = rows
          .filter((row) => allows(set, principal, 'list', attributesOf(row), row.id) && matches(row))
          .sort((a, b) => direction * (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.id < b.id ? -1 : 1));

        const shown: string[] = [];
        const secrets = new Set<string>(rows.flatMap((row) => [row.title, row.email]));
        let response = first;
        for (let pageNo = 0; pageNo < 20; pageNo++) {
          expect(response.statusCode, `${context} ${response.body}`).toBe(200);
          const page = response.json() as { items: Array<Record<string, unknown> & { id: string }>; next_cursor: string | null };
          seen.pages += 1;
          expect(page.items.length, context).toBeLessThanOrEqual(scenario.limit);
          for (const item of page.items) {
            const row = rows.find((candidate) => candidate.id === item.id)!;
            shown.push(item.id);
            secrets.delete(row.title);
            const pii = allows(set, principal, 'read_pii', attributesOf(row), row.id);
            if (pii) secrets.delete(row.email);
            // DA-1: a masked field shows the same marker whether it is empty or not.
            expect({ email: item.email, phone: item.phone }, context).toEqual(pii ? { email: row.email, phone: row.phone } : { email: MASK, phone: MASK });
          }
          if (page.next_cursor === null) break;
          // A cursor follows only a full page, and carries nothing of rows not shown or fields masked.
          expect(page.items.length, context).toBe(scenario.limit);
          const decoded = `${page.next_cursor} ${Buffer.from(page.next_cursor, 'base64url').toString('latin1')}`;
          for (const secret of secrets) expect(decoded, context).not.toContain(secret);
          response = await list(`${base}&cursor=${encodeURIComponent(page.next_cursor)}`);
          if (pageNo === 0) {
            const tampered = page.next_cursor.slice(0, 20) + (page.next_cursor[20] === 'A' ? 'B' : 'A') + page.next_cursor.slice(21);
            const refused = await list(`${base}&cursor=${encodeURIComponent(tampered)}`);
            expect(refused.statusCode, context).toBe(400);
            expect(refused.json(), context).toMatchObject({ reason: 'cursor_invalid' });
          }
        }
        expect(shown, context).toEqual(expected.map((row) => row.id));
        seen.listed += 1;
      }),
      { numRuns: 50, examples: [[OTHER_REGION]] },
    );
    expect(seen.listed).toBeGreaterThan(10);
    expect(seen.refused).toBeGreaterThan(0);
  }, 600_000);

  it('AZ-3 rows hidden by a policy the compiler cannot read: the page fills past them, bounded, and the cursor goes on', async () => {
    const hidden = Array.from({ length: 20 }, () => ({ owner: 'u1', region: 'eu', phone: null }));
    const rows = await setUp({ grants: [['list', 'read_pii'], [], []], policies: [], rows: [...hidden, { owner: 'u1', region: 'us', phone: null }], principal: { id: 'u1', roles: ['r1'], region: null }, limit: 1, sort: 'title', filter: 'none' });
    await sql`insert into authz_policies (tenant_id, id, cedar, description) values (${tenant.id}, 'opaque', ${`forbid (principal, action == Action::"${TYPE}:list", resource is ${TYPE}) when { resource has region && resource.region like "e*" };`}, '')`.execute(rampart.db.owner);
    await sql`update ${sql.table(table)} set title = 'zz' where region = 'us'`.execute(rampart.db.owner);
    rampart.authz.invalidate(tenant.id);
    principals.caller = { type: 'user', id: 'u1', tenantId: tenant.id, roles: ['r1'] };
    const visible = rows.find((row) => row.region === 'us')!;
    // Sorted by id: the visible row comes wherever its id falls; every page holds it or nothing.
    const shown: string[] = [];
    let query = 'limit=1&sort=id';
    for (let calls = 0; calls < 10; calls++) {
      const page = (await list(query)).json() as { items: Array<{ id: string }>; next_cursor: string | null };
      shown.push(...page.items.map((item) => item.id));
      if (!page.next_cursor) break;
      query = `limit=1&sort=id&cursor=${page.next_cursor}`;
    }
    expect(shown).toEqual([visible.id]);
    // Limit 1 reads 2 rows a batch, MAX_BATCHES_PER_PAGE batches: 16 hidden rows then a cursor, not a 21-row scan.
    const firstPage = (await list('limit=1&sort=title')).json() as { items: unknown[]; next_cursor: string | null };
    expect(firstPage.items).toEqual([]);
    expect(firstPage.next_cursor).not.toBeNull();
    const secondPage = (await list(`limit=1&sort=title&cursor=${firstPage.next_cursor}`)).json() as { items: Array<{ id: string }>; next_cursor: string | null };
    expect(secondPage).toEqual({ items: [expect.objectContaining({ id: visible.id })], next_cursor: null });
  });

  it('AZ-3 a cursor is refused with another sort, by another caller, or with its bytes changed', async () => {
    await setUp({ grants: [['list'], ['list'], []], policies: [], rows: [{ owner: 'u1', region: 'eu', phone: null }, { owner: 'u2', region: 'us', phone: null }], principal: { id: 'u1', roles: ['r1'], region: null }, limit: 1, sort: 'title', filter: 'none' });
    principals.caller = { type: 'user', id: 'u1', tenantId: tenant.id, roles: ['r1'] };
    const { next_cursor: cursor } = (await list('limit=1&sort=title')).json() as { next_cursor: string };
    expect(cursor).toMatch(/^c1\.kek_[0-9a-f]{16}\.[A-Za-z0-9_-]+$/);
    expect((await list(`limit=1&sort=title&cursor=${cursor}`)).statusCode).toBe(200);
    for (const refused of [await list(`limit=1&sort=-title&cursor=${cursor}`), await list(`limit=1&sort=title&cursor=${cursor.slice(0, -2)}`), await list('limit=1&sort=title&cursor=true')]) {
      expect(refused.statusCode).toBe(400);
      expect(refused.json()).toMatchObject({ code: 'validation_failed', reason: 'cursor_invalid' });
    }
    principals.caller = { type: 'user', id: 'u2', tenantId: tenant.id, roles: ['r2'] };
    expect((await list(`limit=1&sort=title&cursor=${cursor}`)).json()).toMatchObject({ status: 400, reason: 'cursor_invalid' });
  });

  it('created_at cursors keep microseconds: rows a millisecond apart or less are neither skipped nor repeated', async () => {
    await setUp({ grants: [['list'], [], []], policies: [], rows: [], principal: { id: 'u1', roles: ['r1'], region: null }, limit: 1, sort: '-created_at', filter: 'none' });
    const ids = Array.from({ length: 4 }, () => crypto.randomUUID());
    for (const [index, id] of ids.entries()) {
      await sql`insert into ${sql.table(table)} (tenant_id, id, owner_id, created_by, created_at, title, email) values (${tenant.id}, ${id}, 'u1', 'test', ${`2026-01-01T00:00:00.000${100 + index}Z`}::timestamptz, ${`t${index}`}, 'e')`.execute(rampart.db.owner);
    }
    principals.caller = { type: 'user', id: 'u1', tenantId: tenant.id, roles: ['r1'] };
    const shown: string[] = [];
    let query = 'limit=1&sort=-created_at';
    for (let calls = 0; calls < 6; calls++) {
      const page = (await list(query)).json() as { items: Array<{ id: string }>; next_cursor: string | null };
      shown.push(...page.items.map((item) => item.id));
      if (!page.next_cursor) break;
      query = `limit=1&sort=-created_at&cursor=${page.next_cursor}`;
    }
    expect(shown).toEqual([...ids].reverse());
  });
});
