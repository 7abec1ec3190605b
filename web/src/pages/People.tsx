import { useInfiniteQuery, useMutation, useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ApiError, isStepUpRequired, query } from '../api/client.js';
import type { Invitation, MatrixView, MemberPage, Role } from '../api/types.js';
import { useHighRisk } from '../app/high-risk.js';
import { useSession } from '../app/session.js';
import { Alert, Badge, Button, Card, ErrorText, Field, PageHeader, Select, Spinner, TextInput } from '../ui/controls.js';
import { JustificationField } from '../ui/justify.js';

const BUILTIN_ROLES = ['owner', 'admin', 'finance', 'auditor', 'dpo', 'member', 'viewer'];

/** Invitations (a role grant: step-up and justification, ID-7/AZ-5) and the tenant's roles. */
export function People() {
  const { api, can, tenant, auth } = useSession();
  const matrix = useQuery({ queryKey: ['matrix'], queryFn: () => api.get<MatrixView>('/api/v1/authz/matrix'), enabled: can('matrix', 'read') });
  const roles = matrix.data?.roles.map((r) => r.name) ?? BUILTIN_ROLES;
  const highRisk = useHighRisk();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('member');
  const [justification, setJustification] = useState('');
  const invite = useMutation({
    mutationFn: () => highRisk.run<Invitation>({ method: 'POST', path: '/api/v1/members/invitations', body: { email, role, justification }, label: `Invite ${email} as ${role}`, resource: 'member', action: 'invite' }),
  });
  const problem = invite.error instanceof ApiError && !isStepUpRequired(invite.error) ? invite.error : undefined;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    invite.mutate();
  };
  const link = invite.data ? `${auth.origin}/invite/${tenant.slug}?token=${encodeURIComponent(invite.data.token)}` : undefined;

  return (
    <div className="space-y-6">
      <PageHeader title="People and roles" description="Members of this organisation; invite colleagues with a role; roles decide what each may do (see Permissions)." />
      {can('member', 'invite') ? (
        <Card>
          <h2 className="mb-3 text-base font-semibold">Invite someone</h2>
          <form onSubmit={submit} className="grid gap-4 sm:grid-cols-2" noValidate>
            <Field label="Email" required error={problem?.fieldMessage('/email')}>
              {({ id, describedBy, invalid }) => <TextInput id={id} type="email" value={email} onChange={(e) => setEmail(e.target.value)} aria-describedby={describedBy} aria-invalid={invalid} />}
            </Field>
            <Field label="Role" required error={problem?.fieldMessage('/role')}>
              {({ id, describedBy, invalid }) => (
                <Select id={id} value={role} onChange={(e) => setRole(e.target.value)} aria-describedby={describedBy} aria-invalid={invalid}>
                  {roles.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </Select>
              )}
            </Field>
            <div className="sm:col-span-2">
              <JustificationField value={justification} onChange={setJustification} error={problem?.fieldMessage('/justification')} />
            </div>
            <div className="sm:col-span-2">
              <Button type="submit" variant="primary" disabled={invite.isPending}>
                Send invitation
              </Button>
            </div>
          </form>
          {problem && !problem.issues.length ? (
            <div className="mt-4">
              <ErrorText error={problem} />
            </div>
          ) : null}
          {link ? (
            <div className="mt-4">
              <Alert tone="good" title="Invitation created">
                <p>Send this link to {invite.data?.invitation.email}; it is shown only once.</p>
                <code className="mt-2 block break-all">{link}</code>
              </Alert>
            </div>
          ) : null}
        </Card>
      ) : null}
      {can('member', 'list') ? <Members /> : null}
      <Card>
        <h2 className="mb-3 text-base font-semibold">Roles</h2>
        {matrix.isPending && can('matrix', 'read') ? <Spinner /> : null}
        <ul className="divide-y divide-slate-100 dark:divide-slate-800">
          {(matrix.data?.roles ?? BUILTIN_ROLES.map((name): Role => ({ name }))).map((r) => (
            <li key={r.name} className="flex flex-wrap items-center gap-2 py-2 text-sm">
              <span className="font-medium">{r.name}</span>
              {r.highPrivilege || r.high_privilege ? <Badge tone="warn">high privilege: passkey required</Badge> : null}
              {r.description ? <span className="text-slate-600 dark:text-slate-400">{r.description}</span> : null}
            </li>
          ))}
        </ul>
      </Card>
      {highRisk.dialog}
    </div>
  );
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

/**
 * The tenant's members, a page of 50 at a time (keyset cursor). Factors show as yes/no only: the
 * server sends booleans, never any factor material.
 */
function Members() {
  const { api, markDenied } = useSession();
  const members = useInfiniteQuery({
    queryKey: ['members'],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => {
      try {
        return await api.get<MemberPage>(`/api/v1/members${query({ limit: 50, after: pageParam })}`);
      } catch (error) {
        if (error instanceof ApiError && error.status === 403) markDenied('member', 'list');
        throw error;
      }
    },
    getNextPageParam: (page) => page.next_cursor ?? undefined,
  });
  const rows = members.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <Card>
      <h2 className="mb-3 text-base font-semibold" id="members-heading">
        Members
      </h2>
      {members.isPending ? <Spinner /> : null}
      {members.error ? <ErrorText error={members.error} /> : null}
      {members.data ? (
        <div className="overflow-x-auto">
          <table className="w-full text-left text-sm" aria-labelledby="members-heading">
            <thead className="text-xs uppercase text-slate-600 dark:text-slate-400">
              <tr>
                <th scope="col" className="py-2 pr-4 font-medium">Name</th>
                <th scope="col" className="py-2 pr-4 font-medium">Email</th>
                <th scope="col" className="py-2 pr-4 font-medium">Roles</th>
                <th scope="col" className="py-2 pr-4 font-medium">Status</th>
                <th scope="col" className="py-2 pr-4 font-medium">Factors</th>
                <th scope="col" className="py-2 font-medium">Joined</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
              {rows.map((m) => (
                <tr key={m.id} data-member={m.email}>
                  <td className="py-2 pr-4 font-medium">{m.display_name}</td>
                  <td className="py-2 pr-4">{m.email}</td>
                  <td className="py-2 pr-4">
                    <span className="flex flex-wrap gap-1">{m.roles.length ? m.roles.map((r) => <Badge key={r}>{r}</Badge>) : <span className="text-slate-600 dark:text-slate-400">none</span>}</span>
                  </td>
                  <td className="py-2 pr-4">
                    <Badge tone={m.status === 'active' ? 'good' : 'bad'}>{m.status}</Badge>
                  </td>
                  <td className="py-2 pr-4">
                    <span className="flex flex-wrap gap-1">
                      <Badge tone={m.has_passkey ? 'good' : 'neutral'}>{m.has_passkey ? 'passkey' : 'no passkey'}</Badge>
                      <Badge tone={m.has_totp ? 'good' : 'neutral'}>{m.has_totp ? 'TOTP' : 'no TOTP'}</Badge>
                    </span>
                  </td>
                  <td className="py-2">{dateFormat.format(new Date(m.created_at))}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {rows.length === 0 ? <p className="py-2 text-sm text-slate-600 dark:text-slate-400">No members yet.</p> : null}
        </div>
      ) : null}
      {members.hasNextPage ? (
        <div className="mt-3">
          <Button onClick={() => void members.fetchNextPage()} disabled={members.isFetchingNextPage}>
            Load more
          </Button>
        </div>
      ) : null}
    </Card>
  );
}
