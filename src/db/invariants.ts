import { sql } from 'kysely';
import { APP_ROLE, type Database } from './connect.js';

/**
 * Invariant 1, checked against the live catalog (control: DE-2; used by tests and preflight).
 *
 * For every table in the schema, one of two things must hold:
 *  - it is tenant-scoped: row-level security ENABLED and FORCED, at least one policy for
 *    rampart_app that is keyed on rampart_current_tenant(), and no policy open to rampart_app
 *    (or PUBLIC) whose condition is a constant `true`; or
 *  - rampart_app holds no privilege on it at all (system tables such as rampart_migrations).
 * A table with a `tenant_id` column must always be tenant-scoped.
 * And the app role itself must not be able to bypass any of it.
 */

export type RlsViolation = { table: string; problem: string };

type TableRow = {
  table: string;
  rls: boolean;
  forced: boolean;
  has_tenant_column: boolean;
  app_privileges: boolean;
};

type PolicyRow = { table: string; policy: string; roles: string[] | string; qual: string | null; with_check: string | null; permissive: string };

const parseRoles = (roles: string[] | string): string[] => (Array.isArray(roles) ? roles : roles.replace(/^\{|\}$/g, '').split(',').filter(Boolean));

const TENANT_PREDICATE = /rampart_current_tenant\(\)/;
const CONSTANT_TRUE = /^\(?\s*true\s*\)?$/i;

export async function findRlsViolations(db: Database, schema = 'public'): Promise<RlsViolation[]> {
  const tables = (
    await sql<TableRow>`
      select c.relname as "table", c.relrowsecurity as rls, c.relforcerowsecurity as forced,
             exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped) as has_tenant_column,
             (has_table_privilege(${APP_ROLE}, c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER')
               or has_any_column_privilege(${APP_ROLE}, c.oid, 'SELECT,INSERT,UPDATE,REFERENCES')) as app_privileges
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = ${schema} and c.relkind in ('r', 'p')
       order by c.relname`.execute(db.owner)
  ).rows;
  const policies = (
    await sql<PolicyRow>`
      select tablename as "table", policyname as policy, roles, qual, with_check, permissive
        from pg_policies where schemaname = ${schema}`.execute(db.owner)
  ).rows;

  const violations: RlsViolation[] = [];
  for (const table of tables) {
    const appPolicies = policies.filter((p) => p.table === table.table && parseRoles(p.roles).some((r) => r === APP_ROLE || r === 'public'));
    const isScoped = table.has_tenant_column || table.table === 'tenants' || appPolicies.length > 0;
    if (!isScoped && !table.app_privileges) continue; // system table the app role cannot touch
    if (!table.rls) violations.push({ table: table.table, problem: 'row-level security is not enabled' });
    if (!table.forced) violations.push({ table: table.table, problem: 'row-level security is not forced (FORCE ROW LEVEL SECURITY)' });
    if (!appPolicies.some((p) => TENANT_PREDICATE.test(p.qual ?? ''))) {
      violations.push({ table: table.table, problem: `no ${APP_ROLE} policy keyed on rampart_current_tenant()` });
    }
    for (const policy of appPolicies) {
      if (CONSTANT_TRUE.test((policy.qual ?? '').trim()) || (policy.qual === null && policy.with_check !== null && CONSTANT_TRUE.test(policy.with_check.trim()))) {
        violations.push({ table: table.table, problem: `policy ${policy.policy} lets ${APP_ROLE} see every row (USING true)` });
      }
      if (policy.permissive === 'PERMISSIVE' && policy.qual !== null && !TENANT_PREDICATE.test(policy.qual)) {
        violations.push({ table: table.table, problem: `policy ${policy.policy} is permissive and not keyed on the tenant` });
      }
    }
  }

  const role = (
    await sql<{ rolsuper: boolean; rolbypassrls: boolean; rolcreaterole: boolean; rolcreatedb: boolean }>`
      select rolsuper, rolbypassrls, rolcreaterole, rolcreatedb from pg_roles where rolname = ${APP_ROLE}`.execute(db.owner)
  ).rows[0];
  if (!role) violations.push({ table: '(role)', problem: `role ${APP_ROLE} does not exist` });
  else {
    for (const [flag, label] of [
      ['rolsuper', 'SUPERUSER'],
      ['rolbypassrls', 'BYPASSRLS'],
      ['rolcreaterole', 'CREATEROLE'],
      ['rolcreatedb', 'CREATEDB'],
    ] as const) {
      if (role[flag]) violations.push({ table: '(role)', problem: `${APP_ROLE} has ${label}` });
    }
  }
  const ownsSomething = (
    await sql<{ n: bigint }>`select count(*) as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = ${schema} and pg_get_userbyid(c.relowner) = ${APP_ROLE}`.execute(db.owner)
  ).rows[0];
  if (ownsSomething && Number(ownsSomething.n) > 0) violations.push({ table: '(role)', problem: `${APP_ROLE} owns relations (owners can disable RLS)` });
  const canCreate = (await sql<{ can: boolean }>`select has_schema_privilege(${APP_ROLE}, ${schema}, 'CREATE') as can`.execute(db.owner)).rows[0];
  if (canCreate?.can) violations.push({ table: '(role)', problem: `${APP_ROLE} can create objects in schema ${schema}` });
  return violations;
}
