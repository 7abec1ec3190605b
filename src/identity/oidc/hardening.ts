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

/**
 * One trusted issuer URL: the provider builds its absolute URLs (discovery, redirects, the `htu` a
 * DPoP proof must name) from the request (`ctx.href`: Host, and X-Forwarded-Host/-Proto when the
 * proxy is trusted). With a public URL configured they come from it instead. The HTTP server
 * refuses other hosts already (http/public-host.ts); this also keeps the scheme right behind a
 * TLS-terminating proxy, and tells the provider the request is secure so its cookies are Secure.
 */
export function pinPublicOrigin(provider: Provider, publicUrl: string): void {
  const url = new URL(publicUrl);
  const origin = { protocol: { value: url.protocol.slice(0, -1) }, host: { value: url.host }, hostname: { value: url.hostname } };
  provider.use(async (ctx, next) => {
    Object.defineProperties(ctx.request, origin);
    await next();
  });
}

/**
 * ID-6 for the provider's own cookies (its session, and the interaction and resume cookies of one
 * sign-in, each with a `.sig` signature cookie). Always HttpOnly. Behind TLS (an https issuer:
 * the public URL, or the TLS listener) they are Secure and prefixed: the session cookie (path /)
 * `__Host-`, so no subdomain can set or shadow it; the interaction and resume cookies are scoped to
 * their sign-in's path (`/oidc/interaction/<uid>`, `/oidc/auth/<uid>`), which `__Host-` forbids,
 * so they are `__Secure-`. Over plain http (development) a browser drops prefixed cookies.
 *
 * All are SameSite=Lax, the strictest the redirect flow permits. An authorization request arrives
 * from the relying party's site as a top-level GET navigation, and every hop of that redirect
 * chain counts as cross-site: the provider session must reach /oidc/auth to recognise who is
 * signed in (and /oidc/session/end to sign them out); the interaction cookie must reach
 * /oidc/interaction/<uid>, the first hop after it; the resume cookie must reach /oidc/auth/<uid>
 * when the interaction finishes within that same chain (an error, or a consent it can decide at
 * once). Strict would withhold each of them there. Lax still keeps them off cross-site POSTs and
 * subresource requests, and none of them authenticates an API call (the Rampart session cookie,
 * which does, is Strict).
 */
export function providerCookies({ keys, secure }: { keys: string[]; secure: boolean }) {
  const options = { httpOnly: true, sameSite: 'lax' as const, ...(secure ? { secure: true } : {}) };
  const names = secure
    ? { session: '__Host-rampart_oidc_session', interaction: '__Secure-rampart_oidc_interaction', resume: '__Secure-rampart_oidc_resume' }
    : { session: 'rampart_oidc_session', interaction: 'rampart_oidc_interaction', resume: 'rampart_oidc_resume' };
  return { keys, names, long: { ...options }, short: { ...options } };
}
