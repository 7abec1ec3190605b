import { RampartError } from '../core/index.js';
import type { Database } from '../db/index.js';
import { withCaller } from './context.js';
import { defineRoute, type RouteDefinition } from './routes.js';

/** The caller's own tenant: the thinnest slice through authenticate -> authorize -> withTenant -> RLS. */
export function tenantRoutes({ db }: { db: Database }): RouteDefinition[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/tenant',
      auth: { action: 'read', resource: 'tenant' },
      summary: "The caller's tenant",
      handler: async ({ principal }) => {
        const caller = principal;
        // No WHERE on purpose: row-level security alone decides which tenant row is visible.
        const rows = await withCaller(db, caller, (trx) => trx.selectFrom('tenants').select(['id', 'slug', 'name', 'status', 'created_at']).execute(), { readOnly: true });
        const tenant = rows[0];
        if (!tenant || rows.length !== 1) throw new RampartError('not_found', { detail: 'no such tenant' });
        return tenant;
      },
    }),
  ];
}
