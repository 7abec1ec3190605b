import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useState } from 'react';
import { ApiError, isStepUpRequired } from '../api/client.js';
import type { MatrixView } from '../api/types.js';
import { useHighRisk } from '../app/high-risk.js';
import { CedarPolicies } from './AccessPolicies.js';
import { useSession } from '../app/session.js';
import { Alert, Badge, Button, ErrorText, PageHeader, Select, Spinner } from '../ui/controls.js';
import { Dialog } from '../ui/dialog.js';
import { JustificationField } from '../ui/justify.js';

type Change = { role: string; added: string[]; removed: string[]; actions: string[] };

/**
 * The permission matrix as an editable grid, one resource at a time (AZ-1). Edits collect as a
 * pending change; saving needs a justification (AZ-5) and a recent passkey (ID-7), and each change
 * is recorded so the drift report can explain it (AZ-4).
 */
export function Access() {
  const { api, can } = useSession();
  const queryClient = useQueryClient();
  const matrix = useQuery({ queryKey: ['matrix'], queryFn: () => api.get<MatrixView>('/api/v1/authz/matrix') });
  const [resourceName, setResourceName] = useState<string>('');
  const [edits, setEdits] = useState<Record<string, string[]>>({});
  const [reviewing, setReviewing] = useState(false);
  const [justification, setJustification] = useState('');
  const [saved, setSaved] = useState<string | null>(null);
  const highRisk = useHighRisk();
  const canEdit = can('matrix', 'update');

  const data = matrix.data;
  const resources = data?.resources ?? [];
  const resource = resources.find((r) => r.name === resourceName) ?? resources[0];
  const granted = (role: string) => data?.matrix[role]?.[resource?.name ?? ''] ?? [];
  const current = (role: string) => edits[role] ?? granted(role);
  const changes: Change[] = (data?.roles ?? [])
    .filter((r) => edits[r.name])
    .map((r) => {
      const before = new Set(granted(r.name));
      const after = new Set(edits[r.name]);
      return { role: r.name, added: [...after].filter((a) => !before.has(a)), removed: [...before].filter((a) => !after.has(a)), actions: [...after] };
    })
    .filter((c) => c.added.length || c.removed.length);

  const toggle = (role: string, action: string) => {
    const set = new Set(current(role));
    if (set.has(action)) set.delete(action);
    else set.add(action);
    setEdits({ ...edits, [role]: [...set] });
    setSaved(null);
  };
  const save = useMutation({
    mutationFn: () =>
      highRisk.runAll<{ status?: string }>(
        changes.map((c) => ({ method: 'PUT', path: `/api/v1/authz/matrix/${encodeURIComponent(c.role)}/${encodeURIComponent(resource!.name)}`, body: { actions: c.actions, justification }, label: `${c.role} on ${resource!.name}`, resource: 'matrix', action: 'update' })),
        `Permission change on ${resource?.name}`,
      ),
    onSuccess: async (results) => {
      // An owner-only grant waits for a second admin (202 pending) instead of applying.
      const pending = results.filter((r) => r?.status === 'pending').length;
      const applied = changes.length - pending;
      setSaved(`Saved ${applied} change${applied === 1 ? '' : 's'} on ${resource?.name}.${pending ? ` ${pending} grant${pending === 1 ? '' : 's'} an owner-only permission and wait${pending === 1 ? 's' : ''} for a second admin's approval.` : ''}`);
      setEdits({});
      setReviewing(false);
      setJustification('');
      await queryClient.invalidateQueries({ queryKey: ['matrix'] });
    },
    onError: (error) => isStepUpRequired(error) && setReviewing(false),
  });
  const problem = save.error instanceof ApiError && !isStepUpRequired(save.error) ? save.error : undefined;

  if (matrix.isPending) return <Spinner />;
  if (matrix.error) return <ErrorText error={matrix.error} />;
  if (!resource) return <p>No resources.</p>;

  return (
    <div>
      <PageHeader
        title="Permissions"
        description="Which role may do what, per resource. Changes need a justification and a recent passkey."
        actions={
          can('drift', 'run') ? (
            <Link to="/access/drift" className="rounded-md border border-slate-300 px-3 py-2 text-sm dark:border-slate-600">
              Drift report
            </Link>
          ) : null
        }
      />
      {saved ? (
        <div className="mb-4">
          <Alert tone="good">{saved}</Alert>
        </div>
      ) : null}
      <div className="mb-4 flex flex-wrap items-end gap-3">
        <label className="block w-72 text-sm font-medium">
          Resource
          <Select
            className="mt-1"
            value={resource.name}
            onChange={(e) => {
              setResourceName(e.target.value);
              setEdits({});
            }}
            data-testid="matrix-resource"
          >
            {resources.map((r) => (
              <option key={r.name} value={r.name}>
                {r.name}
              </option>
            ))}
          </Select>
        </label>
        {resource.attributes.length ? <Badge tone="info">attribute rules: {resource.attributes.join(', ')}</Badge> : null}
        {!canEdit ? <Badge>read only</Badge> : null}
      </div>
      <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
        <table className="min-w-full text-sm" data-testid="matrix-grid">
          <caption className="sr-only">Permissions on {resource.name}: roles in rows, actions in columns</caption>
          <thead className="bg-slate-50 dark:bg-slate-800/60">
            <tr>
              <th scope="col" className="px-4 py-2 text-left font-semibold">
                Role
              </th>
              {resource.actions.map((action) => (
                <th key={action} scope="col" className="px-3 py-2 text-center font-semibold">
                  {action}
                </th>
              ))}
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
            {data!.roles.map((role) => (
              <tr key={role.name}>
                <th scope="row" className="px-4 py-2 text-left font-medium">
                  {role.name}
                </th>
                {resource.actions.map((action) => {
                  const on = current(role.name).includes(action);
                  const changed = on !== granted(role.name).includes(action);
                  return (
                    <td key={action} className={`px-3 py-2 text-center ${changed ? 'bg-amber-100 dark:bg-amber-900/50' : ''}`}>
                      <input
                        type="checkbox"
                        className="size-4 accent-indigo-600"
                        checked={on}
                        disabled={!canEdit}
                        aria-label={`${role.name} may ${action} ${resource.name}`}
                        data-cell={`${role.name}:${action}`}
                        onChange={() => toggle(role.name, action)}
                      />
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {canEdit ? (
        <div className="mt-4 flex items-center gap-3">
          <Button variant="primary" disabled={!changes.length} onClick={() => setReviewing(true)} data-testid="matrix-review">
            Review {changes.length ? `${changes.length} pending change${changes.length === 1 ? '' : 's'}` : 'changes'}
          </Button>
          {changes.length ? (
            <Button variant="ghost" onClick={() => setEdits({})}>
              Discard
            </Button>
          ) : null}
        </div>
      ) : null}
      <Dialog
        open={reviewing}
        onClose={() => setReviewing(false)}
        title={`Change permissions on ${resource.name}`}
        footer={
          <>
            <Button onClick={() => setReviewing(false)}>Cancel</Button>
            <Button variant="primary" type="submit" form="matrix-save" disabled={save.isPending} data-testid="matrix-save">
              {save.isPending ? 'Saving…' : 'Save changes'}
            </Button>
          </>
        }
      >
        <ul className="space-y-1 font-mono text-sm" aria-label="Pending changes">
          {changes.flatMap((c) => [
            ...c.added.map((a) => (
              <li key={`+${c.role}${a}`} className="text-emerald-800 dark:text-emerald-300">
                + {c.role} may {a}
              </li>
            )),
            ...c.removed.map((a) => (
              <li key={`-${c.role}${a}`} className="text-red-800 dark:text-red-300">
                − {c.role} may no longer {a}
              </li>
            )),
          ])}
        </ul>
        <form
          id="matrix-save"
          onSubmit={(event) => {
            event.preventDefault();
            save.mutate();
          }}
          noValidate
        >
          <JustificationField value={justification} onChange={setJustification} error={problem?.fieldMessage('/justification')} />
        </form>
        {problem && !problem.fieldMessage('/justification') ? <ErrorText error={problem} /> : null}
      </Dialog>
      {can('authz_policy', 'list') ? <CedarPolicies /> : null}
      {highRisk.dialog}
    </div>
  );
}
