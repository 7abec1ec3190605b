import { sql } from 'kysely';
import type { AuditLog, RequestContext } from '../audit/index.js';
import { isUuid, RampartError, requireJustification, systemClock, type Clock } from '../core/index.js';
import { unsafeAsSystem, type Actor, type Database } from '../db/index.js';
import { defineRoute, isActionAuth, type Authorizer, type Principal, type RouteDefinition } from '../http/index.js';
import { resourceScope } from './builtin.js';

/**
 * The platform scope (DESIGN "Scopes", issue 12 class 1). Platform resources (signing keys, jobs,
 * the outbox, the operator list) are shared by every tenant, so no tenant role, matrix entry or
 * Cedar policy may reach them: they are not in any tenant's catalogue, and the authorize step
 * sends a request for one here instead of to the tenant's policy set. Here, only a platform
 * operator passes, and only:
 * - as a signed-in person (a session): not an OAuth token, which a tenant's client obtained and
 *   which carries tenant scopes (ID-8), and not an agent acting for someone;
 * - with a passkey proven in that session (ID-5): an operator is high-privilege everywhere;
 * - holding a row in `platform_operators`, a table no tenant principal can read or write.
 * Mutations add a fresh step-up on the route itself (ID-7; registration refuses one without it).
 */

export type PlatformOperator = { accountTenantId: string; accountUserId: string; grantedBy: string; justification: string; grantedAt: Date };

export type PlatformOperators = {
  isOperator(principal: Pick<Principal, 'tenantId' | 'id'>): Promise<boolean>;
  list(): Promise<PlatformOperator[]>;
  grant(input: { accountTenantId: string; accountUserId: string; actor: Actor; justification: unknown; context?: RequestContext }): Promise<{ granted: boolean }>;
  revoke(input: { accountTenantId: string; accountUserId: string; actor: Actor; justification: unknown; context?: RequestContext }): Promise<{ revoked: boolean }>;
  /**
   * The first admin of an install with no operator becomes its operator: the one-time setup link is
   * printed on the host's console, so whoever holds it already holds the host. Later setups grant nothing.
   */
  claimFirst(input: { accountTenantId: string; accountUserId: string }): Promise<{ granted: boolean }>;
};

/** Serialises `claimFirst` across processes and nodes (two first setups at once make one operator). */
const FIRST_OPERATOR_LOCK = 72_617_010;
const REASON = 'platform operators live outside every tenant';

export function createPlatformOperators({ db, audit, clock = systemClock }: { db: Database; audit: AuditLog; clock?: Clock }): PlatformOperators {
  const record = (trx: Parameters<AuditLog['record']>[0], action: string, actor: Actor, accountTenantId: string, accountUserId: string, justification: string, context?: RequestContext) =>
    audit.record(trx, {
      tenantId: null,
      actor,
      action,
      target: { type: 'platform_operator', id: `${accountTenantId}/${accountUserId}` },
      diff: { account_tenant_id: { after: accountTenantId }, account_user_id: { after: accountUserId } },
      justification,
      ...(context ? { context } : {}),
    });

  return {
    async isOperator(principal) {
      if (!isUuid(principal.tenantId) || !isUuid(principal.id)) return false;
      const row = await db.owner
        .selectFrom('platform_operators')
        .select('account_user_id')
        .where('account_tenant_id', '=', principal.tenantId)
        .where('account_user_id', '=', principal.id)
        .executeTakeFirst();
      return Boolean(row);
    },
    async list() {
      const rows = await db.owner.selectFrom('platform_operators').selectAll().orderBy('granted_at').execute();
      return rows.map((r) => ({ accountTenantId: r.account_tenant_id, accountUserId: r.account_user_id, grantedBy: r.granted_by, justification: r.justification, grantedAt: r.granted_at }));
    },
    async grant({ accountTenantId, accountUserId, actor, justification, context }) {
      const why = requireJustification(justification);
      return unsafeAsSystem(db, { reason: REASON }, async (trx) => {
        const user = await trx.selectFrom('users').select('id').where('tenant_id', '=', accountTenantId).where('id', '=', accountUserId).executeTakeFirst();
        if (!user) throw new RampartError('not_found', { detail: 'no such account' });
        const inserted = await trx
          .insertInto('platform_operators')
          .values({ account_tenant_id: accountTenantId, account_user_id: accountUserId, granted_by: actorLabel(actor), justification: why, granted_at: clock.now() })
          .onConflict((oc) => oc.doNothing())
          .returning('account_user_id')
          .execute();
        if (inserted.length) await record(trx, 'platform.operator.granted', actor, accountTenantId, accountUserId, why, context);
        return { granted: inserted.length > 0 };
      });
    },
    async revoke({ accountTenantId, accountUserId, actor, justification, context }) {
      const why = requireJustification(justification);
      return unsafeAsSystem(db, { reason: REASON }, async (trx) => {
        const deleted = await trx.deleteFrom('platform_operators').where('account_tenant_id', '=', accountTenantId).where('account_user_id', '=', accountUserId).returning('account_user_id').execute();
        if (deleted.length) await record(trx, 'platform.operator.revoked', actor, accountTenantId, accountUserId, why, context);
        return { revoked: deleted.length > 0 };
      });
    },
    async claimFirst({ accountTenantId, accountUserId }) {
      return unsafeAsSystem(db, { reason: REASON }, async (trx) => {
        await sql`select pg_advisory_xact_lock(${FIRST_OPERATOR_LOCK})`.execute(trx);
        const any = await trx.selectFrom('platform_operators').select('account_user_id').limit(1).executeTakeFirst();
        if (any) return { granted: false };
        const why = 'first admin of an install without a platform operator (setup link printed on the host)';
        const actor = { type: 'system', id: 'first-admin-setup' } as const;
        await trx.insertInto('platform_operators').values({ account_tenant_id: accountTenantId, account_user_id: accountUserId, granted_by: actorLabel(actor), justification: why, granted_at: clock.now() }).execute();
        await record(trx, 'platform.operator.granted', actor, accountTenantId, accountUserId, why);
        return { granted: true };
      });
    },
  };
}

const actorLabel = (actor: Actor): string => (actor.type === 'anonymous' ? 'anonymous' : `${actor.type}:${actor.id}`).slice(0, 200);

/** A session of a person who proved a passkey in it: the only kind of caller a platform resource admits. */
export const isPlatformCapable = (principal: Principal): boolean =>
  principal.type === 'user' && principal.scopes === undefined && principal.onBehalfOf === undefined && principal.factorTimes?.webauthn !== undefined;

/** Platform resources: operators only (see above). */
export function platformAuthorizer(operators: Pick<PlatformOperators, 'isOperator'>): Authorizer {
  return async ({ principal }) => isPlatformCapable(principal) && (await operators.isOperator(principal));
}

/**
 * The one place the authorize step picks a scope: a platform resource goes to `platform` and
 * never to the tenant's policy set, so nothing a tenant writes can decide it; every other
 * resource goes to `tenant`.
 */
export function catalogueAuthorizer({ tenant, platform }: { tenant: Authorizer; platform: Authorizer }): Authorizer {
  return (input) => (resourceScope(input.resource) === 'platform' ? platform(input) : tenant(input));
}

const MUTATIONS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Start-up check on the route table: a route on a platform resource that changes state must ask
 * for a fresh passkey (ID-7) and a justification (AZ-5). A route that forgets it cannot start.
 */
export function checkPlatformRoutes(routes: readonly RouteDefinition[]): void {
  for (const route of routes) {
    if (!isActionAuth(route.auth) || resourceScope(route.auth.resource) !== 'platform') continue;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.some((m) => MUTATIONS.has(m)) && !(route.auth.fresh?.factor === 'webauthn' && route.auth.justify)) {
      throw new Error(`route ${methods.join(',')} ${route.url} changes the platform resource "${route.auth.resource}" and must declare justify and a fresh passkey step-up`);
    }
  }
}

/** The platform's own API: who operates it (granting happens on the host, `rampart platform grant`). */
export function platformRoutes({ platform }: { platform: Pick<PlatformOperators, 'list'> }): RouteDefinition[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/platform/operators',
      auth: { action: 'list', resource: 'platform_operator' },
      summary: 'Platform operators (platform scope: operators only)',
      handler: async () => ({
        items: (await platform.list()).map((o) => ({ account_tenant_id: o.accountTenantId, account_user_id: o.accountUserId, granted_by: o.grantedBy, granted_at: o.grantedAt })),
      }),
    }),
  ];
}
