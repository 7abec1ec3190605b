import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AdapterPayload } from 'oidc-provider';
import type { AuditLog, RequestContext } from '../../audit/index.js';
import { PLATFORM_RESOURCE_NAMES } from '../../authz/index.js';
import { RampartError, type KekRing, type Logger } from '../../core/index.js';
import { envelopeFor, unsafeAsSystem, type Actor, type Database, type TenantTransaction } from '../../db/index.js';

/**
 * The relying-party registry (controls ID-2, ID-8). Clients are registered by tenant admins through
 * the admin API, never by dynamic registration. Only the authorization code flow exists: every
 * client gets `response_types: ['code']`; public clients (`token_endpoint_auth_method: none`) are
 * the SPAs, mobile apps and CLIs that must use PKCE S256 (the provider requires PKCE of every
 * client). A confidential client's secret is generated here, shown once, and stored sealed under
 * the tenant's data key (DA-2); the provider needs the secret itself to check `client_secret_basic`.
 */

const SECRET_CONTEXT = 'oidc_clients.secret';

const loopback = (url: URL) => url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';

/** https everywhere, http only for loopback (native apps, development); no fragments, no wildcards. */
const redirectUri = z
  .string()
  .max(2000)
  .refine((value) => {
    try {
      const url = new URL(value);
      // Control characters (NUL above all: text and jsonb cannot hold it) are never part of a redirect target.
      if (url.hash || url.username || url.password || value.includes('*') || [...value].some((c) => c.charCodeAt(0) < 0x20 || c === '\u007f')) return false;
      return url.protocol === 'https:' || (url.protocol === 'http:' && loopback(url)) || /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(url.protocol);
    } catch {
      return false;
    }
  }, 'must be an absolute https URL (http only on loopback, or a reverse-domain app scheme), with no fragment, credentials or wildcard');

export const SCOPE_TOKEN = /^(?:[a-z][a-z0-9_.:-]{0,127}|rampart:\*)$/;

export const clientInputSchema = z.strictObject({
  name: z.string().trim().min(1).max(200).refine((value) => !value.includes('\u0000'), 'must not contain a NUL character'),
  type: z.enum(['public', 'confidential']),
  redirectUris: z.array(redirectUri).min(1).max(20),
  postLogoutRedirectUris: z.array(redirectUri).max(20).default([]),
  /** Scopes the client may request at most; the user's own permissions narrow them further. */
  scopes: z.array(z.string().regex(SCOPE_TOKEN)).max(200).default(['openid', 'profile', 'email', 'offline_access']),
  /** Require DPoP proofs: access and refresh tokens are bound to the client's key (ID-7). */
  dpopBoundAccessTokens: z.boolean().default(false),
  applicationType: z.enum(['web', 'native']).default('web'),
});
export type ClientInput = z.input<typeof clientInputSchema>;

/**
 * A tenant's client asks for tenant API scopes only (DESIGN "Scopes"): `rampart:*` belongs to the
 * platform's first-party clients (the dashboard), and a scope naming a platform resource would
 * reach past the tenant. Refused at registration and at every update.
 */
function refusePlatformScopes(scopes: readonly string[]): void {
  const issues = scopes.flatMap((scope, index) => {
    const resource = /^rampart:([^:]+)(?::read)?$/.exec(scope)?.[1];
    if (scope === 'rampart:*') return [{ in: 'body' as const, pointer: `/scopes/${index}`, message: 'rampart:* is reserved for the platform’s own clients; list the tenant API scopes the client needs' }];
    if (resource && PLATFORM_RESOURCE_NAMES.has(resource)) return [{ in: 'body' as const, pointer: `/scopes/${index}`, message: `${scope} names a platform resource, which no tenant client may request` }];
    return [];
  });
  if (issues.length) throw new RampartError('validation_failed', { detail: `body ${issues[0]!.pointer}: ${issues[0]!.message}`, issues });
}
export const clientUpdateSchema = clientInputSchema.omit({ type: true }).partial();

export type ClientView = {
  clientId: string;
  tenantId: string | null;
  name: string;
  type: 'public' | 'confidential';
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  scopes: string[];
  dpopBoundAccessTokens: boolean;
  applicationType: 'web' | 'native';
  createdAt: Date;
  updatedAt: Date;
};

type StoredMetadata = {
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  /** OIDC scopes only (the provider checks them against its own list). */
  scope: string;
  /** Rampart API scopes this client may request (ID-8), kept apart from `scope`. */
  rampart_api_scopes: string[];
  token_endpoint_auth_method: 'none' | 'client_secret_basic';
  dpop_bound_access_tokens: boolean;
  application_type: 'web' | 'native';
};

const toMetadata = (input: z.output<typeof clientInputSchema>): StoredMetadata => ({
  redirect_uris: input.redirectUris,
  post_logout_redirect_uris: input.postLogoutRedirectUris,
  scope: [...new Set(input.scopes.filter((s) => !s.startsWith('rampart:')))].join(' '),
  rampart_api_scopes: [...new Set(input.scopes.filter((s) => s.startsWith('rampart:')))],
  token_endpoint_auth_method: input.type === 'public' ? 'none' : 'client_secret_basic',
  dpop_bound_access_tokens: input.dpopBoundAccessTokens,
  application_type: input.applicationType,
});

type Row = { client_id: string; tenant_id: string | null; name: string; metadata: Record<string, unknown>; created_at: Date; updated_at: Date };

export function toClientView(row: Row): ClientView {
  const m = row.metadata as StoredMetadata;
  return {
    clientId: row.client_id,
    tenantId: row.tenant_id,
    name: row.name,
    type: m.token_endpoint_auth_method === 'none' ? 'public' : 'confidential',
    redirectUris: m.redirect_uris,
    postLogoutRedirectUris: m.post_logout_redirect_uris,
    scopes: [...m.scope.split(' ').filter(Boolean), ...(m.rampart_api_scopes ?? [])],
    dpopBoundAccessTokens: m.dpop_bound_access_tokens,
    applicationType: m.application_type,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const CLIENT_ID = /^[A-Za-z0-9._-]{3,128}$/;
const newClientId = () => `rc_${randomBytes(12).toString('base64url')}`;
const newSecret = () => randomBytes(32).toString('base64url');
const columns = ['client_id', 'tenant_id', 'name', 'metadata', 'created_at', 'updated_at'] as const;

type Ctx = { trx: TenantTransaction; tenantId: string; ring: KekRing; audit: AuditLog; actor: Actor; justification: string; context: RequestContext };

export async function createClient({ trx, tenantId, ring, audit, actor, justification, context }: Ctx, raw: ClientInput): Promise<{ client: ClientView; clientSecret?: string }> {
  const input = clientInputSchema.parse(raw);
  refusePlatformScopes(input.scopes);
  const clientId = newClientId();
  const secret = input.type === 'confidential' ? newSecret() : undefined;
  const sealed = secret ? await envelopeFor(trx, ring).encrypt({ tenantId, context: `${SECRET_CONTEXT}:${clientId}`, plaintext: secret }) : null;
  const row = await trx
    .insertInto('oidc_clients')
    .values({ client_id: clientId, tenant_id: tenantId, name: input.name, metadata: JSON.stringify(toMetadata(input)), secret_ciphertext: sealed, created_by: actor.type === 'anonymous' ? 'anonymous' : actor.id })
    .returning(columns)
    .executeTakeFirstOrThrow();
  const client = toClientView(row);
  await audit.record(trx, { tenantId, actor, action: 'identity.client.created', target: { type: 'client', id: clientId }, diff: { client: { after: client } }, justification, context });
  return secret ? { client, clientSecret: secret } : { client };
}

export async function listClients(trx: TenantTransaction): Promise<ClientView[]> {
  return (await trx.selectFrom('oidc_clients').select(columns).orderBy('created_at').execute()).map(toClientView);
}

export async function getClient(trx: TenantTransaction, clientId: string): Promise<ClientView> {
  const row = await trx.selectFrom('oidc_clients').select(columns).where('client_id', '=', clientId).executeTakeFirst();
  if (!row) throw new RampartError('not_found', { detail: 'no such client' });
  return toClientView(row);
}

export async function updateClient({ trx, tenantId, audit, actor, justification, context }: Ctx, clientId: string, raw: z.input<typeof clientUpdateSchema>): Promise<ClientView> {
  const before = await getClient(trx, clientId);
  const patch = clientUpdateSchema.parse(raw);
  const merged = clientInputSchema.parse({
    name: patch.name ?? before.name,
    type: before.type,
    redirectUris: patch.redirectUris ?? before.redirectUris,
    postLogoutRedirectUris: patch.postLogoutRedirectUris ?? before.postLogoutRedirectUris,
    scopes: patch.scopes ?? before.scopes,
    dpopBoundAccessTokens: patch.dpopBoundAccessTokens ?? before.dpopBoundAccessTokens,
    applicationType: patch.applicationType ?? before.applicationType,
  });
  refusePlatformScopes(merged.scopes);
  const row = await trx
    .updateTable('oidc_clients')
    .set({ name: merged.name, metadata: JSON.stringify(toMetadata(merged)), updated_at: new Date() })
    .where('client_id', '=', clientId)
    .returning(columns)
    .executeTakeFirstOrThrow();
  const after = toClientView(row);
  await audit.record(trx, { tenantId, actor, action: 'identity.client.updated', target: { type: 'client', id: clientId }, diff: { client: { before, after } }, justification, context });
  return after;
}

export async function rotateClientSecret({ trx, tenantId, ring, audit, actor, justification, context }: Ctx, clientId: string): Promise<{ clientSecret: string }> {
  const client = await getClient(trx, clientId);
  if (client.type !== 'confidential') throw new RampartError('conflict', { detail: 'a public client has no secret' });
  const secret = newSecret();
  const sealed = await envelopeFor(trx, ring).encrypt({ tenantId, context: `${SECRET_CONTEXT}:${clientId}`, plaintext: secret });
  await trx.updateTable('oidc_clients').set({ secret_ciphertext: sealed, updated_at: new Date() }).where('client_id', '=', clientId).execute();
  await audit.record(trx, { tenantId, actor, action: 'identity.client.secret_rotated', target: { type: 'client', id: clientId }, justification, context });
  return { clientSecret: secret };
}

export async function deleteClient({ trx, tenantId, audit, actor, justification, context }: Ctx, clientId: string): Promise<void> {
  const before = await getClient(trx, clientId);
  await trx.deleteFrom('oidc_clients').where('client_id', '=', clientId).execute();
  await audit.record(trx, { tenantId, actor, action: 'identity.client.deleted', target: { type: 'client', id: clientId }, diff: { client: { before } }, justification, context });
}

/**
 * The provider's view of a client, read as the owner (a protocol request names a client before any
 * tenant is known). `rampart_tenant` travels with the metadata so the interaction knows whose users
 * may sign in; it is null for platform clients.
 */
export function clientLookup({ db, ring, log }: { db: Database; ring: KekRing; log: Logger }) {
  return async (clientId: string): Promise<AdapterPayload | undefined> => {
    // Anything a client id cannot be is "no such client" (400/401), not a query the database
    // rejects with a 500 (a NUL byte, for one, is not valid text in PostgreSQL).
    if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) return undefined;
    return unsafeAsSystem(db, { reason: 'a protocol request names its client before its tenant', log }, async (trx) => {
      const row = await trx.selectFrom('oidc_clients').selectAll().where('client_id', '=', clientId).executeTakeFirst();
      if (!row) return undefined;
      const m = row.metadata as StoredMetadata;
      const secret = row.secret_ciphertext && row.tenant_id ? await envelopeFor(trx, ring).decryptText({ tenantId: row.tenant_id, context: `${SECRET_CONTEXT}:${row.client_id}`, ciphertext: row.secret_ciphertext }) : undefined;
      return {
        client_id: row.client_id,
        client_name: row.name,
        ...m,
        ...(secret ? { client_secret: secret } : {}),
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        rampart_tenant: row.tenant_id,
      } as AdapterPayload;
    });
  };
}

/** Seeds (or refreshes the redirect URIs of) a platform client such as the admin dashboard. */
export async function ensurePlatformClient(db: Database, log: Logger, input: { clientId: string; name: string; redirectUris: string[]; postLogoutRedirectUris: string[]; scopes: string[] }): Promise<void> {
  const metadata = toMetadata(clientInputSchema.parse({ name: input.name, type: 'public', redirectUris: input.redirectUris, postLogoutRedirectUris: input.postLogoutRedirectUris, scopes: input.scopes }));
  await unsafeAsSystem(db, { reason: 'platform clients belong to no tenant', log }, (trx) =>
    trx
      .insertInto('oidc_clients')
      .values({ client_id: input.clientId, tenant_id: null, name: input.name, metadata: JSON.stringify(metadata), created_by: 'system' })
      .onConflict((oc) => oc.column('client_id').doUpdateSet({ name: input.name, metadata: JSON.stringify(metadata), updated_at: new Date() }))
      .execute(),
  );
}
