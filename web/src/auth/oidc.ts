import { decodeJwtPayload, randomToken, sha256 } from './crypto.js';
import { createDpopKey, dpopProof, type DpopKey } from './dpop.js';
import { flow, prefs, SLUG } from './storage.js';

/**
 * Sign-in to Rampart's own OpenID provider as the platform public client `rampart-dashboard`
 * (controls ID-1, ID-2, ID-7, ID-8): authorization code + PKCE S256, `tenant=<slug>`, tokens bound
 * to a non-extractable DPoP key, kept in this closure only (never web storage), refreshed before
 * they expire. Refresh tokens rotate on every use and a reused one revokes the whole grant, so
 * every refresh goes through one promise: two tabs' worth of parallel API calls never refresh twice.
 */

// control: ID-1, ID-2, ID-7, ID-8
export const CLIENT_ID = 'rampart-dashboard';

/** Rampart resources the dashboard uses; each is asked for as `rampart:<r>` and `rampart:<r>:read`, and consent keeps what the user holds (ID-8). */
export const DASHBOARD_RESOURCES = ['tenant', 'role', 'member', 'session', 'matrix', 'authz_policy', 'drift', 'audit_event', 'alert', 'app_spec', 'client'];

type Discovery = { issuer: string; authorization_endpoint: string; token_endpoint: string; end_session_endpoint?: string; revocation_endpoint?: string };
type TokenResponse = { access_token: string; token_type: string; expires_in: number; refresh_token?: string; id_token?: string; scope?: string };

export type Identity = { sub: string; name: string | undefined; email: string | undefined; tenant: string };
type TokenSet = { accessToken: string; scheme: string; refreshToken: string | undefined; idToken: string | undefined; expiresAt: number; scopes: ReadonlySet<string> };

/** The session ended (refresh refused, signed out elsewhere): the user must sign in again. */
export class SessionEndedError extends Error {
  constructor(message = 'Your session has ended. Sign in again.') {
    super(message);
    this.name = 'SessionEndedError';
  }
}

/** Same-origin paths only: a crafted return address must not send the browser elsewhere (open redirect). */
export function safeReturnPath(value: string | undefined): string {
  if (!value || !value.startsWith('/dashboard/') || value.startsWith('//') || value.includes('\\') || value.startsWith('/dashboard/callback')) return '/dashboard/';
  return value.slice(0, 2000);
}

/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 60_000;

export type AuthClient = ReturnType<typeof createAuthClient>;

export function createAuthClient({ origin }: { origin: string }) {
  let discovery: Promise<Discovery> | undefined;
  let key: DpopKey | undefined;
  let tokens: TokenSet | undefined;
  let identity: Identity | undefined;
  let refreshing: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const listeners = new Set<() => void>();
  const redirectUri = `${origin}/dashboard/callback`;
  const notify = () => listeners.forEach((listener) => listener());

  const meta = () =>
    (discovery ??= fetch(`${origin}/.well-known/openid-configuration`).then(async (response) => {
      if (!response.ok) throw new Error(`the sign-in service is unavailable (${response.status})`);
      return (await response.json()) as Discovery;
    }));

  function scopeFor(tenant: string): string {
    const resources = [...new Set([...DASHBOARD_RESOURCES, ...prefs.resources(tenant)])];
    return ['openid', 'profile', 'email', 'offline_access', ...resources.flatMap((r) => [`rampart:${r}`, `rampart:${r}:read`])].join(' ');
  }

  /** Leaves the page for the provider. `prompt: 'login'` asks for a fresh sign-in (tenant switch, step-up). */
  async function beginSignIn(input: { tenant: string; returnTo: string; prompt?: 'login'; retried?: boolean }): Promise<never> {
    if (!SLUG.test(input.tenant)) throw new Error('That is not a valid organisation name.');
    const m = await meta();
    const state = randomToken();
    const verifier = randomToken(48);
    const nonce = randomToken();
    flow.setPendingSignIn({ state, verifier, nonce, tenant: input.tenant, returnTo: safeReturnPath(input.returnTo), startedAt: Date.now(), ...(input.retried ? { retried: true } : {}) });
    const url = new URL(m.authorization_endpoint);
    url.search = new URLSearchParams({
      client_id: CLIENT_ID,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: scopeFor(input.tenant),
      state,
      nonce,
      code_challenge: await sha256(verifier),
      code_challenge_method: 'S256',
      tenant: input.tenant,
      // offline_access (a refresh token) is honoured only with consent in the prompt (OIDC Core 11).
      prompt: input.prompt === 'login' ? 'login consent' : 'consent',
    }).toString();
    window.location.assign(url.toString());
    return new Promise<never>(() => undefined);
  }

  async function tokenRequest(body: Record<string, string>): Promise<void> {
    const m = await meta();
    key ??= await createDpopKey();
    const post = async (nonce?: string) =>
      fetch(m.token_endpoint, {
        method: 'POST',
        credentials: 'omit',
        headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await dpopProof(key!, { method: 'POST', url: m.token_endpoint, ...(nonce ? { nonce } : {}) }) },
        body: new URLSearchParams(body),
      });
    let response = await post();
    const serverNonce = response.headers.get('dpop-nonce');
    if (response.status === 400 && serverNonce) response = await post(serverNonce);
    const json = (await response.json().catch(() => ({}))) as Partial<TokenResponse> & { error?: string; error_description?: string };
    if (!response.ok || !json.access_token) {
      if (json.error === 'invalid_grant') throw new SessionEndedError();
      throw new Error(json.error_description ?? json.error ?? `sign-in failed (${response.status})`);
    }
    tokens = {
      accessToken: json.access_token,
      scheme: (json.token_type ?? 'Bearer').toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer',
      refreshToken: json.refresh_token ?? tokens?.refreshToken,
      idToken: json.id_token ?? tokens?.idToken,
      expiresAt: Date.now() + (json.expires_in ?? 300) * 1000,
      scopes: new Set((json.scope ?? '').split(' ').filter((s) => s.startsWith('rampart:'))),
    };
    schedule();
    notify();
  }

  function schedule() {
    if (timer) clearTimeout(timer);
    if (!tokens?.refreshToken) return;
    const wait = Math.max(5_000, tokens.expiresAt - Date.now() - REFRESH_MARGIN_MS);
    timer = setTimeout(() => void refresh().catch(() => notify()), wait);
  }

  /** One refresh at a time, whoever asks (ID-1: a rotated refresh token must never be sent twice). */
  function refresh(): Promise<void> {
    refreshing ??= (async () => {
      try {
        const refreshToken = tokens?.refreshToken;
        if (!refreshToken) throw new SessionEndedError();
        await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLIENT_ID });
      } catch (error) {
        if (error instanceof SessionEndedError) end();
        throw error;
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  }

  function end() {
    tokens = undefined;
    if (timer) clearTimeout(timer);
    notify();
  }

  async function completeSignIn(href: string): Promise<{ returnTo: string }> {
    const pending = flow.pendingSignIn();
    flow.clearPendingSignIn();
    const params = new URL(href).searchParams;
    if (!pending || params.get('state') !== pending.state) throw new Error('This sign-in answer does not belong to a sign-in started in this tab. Start again.');
    const m = await meta();
    const error = params.get('error');
    // The provider remembered someone whose Rampart session has ended: ask for a sign-in, once.
    if (error === 'login_required' && !pending.retried) return beginSignIn({ tenant: pending.tenant, returnTo: pending.returnTo, prompt: 'login', retried: true });
    if (error) throw new Error(params.get('error_description') ?? error);
    // RFC 9207: the answer must come from this issuer (mix-up defence).
    if (params.get('iss') && params.get('iss') !== m.issuer) throw new Error('The sign-in answer came from an unexpected issuer.');
    const code = params.get('code');
    if (!code) throw new Error('The sign-in answer carries no code.');
    key = await createDpopKey();
    await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: CLIENT_ID, code_verifier: pending.verifier });
    // The ID token came straight from the token endpoint over TLS (OIDC Core 3.1.3.7): its claims
    // are checked, not its signature; the nonce ties it to this sign-in.
    const claims = decodeJwtPayload(tokens!.idToken ?? '');
    const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (claims.iss !== m.issuer || !audience.includes(CLIENT_ID) || claims.nonce !== pending.nonce || typeof claims.sub !== 'string') {
      end();
      throw new Error('The sign-in answer did not check out. Start again.');
    }
    identity = { sub: claims.sub, name: typeof claims.name === 'string' ? claims.name : undefined, email: typeof claims.email === 'string' ? claims.email : undefined, tenant: pending.tenant };
    prefs.rememberTenant(pending.tenant);
    flow.setSignedOut(false);
    notify();
    return { returnTo: pending.returnTo };
  }

  /** fetch() with the access token and a fresh DPoP proof; refreshes first when the token is about to expire. */
  async function authorizedFetch(path: string, init: RequestInit = {}): Promise<Response> {
    if (!tokens) throw new SessionEndedError();
    if (tokens.expiresAt - Date.now() < 30_000) await refresh();
    const url = new URL(path, origin).toString();
    const send = async () => {
      const current = tokens;
      if (!current) throw new SessionEndedError();
      const headers = new Headers(init.headers);
      headers.set('authorization', `${current.scheme} ${current.accessToken}`);
      if (current.scheme === 'DPoP') headers.set('dpop', await dpopProof(key!, { method: init.method ?? 'GET', url, accessToken: current.accessToken }));
      // No cookies: the API sees the token principal only (scopes AND policy decide).
      return fetch(url, { ...init, headers, credentials: 'omit' });
    };
    const response = await send();
    if (response.status !== 401) return response;
    const problem = (await response.clone().json().catch(() => ({}))) as { type?: string };
    if (problem.type === 'urn:rampart:problem:step-up-required') return response;
    // A token revoked or expired in the meantime: one refresh, one retry.
    await refresh();
    return send();
  }

  async function revokeRefreshToken() {
    const m = await meta();
    const refreshToken = tokens?.refreshToken;
    if (!refreshToken || !m.revocation_endpoint) return;
    await fetch(m.revocation_endpoint, { method: 'POST', credentials: 'omit', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token', client_id: CLIENT_ID }) }).catch(() => undefined);
  }

  /** RP-initiated logout: revoke the grant's refresh token, end the Rampart session, end the provider's session. */
  async function signOut(): Promise<never> {
    const m = await meta();
    const idToken = tokens?.idToken;
    await revokeRefreshToken();
    await fetch('/api/v1/identity/sign-out', { method: 'POST', credentials: 'same-origin' }).catch(() => undefined);
    end();
    flow.setSignedOut(true);
    if (!m.end_session_endpoint) {
      window.location.assign('/dashboard/');
    } else {
      const url = new URL(m.end_session_endpoint);
      url.search = new URLSearchParams({ client_id: CLIENT_ID, post_logout_redirect_uri: `${origin}/dashboard/`, ...(idToken ? { id_token_hint: idToken } : {}) }).toString();
      window.location.assign(url.toString());
    }
    return new Promise<never>(() => undefined);
  }

  /** Another tenant is another account: sign in there afresh (the provider must not reuse this one). */
  async function switchTenant(tenant: string): Promise<never> {
    if (!SLUG.test(tenant)) throw new Error('That is not a valid organisation name.');
    await revokeRefreshToken();
    end();
    return beginSignIn({ tenant, returnTo: '/dashboard/', prompt: 'login' });
  }

  return {
    origin,
    beginSignIn,
    completeSignIn,
    authorizedFetch,
    refresh,
    signOut,
    switchTenant,
    /** ID-7: a fresh passkey sign-in for a high-risk action; the action waits in sessionStorage. */
    reauthenticate: (returnTo: string) => beginSignIn({ tenant: identity?.tenant ?? prefs.tenant() ?? '', returnTo, prompt: 'login' }),
    identity: () => identity,
    isSignedIn: () => Boolean(tokens),
    scopes: (): ReadonlySet<string> => tokens?.scopes ?? new Set(),
    subscribe(listener: () => void) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}
