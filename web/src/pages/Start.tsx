import { useState, type FormEvent } from 'react';
import type { AuthClient } from '../auth/oidc.js';
import { prefs, SLUG } from '../auth/storage.js';
import { Alert, Button, Field, TextInput } from '../ui/controls.js';

/** Before sign-in: which organisation (tenant) to sign in to. The choice is remembered on this browser. */
export function Start({ auth, error, signedOut }: { auth: AuthClient; error?: string | undefined; signedOut?: boolean }) {
  const known = prefs.tenants();
  const [tenant, setTenant] = useState(known[0] ?? '');
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const go = async (slug: string) => {
    if (!SLUG.test(slug)) return setProblem('Use the organisation’s short name: lowercase letters, digits and dashes.');
    setBusy(true);
    await auth.beginSignIn({ tenant: slug, returnTo: '/dashboard/' }).catch((e: Error) => {
      setBusy(false);
      setProblem(e.message);
    });
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void go(tenant.trim().toLowerCase());
  };

  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <div className="w-full max-w-md space-y-6 rounded-xl border border-slate-200 bg-white p-8 shadow-sm dark:border-slate-800 dark:bg-slate-900">
        <div>
          <p className="text-sm font-semibold tracking-wide text-indigo-700 uppercase dark:text-indigo-300">Rampart</p>
          <h1 className="mt-1 text-2xl font-semibold">Sign in to the dashboard</h1>
        </div>
        {signedOut ? <Alert tone="info">You are signed out.</Alert> : null}
        {error ? <Alert title="Sign-in did not complete">{error}</Alert> : null}
        <form onSubmit={submit} className="space-y-4" id="start-form">
          <Field label="Organisation" hint="The short name your administrator gave you, e.g. acme." error={problem}>
            {({ id, describedBy, invalid }) => (
              <TextInput id={id} name="tenant" autoComplete="organization" value={tenant} onChange={(e) => setTenant(e.target.value)} aria-describedby={describedBy} aria-invalid={invalid} required autoFocus />
            )}
          </Field>
          <Button type="submit" variant="primary" className="w-full" disabled={busy}>
            {busy ? 'Redirecting…' : 'Continue'}
          </Button>
        </form>
        {known.length > 1 ? (
          <div>
            <h2 className="text-sm font-medium text-slate-700 dark:text-slate-300">Recently used</h2>
            <ul className="mt-2 flex flex-wrap gap-2">
              {known.map((slug) => (
                <li key={slug}>
                  <Button onClick={() => void go(slug)}>{slug}</Button>
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </div>
    </main>
  );
}
