import { CompiledQuery, sql, type RawBuilder, type Transaction } from 'kysely';
import { isUuid, RampartError, uuidv7, type Logger } from '../core/index.js';
import { APP_ROLE, type Database } from './connect.js';
import { DEFERRABLE_MARKER } from './pglite-dialect.js';
import { READ_STATEMENT } from './statement-kind.js';
import type { Schema, Tenant } from './schema.js';

/** Who is acting. An AI agent always acts on behalf of a user (never more than that user). */
export type Actor =
  | { type: 'user'; id: string }
  | { type: 'agent'; id: string; onBehalfOf: string }
  | { type: 'system'; id: string }
  | { type: 'anonymous' };

export type TenantScope = { tenantId: string; actor: Actor };

export type TenantTransaction = Transaction<Schema>;

export const actorId = (actor: Actor): string => {
  switch (actor.type) {
    case 'anonymous':
      return 'anonymous';
    case 'agent':
      return `agent:${actor.id}:for:${actor.onBehalfOf}`;
    default:
      return `${actor.type}:${actor.id}`;
  }
};

/**
 * Runs `fn` in one transaction, as role rampart_app, with `rampart.tenant_id` and
 * `rampart.actor_id` set for that transaction only. Row-level security then confines every
 * statement in `fn` to the tenant, whatever its WHERE clause says. (invariant 1, control: DE-2)
 *
 * One transaction per call: either everything `fn` wrote commits, or nothing does.
 */
export async function withTenant<T>(db: Database, scope: TenantScope, fn: (trx: TenantTransaction) => Promise<T>, options: { readOnly?: boolean } = {}): Promise<T> {
  assertTenantId(scope);
  const builder = options.readOnly ? db.app.transaction().setAccessMode('read only') : db.app.transaction();
  return builder.execute(async (trx) => {
    // The embedded driver sends this statement with the transaction's first query
    // (DEFERRABLE_MARKER), so the scope costs no call of its own.
    await sql`${sql.raw(DEFERRABLE_MARKER)} ${scopeSettings(db, scope, {})}`.execute(trx);
    return fn(trx);
  });
}

/**
 * One read-only statement in the tenant's scope, sent together with the scope as one unit (db's
 * `appBatch`): one call embedded, one round trip on PostgreSQL, where `withTenant` around the same
 * statement costs two calls or four round trips (begin + scope + statement, then commit). The scope
 * and the statement share one implicit transaction that is read only and ends with the statement,
 * so the same row-level security applies and nothing of the scope outlives it. (control: DE-2)
 *
 * For a single SELECT whose result the caller only inspects afterwards; anything that reads
 * again depending on what it found, or writes, belongs in `withTenant`.
 */
export async function readAsTenant<R>(db: Database, scope: TenantScope, query: CompiledQuery): Promise<R[]> {
  assertTenantId(scope);
  if (!READ_STATEMENT.test(query.sql)) throw new Error('readAsTenant runs one read statement (select, with, values, table)');
  // The settings statement's text is the same for every call on this database: compiled once.
  let text = readScopeText.get(db);
  if (text === undefined) {
    text = scopeSettings(db, scope, { readOnly: true }).compile(db.app).sql;
    readScopeText.set(db, text);
  }
  const results = await db.appBatch([CompiledQuery.raw(text, [scope.tenantId, actorId(scope.actor)]), query]);
  return results[1]!.rows as R[];
}

const readScopeText = new WeakMap<Database, string>();

function assertTenantId(scope: TenantScope): void {
  if (!isUuid(scope.tenantId)) throw new RampartError('bad_request', { detail: 'tenant id must be a UUID' });
}

/**
 * The statement that scopes a transaction to the tenant: its id and the actor as transaction-local
 * settings (row-level security and triggers read them). Embedded, PGlite is one superuser session,
 * so it also drops to the app role for the transaction; on PostgreSQL the app pool already logs in
 * as rampart_app (SET ROLE would be refused anyway). `readOnly` makes the transaction read only
 * from here on, for a batch that has no BEGIN to say so.
 */
function scopeSettings(db: Database, scope: TenantScope, { readOnly = false }: { readOnly?: boolean }): RawBuilder<unknown> {
  const role = db.kind === 'embedded' ? sql`set_config('role', ${sql.lit(APP_ROLE)}, true), ` : sql``;
  const access = readOnly ? sql`set_config('transaction_read_only', 'on', true), ` : sql``;
  return sql`select ${role}${access}set_config('rampart.tenant_id', ${scope.tenantId}, true), set_config('rampart.actor_id', ${actorId(scope.actor)}, true)`;
}

/**
 * The privileged path: a transaction as the owner role, which sees every tenant. Only for system
 * work that is cross-tenant by nature (claiming jobs, creating tenants, maintenance). The reason is
 * logged for every call so each use is visible; the audit module records it once it lands.
 */
export async function unsafeAsSystem<T>(db: Database, { reason, log }: { reason: string; log?: Logger }, fn: (trx: Transaction<Schema>) => Promise<T>): Promise<T> {
  if (reason.trim().length < 8) throw new Error('unsafeAsSystem needs a reason of at least 8 characters');
  log?.debug({ reason }, 'system transaction');
  return db.owner.transaction().execute(fn);
}

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Creates a tenant. `provision` runs in the same system transaction, so a tenant never exists
 * without what every tenant must have (roles, default grants, their audit trail).
 */
export async function createTenant(
  db: Database,
  input: { slug: string; name: string; id?: string },
  log?: Logger,
  provision?: (trx: Transaction<Schema>, tenant: Tenant) => Promise<void>,
): Promise<Tenant> {
  if (!SLUG.test(input.slug)) throw new RampartError('validation_failed', { issues: [{ pointer: '/slug', message: 'lowercase letters, digits and dashes, 1-63 characters' }] });
  const name = input.name.trim();
  if (!name || name.length > 200) throw new RampartError('validation_failed', { issues: [{ pointer: '/name', message: 'between 1 and 200 characters' }] });
  return unsafeAsSystem(db, { reason: 'tenant creation is cross-tenant by nature', ...(log ? { log } : {}) }, async (trx) => {
    const existing = await trx.selectFrom('tenants').select('id').where('slug', '=', input.slug).executeTakeFirst();
    if (existing) throw new RampartError('conflict', { detail: `a tenant with slug "${input.slug}" exists` });
    const tenant = await trx
      .insertInto('tenants')
      .values({ id: input.id ?? uuidv7(), slug: input.slug, name, created_at: new Date(), updated_at: new Date() })
      .returningAll()
      .executeTakeFirstOrThrow();
    await provision?.(trx, tenant);
    return tenant;
  });
}

export async function findTenantBySlug(db: Database, slug: string): Promise<Tenant | undefined> {
  return unsafeAsSystem(db, { reason: 'resolve tenant from slug before any tenant scope exists' }, (trx) =>
    trx.selectFrom('tenants').selectAll().where('slug', '=', slug).executeTakeFirst(),
  );
}

export async function listTenants(db: Database): Promise<Tenant[]> {
  return unsafeAsSystem(db, { reason: 'operator listing of all tenants' }, (trx) => trx.selectFrom('tenants').selectAll().orderBy('created_at').execute());
}
