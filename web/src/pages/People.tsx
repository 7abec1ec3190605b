import { useMutation, useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ApiError, isStepUpRequired } from '../api/client.js';
import type { Invitation, MatrixView, Role } from '../api/types.js';
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
      <PageHeader title="People and roles" description="Invite colleagues with a role; roles decide what each may do (see Permissions)." />
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
