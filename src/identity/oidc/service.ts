import type Provider from 'oidc-provider';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditLog } from '../../audit/index.js';
import type { Clock, KekRing, Logger } from '../../core/index.js';
import type { Database } from '../../db/index.js';
import { revocationRetentionSeconds, revokePayloadsOf } from './adapter.js';
import { clientLookup, ensurePlatformClient } from './clients.js';
import { createSigningKeys, type SigningKeys } from './keys.js';
import { buildProvider, type OidcSettings } from './provider.js';

/**
 * The OIDC provider as a Rampart service: signing keys loaded from the database, a provider built
 * on them and rebuilt when another node (or the CLI) rotates them, mounted into the HTTP server.
 */

export type OidcOptions = {
  db: Database;
  ring: KekRing;
  audit: AuditLog;
  log: Logger;
  clock: Clock;
  settings: OidcSettings;
  rotationIntervalSeconds: number;
  retiredKeyRetentionSeconds: number;
  production?: boolean;
  /** Redirect URIs of the platform's admin dashboard client `rampart-dashboard`. */
  dashboard: { redirectUris: string[]; postLogoutRedirectUris: string[] };
};

export type Oidc = {
  settings: OidcSettings;
  keys: SigningKeys;
  provider(): Provider;
  /** Rebuilds the provider when the key set changed elsewhere; returns true when it did. */
  refreshKeys(): Promise<boolean>;
  /** Revokes every grant, token and provider session of one user ("sign out everywhere"); returns the rows removed. */
  revokeAccount(accountId: string): Promise<number>;
  /** Revokes every grant and token of a deleted client; returns the rows removed. */
  revokeClient(clientId: string): Promise<number>;
  /** Registers the protocol endpoints on a Fastify instance (an encapsulated, body-untouched scope). */
  mount(app: FastifyInstance): Promise<void>;
};

export const DASHBOARD_CLIENT_ID = 'rampart-dashboard';
/** Scopes the dashboard may ask for: every API resource (the user's policy narrows each token). */
export const DASHBOARD_SCOPES = ['openid', 'profile', 'email', 'offline_access', 'rampart:*'];

export async function createOidc(options: OidcOptions): Promise<Oidc> {
  const { db, ring, audit, log, clock, settings } = options;
  const keys = createSigningKeys({ db, ring, audit, clock, log, rotationIntervalSeconds: options.rotationIntervalSeconds, retiredKeyRetentionSeconds: options.retiredKeyRetentionSeconds, production: options.production ?? false });
  await keys.ensure();
  await ensurePlatformClient(db, log, {
    clientId: DASHBOARD_CLIENT_ID,
    name: 'Rampart admin dashboard',
    redirectUris: options.dashboard.redirectUris,
    postLogoutRedirectUris: options.dashboard.postLogoutRedirectUris,
    scopes: DASHBOARD_SCOPES,
  });
  const findClient = clientLookup({ db, ring, log });
  let fingerprint = await keys.fingerprint();
  let current = buildProvider({ settings, db, clock, log, findClient, jwks: await keys.load() });
  let callback = current.callback();

  const refreshKeys = async () => {
    const next = await keys.fingerprint();
    if (next === fingerprint) return false;
    current = buildProvider({ settings, db, clock, log, findClient, jwks: await keys.load() });
    callback = current.callback();
    fingerprint = next;
    log.info('oidc signing keys reloaded');
    return true;
  };

  const revocation = () => ({ db, now: clock.now(), retentionSeconds: revocationRetentionSeconds(settings) });

  const handle = (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    // Security headers set by the pipeline so far (helmet, request id) go out with the provider's reply.
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) reply.raw.setHeader(name, value as string | string[]);
    reply.raw.setHeader('x-request-id', request.id);
    void callback(request.raw, reply.raw);
  };

  return {
    settings,
    keys,
    provider: () => current,
    refreshKeys,
    revokeAccount: (accountId) => revokePayloadsOf(revocation(), { accountId }),
    revokeClient: (clientId) => revokePayloadsOf(revocation(), { clientId }),
    async mount(app) {
      await app.register(async (scope) => {
        // The provider reads and size-limits its own request bodies; leave the stream untouched.
        scope.removeAllContentTypeParsers();
        scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
        const methods: Array<'GET' | 'POST' | 'OPTIONS' | 'DELETE'> = ['GET', 'POST', 'OPTIONS', 'DELETE'];
        // Public by design: every endpoint authenticates its caller by the protocol itself
        // (client authentication, PKCE, the user's session, tokens).
        scope.route({ method: methods, url: '/oidc/*', config: { auth: { public: true } }, handler: handle });
        scope.route({ method: ['GET', 'OPTIONS'], url: '/.well-known/openid-configuration', config: { auth: { public: true } }, handler: handle });
      });
    },
  };
}
