import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { RouterProvider } from '@tanstack/react-router';
import { useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, createApi, type Api } from '../api/client.js';
import type { InstalledApp, TenantInfo } from '../api/types.js';
import { SessionEndedError, type AuthClient } from '../auth/oidc.js';
import { flow, prefs } from '../auth/storage.js';
import { Start } from '../pages/Start.js';
import { Alert, Button, Spinner } from '../ui/controls.js';
import { createAppRouter } from './router.js';
import { appResource, permissionsFrom, SessionContext, type Session } from './session.js';

type State =
  | { kind: 'starting' }
  | { kind: 'start'; error?: string; signedOut?: boolean }
  | { kind: 'ready'; api: Api; tenant: TenantInfo; apps: InstalledApp[] };

/**
 * Page start: finish a sign-in coming back from the provider, or start one for the remembered
 * tenant (tokens are in memory only, so every page load signs in; with a live session the
 * provider answers at once), or show the start screen.
 */
async function start(auth: AuthClient): Promise<State> {
  if (window.location.pathname === '/dashboard/callback') {
    try {
      const { returnTo } = await auth.completeSignIn(window.location.href);
      window.history.replaceState(null, '', returnTo);
    } catch (error) {
      window.history.replaceState(null, '', '/dashboard/');
      return { kind: 'start', error: error instanceof Error ? error.message : 'Sign-in failed.' };
    }
  } else {
    const tenant = prefs.tenant();
    if (!tenant || flow.isSignedOut()) return { kind: 'start', signedOut: flow.isSignedOut() };
    await auth.beginSignIn({ tenant, returnTo: `${window.location.pathname}${window.location.search}` });
  }
  const api = createApi(auth);
  const slug = auth.identity()!.tenant;
  const [tenant, apps] = await Promise.all([
    api.get<TenantInfo>('/api/v1/tenant'),
    api.get<{ items: InstalledApp[] }>('/api/v1/apps').then((r) => r.items, (error: unknown) => (error instanceof ApiError && error.status === 403 ? [] : Promise.reject(error))),
  ]);
  // App resources differ per tenant: their scopes are asked for by name. When this tenant has
  // resources the token was not asked for, sign in once more with them (silent with a live session).
  const names = apps.flatMap((a) => a.resources.map((r) => appResource(a.app, r.name)));
  prefs.setResources(slug, names);
  const scopes = auth.scopes();
  const missing = names.filter((n) => !scopes.has(`rampart:${n}`) && !scopes.has(`rampart:${n}:read`));
  if (missing.length && !flow.scopeRetried()) {
    flow.setScopeRetried(true);
    await auth.beginSignIn({ tenant: slug, returnTo: `${window.location.pathname}${window.location.search}` });
  }
  flow.setScopeRetried(false);
  return { kind: 'ready', api, tenant, apps };
}

export function Boot({ auth }: { auth: AuthClient }) {
  const [state, setState] = useState<State>({ kind: 'starting' });
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    start(auth).then(setState, (error: unknown) => setState({ kind: 'start', error: error instanceof Error ? error.message : 'The dashboard could not start.' }));
  }, [auth]);

  if (state.kind === 'starting')
    return (
      <main className="flex min-h-screen items-center justify-center">
        <Spinner label="Signing in…" />
      </main>
    );
  if (state.kind === 'start') return <Start auth={auth} error={state.error} signedOut={state.signedOut ?? false} />;
  return <Ready auth={auth} api={state.api} tenant={state.tenant} apps={state.apps} />;
}

function Ready({ auth, api, tenant, apps: initialApps }: { auth: AuthClient; api: Api; tenant: TenantInfo; apps: InstalledApp[] }) {
  const [denied, setDenied] = useState<ReadonlySet<string>>(new Set());
  const [apps, setApps] = useState(initialApps);
  const [version, setVersion] = useState(0);
  const [ended, setEnded] = useState(false);
  const [replay, setReplay] = useState<{ label: string; ok: boolean; message: string } | null>(null);
  useEffect(() => auth.subscribe(() => (auth.isSignedIn() ? setVersion((v) => v + 1) : setEnded(true))), [auth]);

  const session = useMemo<Session>(
    () => ({
      auth,
      api,
      identity: auth.identity()!,
      tenant,
      apps,
      can: permissionsFrom(auth.scopes(), denied),
      markDenied: (resource, action) => setDenied((previous) => new Set([...previous, `${resource}:${action}`])),
      reloadApps: async () => setApps((await api.get<{ items: InstalledApp[] }>('/api/v1/apps')).items),
    }),
    // `version` changes when a refresh brings a new token (and with it, possibly, new scopes).
    [auth, api, tenant, apps, denied, version],
  );
  const queryClient = useMemo(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: { retry: (count, error) => count < 1 && !(error instanceof ApiError && error.status < 500) && !(error instanceof SessionEndedError), refetchOnWindowFocus: false, staleTime: 5_000 },
        },
      }),
    [],
  );
  const router = useMemo(() => createAppRouter({ queryClient }), [queryClient]);

  // A high-risk call that waited for a fresh passkey sign-in runs once, now (ID-7).
  const replayed = useRef(false);
  useEffect(() => {
    if (replayed.current) return;
    replayed.current = true;
    const pending = flow.pendingAction();
    flow.clearPendingAction();
    if (!pending || Date.now() - pending.createdAt > 10 * 60_000) return;
    // Sequentially, in the order the user made them; the first refusal stops the rest.
    pending.calls.reduce<Promise<unknown>>((previous, call) => previous.then(() => api.send(call.method, call.path, call.body)), Promise.resolve()).then(
      () => {
        setReplay({ label: pending.label, ok: true, message: 'Done.' });
        void queryClient.invalidateQueries();
      },
      (error: unknown) => setReplay({ label: pending.label, ok: false, message: error instanceof Error ? error.message : 'It failed.' }),
    );
  }, [api, queryClient]);

  return (
    <SessionContext.Provider value={session}>
      <QueryClientProvider client={queryClient}>
        {ended ? (
          <div className="fixed inset-x-0 top-0 z-50 p-3">
            <Alert title="Your session has ended">
              <div className="mt-2">
                <Button variant="primary" onClick={() => void auth.beginSignIn({ tenant: session.identity.tenant, returnTo: `${window.location.pathname}${window.location.search}` })}>
                  Sign in again
                </Button>
              </div>
            </Alert>
          </div>
        ) : null}
        {replay ? (
          <div className="fixed right-4 bottom-4 z-50 max-w-sm" data-testid="replay-result">
            <Alert tone={replay.ok ? 'good' : 'bad'} title={replay.label}>
              <p>{replay.message}</p>
              <Button variant="ghost" className="mt-2" onClick={() => setReplay(null)}>
                Dismiss
              </Button>
            </Alert>
          </div>
        ) : null}
        <RouterProvider router={router} />
      </QueryClientProvider>
    </SessionContext.Provider>
  );
}
