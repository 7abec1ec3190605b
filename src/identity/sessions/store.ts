import { isIP } from 'node:net';
import { CompiledQuery, sql, type Selectable } from 'kysely';
import type { Database, Schema, TenantTransaction } from '../../db/index.js';

/** SQL for sessions, always inside the caller's tenant transaction (RLS scopes every statement). */

export type SessionRow = Selectable<Schema['sessions']>;
/** A session as it may leave the module: never the token hash. */
export type SessionView = Omit<SessionRow, 'token_hash'>;

export const toView = ({ token_hash: _hidden, ...rest }: SessionRow): SessionView => rest;

export const safeIp = (ip: string | undefined): string | null => (ip && isIP(ip) ? ip : null);

export const findSessionByHash = (trx: TenantTransaction, tokenHash: string) =>
  trx.selectFrom('sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();

export const findSessionById = (trx: TenantTransaction, id: string) => trx.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();

/** A session row with what the authenticator needs about its user (sessionWithUserQuery). */
export type SessionWithUser = SessionRow & { user_status: string; user_department: string | null; user_region: string | null; user_roles: string[] };

const sessionWithUserText = new WeakMap<Database, string>();

/**
 * The session by token hash joined with its user and roles, as one statement for `readAsTenant`
 * (RLS scopes all three tables). Its text is compiled once per database and bound per call.
 */
export function sessionWithUserQuery(db: Database, tokenHash: string): CompiledQuery {
  let text = sessionWithUserText.get(db);
  if (text === undefined) {
    text = db.app
      .selectFrom('sessions as s')
      .innerJoin('users as u', 'u.id', 's.user_id')
      .selectAll('s')
      .select(['u.status as user_status', 'u.department as user_department', 'u.region as user_region'])
      .select(sql<string[]>`coalesce((select array_agg(r.role order by r.role) from user_roles r where r.user_id = s.user_id), '{}')`.as('user_roles'))
      .where('s.token_hash', '=', tokenHash)
      .compile().sql;
    sessionWithUserText.set(db, text);
  }
  return CompiledQuery.raw(text, [tokenHash]);
}

/** What the authenticator needs about the user behind a session. */
export async function loadSessionUser(trx: TenantTransaction, userId: string) {
  const user = await trx.selectFrom('users').select(['id', 'status', 'department', 'region']).where('id', '=', userId).executeTakeFirst();
  if (!user) return undefined;
  const roles = await trx.selectFrom('user_roles').select('role').where('user_id', '=', userId).orderBy('role').execute();
  return { ...user, roles: roles.map((r) => r.role) };
}

export const activeSessions = (trx: TenantTransaction, userId: string, now: Date) =>
  trx
    .selectFrom('sessions')
    .selectAll()
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('idle_expires_at', '>', now)
    .where('absolute_expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .execute();
export type SessionStage = SessionRow['stage'];
