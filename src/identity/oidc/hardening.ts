import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * Rules Rampart adds around oidc-provider's request handling, each one a Koa middleware on the
 * provider itself, so every protocol endpoint gets it and no route can forget it.
 */

/**
 * RFC 9700 (section 2.1.1, 4.5): an authorization code is good for one redemption attempt. The
 * provider consumes a code only once every check passed, so a failed attempt (wrong PKCE verifier,
 * redirect_uri or client) left the code redeemable: someone holding an intercepted code could try
 * verifiers, and the legitimate client could still redeem it afterwards. Here a failed redemption
 * consumes it; any later attempt is a replay, which the provider answers by revoking the grant.
 */
export function burnCodeOnFailedRedemption(provider: Provider): void {
  const failed = new WeakSet<object>();
  // The provider emits this synchronously from its error handler, before the response goes out.
  provider.on('grant.error', (ctx: KoaContextWithOIDC, error: { error?: string }) => {
    if (error.error === 'invalid_grant' && ctx.oidc.params?.['grant_type'] === 'authorization_code') failed.add(ctx);
  });
  provider.use(async (ctx, next) => {
    await next();
    if (!failed.has(ctx)) return;
    const value = ctx.oidc.params?.['code'];
    if (typeof value !== 'string' || !value) return;
    const code = await provider.AuthorizationCode.find(value).catch(() => undefined);
    // A code consumed meanwhile is a replay already; the adapter revokes its grant and throws.
    if (code && !(code as { consumed?: number }).consumed) await code.consume().catch(() => undefined);
  });
}
