import { sql } from 'kysely';
import { APP_ROLE, type Database } from './connect.js';

/**
 * The audit log's append-only guarantee, checked against the live catalog (controls MO-1, DE-2;
 * for preflight). Triggers refuse UPDATE, DELETE and TRUNCATE of audit rows for every role, but
 * whoever owns the table (or is a superuser, or may set session_replication_role to `replica`)
 * can switch them off. That power must stay out of the role requests run as: rampart_app must not
 * own or be a member of the owner of the audit tables or their trigger function, must hold no
 * UPDATE, DELETE, TRUNCATE or TRIGGER privilege on them, must not be able to skip triggers through
 * session_replication_role, and every guard trigger must exist and be enabled.
 * The owner's own power is the documented residual risk (docs/audit.md, threat model).
 */

export type AuditTamperRisk = { object: string; problem: string };

const GUARDED = { audit_events: ['audit_events_no_update', 'audit_events_no_truncate'], audit_checkpoints: ['audit_checkpoints_no_update'] } as const;

type TableRow = { table: string; owned_by_app: boolean; app_in_owner: boolean; privileges: string[] | string };
type TriggerRow = { table: string; trigger: string; enabled: string };

const parseList = (value: string[] | string): string[] => (Array.isArray(value) ? value : value.replace(/^\{|\}$/g, '').split(',').filter(Boolean));

export async function findAuditTamperRisks(db: Database, schema = 'public'): Promise<AuditTamperRisk[]> {
  const risks: AuditTamperRisk[] = [];
  const tables = Object.keys(GUARDED);
  const rows = (
    await sql<TableRow>`
      select c.relname as "table",
             c.relowner = (select oid from pg_roles where rolname = ${APP_ROLE}) as owned_by_app,
             pg_has_role(${APP_ROLE}, c.relowner, 'USAGE') as app_in_owner,
             array(select p from unnest(array['UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER']) p where has_table_privilege(${APP_ROLE}, c.oid, p)) as privileges
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = ${schema} and c.relname in (${sql.join(tables)})`.execute(db.owner)
  ).rows;
  for (const table of tables) {
    const row = rows.find((r) => r.table === table);
    if (!row) {
      risks.push({ object: table, problem: 'table is missing' });
      continue;
    }
    if (row.owned_by_app || row.app_in_owner) risks.push({ object: table, problem: `${APP_ROLE} owns the table or is a member of its owner, so it can disable the append-only triggers` });
    for (const privilege of parseList(row.privileges)) risks.push({ object: table, problem: `${APP_ROLE} holds ${privilege}` });
  }

  const triggers = (
    await sql<TriggerRow>`
      select c.relname as "table", t.tgname as "trigger", t.tgenabled as enabled
        from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = ${schema} and not t.tgisinternal and c.relname in (${sql.join(tables)})`.execute(db.owner)
  ).rows;
  for (const [table, names] of Object.entries(GUARDED)) {
    for (const name of names) {
      const trigger = triggers.find((t) => t.table === table && t.trigger === name);
      // 'O' fires in the normal (origin) mode, 'A' always; 'D' is disabled and 'R' fires only in replica mode.
      if (!trigger) risks.push({ object: `${table}.${name}`, problem: 'append-only trigger is missing' });
      else if (!['O', 'A'].includes(trigger.enabled)) risks.push({ object: `${table}.${name}`, problem: `append-only trigger is disabled (tgenabled ${trigger.enabled})` });
    }
  }

  const fn = (
    await sql<{ owned: boolean }>`
      select pg_has_role(${APP_ROLE}, p.proowner, 'USAGE') as owned
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname = ${schema} and p.proname = 'rampart_audit_immutable'`.execute(db.owner)
  ).rows;
  if (!fn.length) risks.push({ object: 'rampart_audit_immutable()', problem: 'trigger function is missing' });
  else if (fn.some((f) => f.owned)) risks.push({ object: 'rampart_audit_immutable()', problem: `${APP_ROLE} owns the trigger function and could replace it` });

  // session_replication_role = replica skips ordinary triggers; PostgreSQL 15+ can grant SET on it.
  const replication = (
    await sql<{ can_set: boolean }>`
      select case when current_setting('server_version_num')::int >= 150000
                  then has_parameter_privilege(${APP_ROLE}, 'session_replication_role', 'SET')
                  else false end as can_set`.execute(db.owner)
  ).rows[0];
  if (replication?.can_set) risks.push({ object: 'session_replication_role', problem: `${APP_ROLE} may set it to replica, which skips the append-only triggers` });
  return risks;
}
