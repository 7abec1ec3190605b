import { sql } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../db/index.js';
import { defineRoute, withCaller, type RouteDefinition } from '../../http/index.js';

/**
 * The tenant's members for the admin dashboard's People screen. The row is built column by
 * column (never `selectAll`): password hashes, TOTP secrets and passkey public keys stay in the
 * database, and the factors show only as booleans, so a reader of this list (an auditor, say)
 * learns who can sign in how, not anything to sign in with (ID-5, DA-4). RLS under `withCaller`
 * keeps another tenant's accounts out even if a filter here were wrong (invariant 1).
 */

export type MemberView = {
  id: string;
  email: string;
  display_name: string;
  roles: string[];
  status: string;
  created_at: Date;
  has_passkey: boolean;
  has_totp: boolean;
};

const listQuery = z.strictObject({
  /** Keyset cursor: the id of the last member of the previous page (ids are UUIDv7, so by creation). */
  after: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export function memberRoutes({ db }: { db: Database }): RouteDefinition[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/members',
      // control: AZ-2 (authorized on every request), ID-5 (no factor material in the output)
      auth: { action: 'list', resource: 'member' },
      summary: 'Members of the caller’s tenant with their roles and which factors they hold (cursor, limit <= 200)',
      query: listQuery,
      handler: async ({ principal, query }) => {
        const rows = await withCaller(
          db,
          principal,
          (trx) => {
            let q = trx
              .selectFrom('users as u')
              .select((eb) => [
                'u.id',
                'u.email',
                'u.display_name',
                'u.status',
                'u.created_at',
                sql<string[]>`coalesce((select array_agg(r.role order by r.role) from user_roles r where r.user_id = u.id), '{}')`.as('roles'),
                eb.exists(eb.selectFrom('webauthn_credentials as w').select('w.id').whereRef('w.user_id', '=', 'u.id')).as('has_passkey'),
                eb.exists(eb.selectFrom('totp_credentials as t').select('t.user_id').whereRef('t.user_id', '=', 'u.id').where('t.confirmed_at', 'is not', null)).as('has_totp'),
              ])
              .orderBy('u.id')
              .limit(query.limit + 1);
            if (query.after) q = q.where('u.id', '>', query.after);
            return q.execute();
          },
          { readOnly: true },
        );
        const items: MemberView[] = rows.slice(0, query.limit).map((row) => ({ ...row, roles: row.roles ?? [], has_passkey: Boolean(row.has_passkey), has_totp: Boolean(row.has_totp) }));
        return { items, next_cursor: rows.length > query.limit ? items.at(-1)!.id : null };
      },
    }),
  ];
}
