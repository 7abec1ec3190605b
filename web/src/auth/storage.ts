/**
 * What the dashboard keeps in web storage: never a token (ID-1: tokens live in memory only).
 * - localStorage: preferences that survive the browser (the tenants used here, the theme, the
 *   app resources of each tenant so the next sign-in asks for their scopes at once);
 * - sessionStorage: the state of one sign-in in flight (PKCE verifier, state, nonce, where to
 *   return), which must survive the redirect to the provider and is deleted on return, and a
 *   pending high-risk action waiting for a fresh passkey sign-in (no secrets: what to retry).
 */

const KEY = {
  tenant: 'rampart.dashboard.tenant',
  tenants: 'rampart.dashboard.tenants',
  theme: 'rampart.dashboard.theme',
  resources: (tenant: string) => `rampart.dashboard.resources.${tenant}`,
  signIn: 'rampart.dashboard.sign-in',
  signedOut: 'rampart.dashboard.signed-out',
  pendingAction: 'rampart.dashboard.pending-action',
  scopeRetry: 'rampart.dashboard.scope-retry',
} as const;

const read = <T>(storage: Storage, key: string): T | undefined => {
  try {
    const raw = storage.getItem(key);
    return raw === null ? undefined : (JSON.parse(raw) as T);
  } catch {
    return undefined;
  }
};
const write = (storage: Storage, key: string, value: unknown) => storage.setItem(key, JSON.stringify(value));

export const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export type PendingSignIn = { state: string; verifier: string; nonce: string; tenant: string; returnTo: string; startedAt: number; retried?: boolean };
export type PendingCall = { method: string; path: string; body?: unknown };
export type PendingAction = { calls: PendingCall[]; label: string; returnTo: string; createdAt: number };
export type Theme = 'light' | 'dark' | 'system';

export const prefs = {
  tenant: () => read<string>(localStorage, KEY.tenant),
  tenants: () => (read<string[]>(localStorage, KEY.tenants) ?? []).filter((t) => SLUG.test(t)),
  rememberTenant(slug: string) {
    write(localStorage, KEY.tenant, slug);
    write(localStorage, KEY.tenants, [slug, ...prefs.tenants().filter((t) => t !== slug)].slice(0, 8));
  },
  forgetTenant(slug: string) {
    write(localStorage, KEY.tenants, prefs.tenants().filter((t) => t !== slug));
    if (prefs.tenant() === slug) localStorage.removeItem(KEY.tenant);
  },
  theme: (): Theme => read<Theme>(localStorage, KEY.theme) ?? 'system',
  setTheme: (theme: Theme) => write(localStorage, KEY.theme, theme),
  resources: (tenant: string) => read<string[]>(localStorage, KEY.resources(tenant)) ?? [],
  setResources: (tenant: string, names: string[]) => write(localStorage, KEY.resources(tenant), names),
};

export const flow = {
  pendingSignIn: () => read<PendingSignIn>(sessionStorage, KEY.signIn),
  setPendingSignIn: (value: PendingSignIn) => write(sessionStorage, KEY.signIn, value),
  clearPendingSignIn: () => sessionStorage.removeItem(KEY.signIn),
  isSignedOut: () => read<boolean>(sessionStorage, KEY.signedOut) === true,
  setSignedOut: (value: boolean) => (value ? write(sessionStorage, KEY.signedOut, true) : sessionStorage.removeItem(KEY.signedOut)),
  pendingAction: () => read<PendingAction>(sessionStorage, KEY.pendingAction),
  setPendingAction: (value: PendingAction) => write(sessionStorage, KEY.pendingAction, value),
  clearPendingAction: () => sessionStorage.removeItem(KEY.pendingAction),
  scopeRetried: () => read<boolean>(sessionStorage, KEY.scopeRetry) === true,
  setScopeRetried: (value: boolean) => (value ? write(sessionStorage, KEY.scopeRetry, true) : sessionStorage.removeItem(KEY.scopeRetry)),
};
