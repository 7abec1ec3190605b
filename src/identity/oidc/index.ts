/** The OpenID Connect provider (controls ID-1, ID-2, ID-3, ID-7, ID-8). */
export { createOidc, DASHBOARD_CLIENT_ID, type Oidc, type OidcOptions } from './service.js';
export { oidcRoutes } from './routes.js';
export { tokenAuthenticator, scopedAuthorizer, firstAuthenticator, sameOriginSession, isCrossOriginWrite } from './authenticator.js';
export { createSigningKeys, SIGNING_ALGS, type SigningKeys, type SigningKeyView, type RotationResult } from './keys.js';
export { purgeExpiredPayloads } from './adapter.js';
export { scopeAllows, heldApiScopes, grantableApiScopes, apiScopesOf, API_WILDCARD } from './scopes.js';
export { INTERACTION_TTL_SECONDS, type OidcSettings } from './provider.js';
export { verifyDpopProof } from './dpop.js';
export { createClient, listClients, getClient, updateClient, deleteClient, rotateClientSecret, ensurePlatformClient, clientInputSchema, type ClientView, type ClientInput } from './clients.js';
