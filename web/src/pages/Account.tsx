import { startAuthentication, type PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/browser';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, isStepUpRequired } from '../api/client.js';
import type { Passkey, SessionInfo } from '../api/types.js';
import { useSession } from '../app/session.js';
import { Alert, Badge, Button, Card, ErrorText, PageHeader, Spinner, TextInput } from '../ui/controls.js';
import { Dialog } from '../ui/dialog.js';

/**
 * Sessions ("sign out everywhere", ID-6) and security keys (passkeys: list, rename, remove). The
 * server manages factors for the browser's signed-in session only, never for a bearer token, so
 * the passkey calls go with the session cookie; removing one needs a passkey step-up (ID-7).
 */
export function Account() {
  const { api, auth, can, identity } = useSession();
  const sessions = useQuery({ queryKey: ['me', 'sessions'], queryFn: () => api.get<{ items: SessionInfo[] }>('/api/v1/me/sessions'), enabled: can('session', 'list') });
  const [confirmAll, setConfirmAll] = useState(false);
  const revokeAll = useMutation({
    mutationFn: () => api.post('/api/v1/me/sessions/revoke-all'),
    onSuccess: () => void auth.signOut(),
  });
  const queryClient = useQueryClient();
  const revokeOne = useMutation({
    mutationFn: (id: string) => api.delete(`/api/v1/me/sessions/${id}`),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['me', 'sessions'] }),
  });

  return (
    <div className="space-y-6">
      <PageHeader title="Sessions and security keys" description={`${identity.name ?? ''} ${identity.email ? `· ${identity.email}` : ''}`} />
      <Card>
        <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
          <h2 className="text-base font-semibold">Where you are signed in</h2>
          {can('session', 'revoke') ? (
            <Button variant="danger" onClick={() => setConfirmAll(true)} data-testid="sign-out-everywhere">
              Sign out everywhere
            </Button>
          ) : null}
        </div>
        {sessions.isPending ? <Spinner /> : null}
        <ErrorText error={sessions.error ?? revokeOne.error ?? revokeAll.error} />
        <ul className="divide-y divide-slate-100 dark:divide-slate-800" data-testid="session-list">
          {sessions.data?.items.map((s) => (
            <li key={s.id} className="flex flex-wrap items-center justify-between gap-2 py-2 text-sm">
              <div>
                <p className="font-medium">{s.user_agent ?? 'Unknown device'}</p>
                <p className="text-slate-600 dark:text-slate-400">
                  {s.ip ?? 'unknown address'} · signed in {new Date(s.auth_time).toLocaleString()} with {s.amr.filter((m) => m !== 'mfa').join(', ') || 'unknown'} · last seen {new Date(s.last_seen_at).toLocaleString()}
                </p>
              </div>
              {can('session', 'revoke') ? (
                <Button variant="ghost" onClick={() => revokeOne.mutate(s.id)}>
                  Sign out
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
      </Card>
      <Passkeys />
      <Dialog
        open={confirmAll}
        onClose={() => setConfirmAll(false)}
        title="Sign out everywhere?"
        footer={
          <>
            <Button onClick={() => setConfirmAll(false)}>Cancel</Button>
            <Button variant="danger" onClick={() => revokeAll.mutate()} disabled={revokeAll.isPending} data-testid="confirm-sign-out-everywhere">
              Sign out everywhere
            </Button>
          </>
        }
      >
        <p className="text-sm">Every session of your account in this organisation ends, this one included.</p>
      </Dialog>
    </div>
  );
}

function Passkeys() {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const passkeys = useQuery({ queryKey: ['me', 'passkeys'], queryFn: () => api.session.get<{ items: Passkey[] }>('/api/v1/me/passkeys') });
  const [editing, setEditing] = useState<{ id: string; name: string } | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['me', 'passkeys'] });
  const rename = useMutation({ mutationFn: (input: { id: string; name: string }) => api.session.send('PATCH', `/api/v1/me/passkeys/${input.id}`, { name: input.name }), onSuccess: () => (setEditing(null), refresh()) });
  const remove = useMutation({
    mutationFn: async (id: string) => {
      const path = `/api/v1/me/passkeys/${id}`;
      try {
        return await api.session.send('DELETE', path);
      } catch (error) {
        if (!isStepUpRequired(error)) throw error;
        // ID-7: prove a passkey now, then retry once.
        const options = await api.session.send<PublicKeyCredentialRequestOptionsJSON>('POST', '/api/v1/identity/step-up/options');
        const response = await startAuthentication({ optionsJSON: options });
        await api.session.send('POST', '/api/v1/identity/step-up/verify', { response });
        return api.session.send('DELETE', path);
      }
    },
    onSuccess: refresh,
  });
  const problem = remove.error ?? rename.error;

  return (
    <Card>
      <h2 className="mb-3 text-base font-semibold">Security keys (passkeys)</h2>
      {passkeys.error instanceof ApiError && passkeys.error.status === 401 ? <Alert tone="info">Sign in through the login page in this browser to manage your security keys.</Alert> : <ErrorText error={passkeys.error} />}
      {passkeys.isPending ? <Spinner /> : null}
      {problem ? <ErrorText error={problem} /> : null}
      <ul className="divide-y divide-slate-100 dark:divide-slate-800" data-testid="passkey-list">
        {passkeys.data?.items.map((p) => (
          <li key={p.id} className="flex flex-wrap items-center justify-between gap-2 py-2 text-sm">
            {editing?.id === p.id ? (
              <form
                className="flex flex-1 gap-2"
                onSubmit={(e) => {
                  e.preventDefault();
                  rename.mutate(editing);
                }}
              >
                <label className="sr-only" htmlFor={`rename-${p.id}`}>
                  New name for {p.name}
                </label>
                <TextInput id={`rename-${p.id}`} value={editing.name} onChange={(e) => setEditing({ id: p.id, name: e.target.value })} autoFocus />
                <Button type="submit" variant="primary">
                  Save
                </Button>
                <Button onClick={() => setEditing(null)}>Cancel</Button>
              </form>
            ) : (
              <>
                <div>
                  <p className="font-medium">
                    {p.name} {p.backedUp ? <Badge tone="info">synced</Badge> : null}
                  </p>
                  <p className="text-slate-600 dark:text-slate-400">
                    Added {new Date(p.createdAt).toLocaleDateString()} · {p.lastUsedAt ? `last used ${new Date(p.lastUsedAt).toLocaleString()}` : 'never used'}
                  </p>
                </div>
                <div className="flex gap-2">
                  <Button variant="ghost" onClick={() => setEditing({ id: p.id, name: p.name })}>
                    Rename
                  </Button>
                  <Button variant="ghost" onClick={() => remove.mutate(p.id)} aria-label={`Remove ${p.name}`}>
                    Remove
                  </Button>
                </div>
              </>
            )}
          </li>
        ))}
      </ul>
      {passkeys.data?.items.length === 0 ? <p className="text-sm text-slate-600 dark:text-slate-400">No passkeys yet. Add one from the sign-in page’s account screen.</p> : null}
    </Card>
  );
}
