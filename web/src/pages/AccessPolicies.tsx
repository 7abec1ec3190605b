import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ApiError, isStepUpRequired } from '../api/client.js';
import type { CedarPolicy } from '../api/types.js';
import { useHighRisk } from '../app/high-risk.js';
import { useSession } from '../app/session.js';
import { Alert, Button, Card, ErrorText, Field, Spinner, TextArea, TextInput } from '../ui/controls.js';
import { JustificationField } from '../ui/justify.js';

const POLICY_ID = /^[a-z][a-z0-9_.:-]{0,62}$/;

/**
 * The tenant's own Cedar policies (AZ-2, AZ-3), next to the matrix they refine: each shown as
 * written. Adding, replacing or removing one is a high-risk change like a grant: it needs a
 * justification (AZ-5) and a recent passkey (ID-7); the server validates the policy against the
 * tenant's schema and answers Cedar's own message, shown at the policy text.
 */
// control: AZ-2, AZ-5, ID-7
export function CedarPolicies() {
  const { api, can } = useSession();
  const queryClient = useQueryClient();
  const policies = useQuery({ queryKey: ['authz-policies'], queryFn: () => api.get<{ items: CedarPolicy[] }>('/api/v1/authz/policies') });
  const highRisk = useHighRisk();
  const [draft, setDraft] = useState({ id: '', description: '', cedar: '' });
  const [justification, setJustification] = useState('');
  const [removing, setRemoving] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const afterChange = async (message: string) => {
    setDone(message);
    setJustification('');
    await queryClient.invalidateQueries({ queryKey: ['authz-policies'] });
    await queryClient.invalidateQueries({ queryKey: ['matrix'] });
  };
  const put = useMutation({
    mutationFn: () =>
      highRisk.run<{ status?: string }>({
        method: 'PUT',
        path: `/api/v1/authz/policies/${encodeURIComponent(draft.id)}`,
        body: { cedar: draft.cedar, ...(draft.description.trim() ? { description: draft.description.trim() } : {}), justification },
        label: `Cedar policy ${draft.id}`,
        resource: 'authz_policy',
        action: 'create',
      }),
    onSuccess: async (result) => {
      const id = draft.id;
      setDraft({ id: '', description: '', cedar: '' });
      // An owner-only grant is not applied yet: it waits for a second admin (docs/authorization.md).
      await afterChange(result?.status === 'pending' ? `Policy ${id} grants an owner-only permission: it applies once a second admin approves it.` : `Saved policy ${id}.`);
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => highRisk.run({ method: 'DELETE', path: `/api/v1/authz/policies/${encodeURIComponent(id)}`, body: { justification }, label: `Remove Cedar policy ${id}`, resource: 'authz_policy', action: 'delete' }),
    onSuccess: async (_result, id) => {
      setRemoving(null);
      await afterChange(`Removed policy ${id}.`);
    },
  });
  const problemOf = (error: unknown) => (error instanceof ApiError && !isStepUpRequired(error) ? error : undefined);
  const putProblem = problemOf(put.error);
  const removeProblem = problemOf(remove.error);
  // Cedar's message comes back at the policy's place in the tenant's policy set.
  const cedarMessage = putProblem?.issues.find((issue) => issue.pointer.startsWith('/customPolicies') || issue.pointer === '/cedar')?.message;
  const idInvalid = draft.id !== '' && !POLICY_ID.test(draft.id);

  if (policies.isPending) return <Spinner />;
  if (policies.error) return <ErrorText error={policies.error} />;
  const items = policies.data.items;

  return (
    <Card className="mt-6">
      <h2 className="mb-1 text-base font-semibold">Cedar policies of this organisation</h2>
      <p className="mb-3 text-sm text-slate-600 dark:text-slate-400">Written in Cedar, on top of the matrix: a forbid here wins over any grant above.</p>
      {done ? (
        <div className="mb-3">
          <Alert tone="good">{done}</Alert>
        </div>
      ) : null}
      {items.length ? (
        <ul className="space-y-3" data-testid="cedar-policies">
          {items.map((policy) => (
            <li key={policy.id} className="rounded-md border border-slate-200 p-3 dark:border-slate-700" data-policy={policy.id}>
              <div className="flex flex-wrap items-center gap-2">
                <span className="font-mono text-sm font-semibold">{policy.id}</span>
                {policy.description ? <span className="text-sm text-slate-600 dark:text-slate-400">{policy.description}</span> : null}
                {can('authz_policy', 'delete') ? (
                  <Button variant="ghost" className="ml-auto" onClick={() => {
                      setRemoving(removing === policy.id ? null : policy.id);
                      setDone(null);
                    }} data-testid="remove-policy">
                    Remove
                  </Button>
                ) : null}
              </div>
              <pre className="mt-2 overflow-x-auto rounded bg-slate-50 p-2 font-mono text-xs whitespace-pre-wrap dark:bg-slate-800">{policy.cedar}</pre>
              {removing === policy.id ? (
                <form
                  className="mt-3 space-y-2"
                  noValidate
                  onSubmit={(event: FormEvent) => {
                    event.preventDefault();
                    remove.mutate(policy.id);
                  }}
                >
                  <JustificationField value={justification} onChange={setJustification} error={removeProblem?.fieldMessage('/justification')} />
                  <Button type="submit" variant="danger" disabled={remove.isPending} data-testid="confirm-remove-policy">
                    Remove {policy.id}
                  </Button>
                  {removeProblem && !removeProblem.fieldMessage('/justification') ? <ErrorText error={removeProblem} /> : null}
                </form>
              ) : null}
            </li>
          ))}
        </ul>
      ) : (
        <p className="text-sm text-slate-600 dark:text-slate-400" data-testid="no-cedar-policies">
          None: the matrix and the attribute rules decide alone.
        </p>
      )}
      {can('authz_policy', 'create') ? (
        <form
          className="mt-4 space-y-3 border-t border-slate-200 pt-4 dark:border-slate-800"
          noValidate
          data-testid="policy-form"
          onSubmit={(event: FormEvent) => {
            event.preventDefault();
            setDone(null);
            put.mutate();
          }}
        >
          <h3 className="text-sm font-semibold">Add or replace a policy</h3>
          <Field label="Name" required hint="Lowercase letters, digits and . _ : -; an existing name is replaced." error={idInvalid ? 'lowercase letters, digits and . _ : -, starting with a letter' : putProblem?.fieldMessage('/id')}>
            {({ id, describedBy, invalid }) => <TextInput id={id} name="policy-id" value={draft.id} onChange={(e) => setDraft({ ...draft, id: e.target.value })} aria-describedby={describedBy} aria-invalid={invalid} aria-required />}
          </Field>
          <Field label="Description" error={putProblem?.fieldMessage('/description')}>
            {({ id, describedBy, invalid }) => <TextInput id={id} name="policy-description" value={draft.description} onChange={(e) => setDraft({ ...draft, description: e.target.value })} aria-describedby={describedBy} aria-invalid={invalid} />}
          </Field>
          <Field label="Cedar" required hint='For example: forbid (principal in Role::"sales", action, resource is crm__deal) when { resource has region && resource.region == "apac" };' error={cedarMessage}>
            {({ id, describedBy, invalid }) => <TextArea id={id} name="policy-cedar" className="font-mono" value={draft.cedar} onChange={(e) => setDraft({ ...draft, cedar: e.target.value })} aria-describedby={describedBy} aria-invalid={invalid} aria-required spellCheck={false} />}
          </Field>
          <JustificationField value={justification} onChange={setJustification} error={putProblem?.fieldMessage('/justification')} />
          <Button type="submit" variant="primary" disabled={put.isPending || !draft.cedar.trim() || !POLICY_ID.test(draft.id)} data-testid="save-policy">
            {put.isPending ? 'Saving…' : 'Save policy'}
          </Button>
          {putProblem && !cedarMessage && !putProblem.fieldMessage('/justification') ? <ErrorText error={putProblem} /> : null}
        </form>
      ) : null}
      {highRisk.dialog}
    </Card>
  );
}
