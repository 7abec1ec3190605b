import { useMutation, useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { query } from '../api/client.js';
import type { AuditPage, DriftReport, Grant } from '../api/types.js';
import { useSession } from '../app/session.js';
import { Alert, Badge, Button, Card, ErrorText, PageHeader } from '../ui/controls.js';

const key = (g: Grant) => `${g.role}/${g.resource}/${g.action}`;

/**
 * Permission drift (AZ-4): the effective matrix now against the last snapshot. Every grant that
 * appeared or vanished is either explained by a recorded, justified change (shown with its
 * justification from the audit log) or unexplained, which is what an intruder's grant looks like.
 */
export function Drift() {
  const { api, can } = useSession();
  const run = useMutation({ mutationFn: () => api.post<DriftReport>('/api/v1/authz/drift') });
  const report = run.data;
  const since = report?.previousSnapshotAt ?? undefined;
  const changes = useQuery({
    queryKey: ['audit', 'matrix-changes', since],
    queryFn: () => api.get<AuditPage>(`/api/v1/audit/events${query({ action: 'authz.*', limit: 200, ...(since ? { from: new Date(new Date(since).getTime() - 5 * 60_000).toISOString() } : {}) })}`),
    enabled: Boolean(report) && can('audit_event', 'list'),
  });
  const explanationOf = (g: Grant) => changes.data?.items.find((e) => e.target_id === `${g.role}/${g.resource}` && e.action === 'authz.matrix.updated');

  const Row = ({ grant, sign, unexplained }: { grant: Grant; sign: '+' | '−'; unexplained: boolean }) => {
    const event = unexplained ? undefined : explanationOf(grant);
    return (
      <li className="flex flex-wrap items-start gap-3 py-2" data-grant={key(grant)} data-explained={!unexplained}>
        <span className={`font-mono text-sm ${sign === '+' ? 'text-emerald-800 dark:text-emerald-300' : 'text-red-800 dark:text-red-300'}`}>
          {sign} {grant.role} · {grant.action} · {grant.resource}
        </span>
        {unexplained ? <Badge tone="bad">unexplained</Badge> : <Badge tone="good">explained by a recorded change</Badge>}
        {event ? (
          <span className="text-sm text-slate-700 dark:text-slate-300">
            “{event.justification}” — {event.actor_id ?? event.actor_type}, {new Date(event.occurred_at).toLocaleString()}{' '}
            <Link to="/audit/$id" params={{ id: event.id }} className="text-indigo-700 underline dark:text-indigo-300">
              audit event
            </Link>
          </span>
        ) : null}
      </li>
    );
  };

  return (
    <div className="space-y-6">
      <PageHeader
        title="Drift report"
        description="Compares the permissions in force with the last snapshot. Every difference must be explained by a recorded change."
        actions={
          can('drift', 'run') ? (
            <Button variant="primary" onClick={() => run.mutate()} disabled={run.isPending} data-testid="run-drift">
              {run.isPending ? 'Checking…' : 'Run drift check now'}
            </Button>
          ) : null
        }
      />
      <ErrorText error={run.error} />
      {report ? (
        <>
          {report.drifted ? (
            <Alert title="Unexplained permission changes">Some grants changed without a recorded change. An alert was raised (MO-2).</Alert>
          ) : (
            <Alert tone="good" title="No drift">
              Every difference since the last snapshot is explained by a recorded change.
            </Alert>
          )}
          <Card>
            <h2 className="mb-1 text-base font-semibold">Differences</h2>
            <p className="mb-3 text-sm text-slate-600 dark:text-slate-400">
              {report.previousSnapshotAt ? `Since the snapshot of ${new Date(report.previousSnapshotAt).toLocaleString()}.` : 'First snapshot: everything in force is listed as added.'}
            </p>
            {report.added.length + report.removed.length === 0 ? <p className="text-sm">No grants changed.</p> : null}
            <ul className="divide-y divide-slate-100 dark:divide-slate-800" data-testid="drift-diff">
              {report.added.map((g) => (
                <Row key={`+${key(g)}`} grant={g} sign="+" unexplained={report.unexplainedAdded.some((u) => key(u) === key(g))} />
              ))}
              {report.removed.map((g) => (
                <Row key={`-${key(g)}`} grant={g} sign="−" unexplained={report.unexplainedRemoved.some((u) => key(u) === key(g))} />
              ))}
            </ul>
            {report.policiesChanged.length || report.rulesChanged.length ? (
              <p className="mt-3 text-sm">
                Policies changed: {report.policiesChanged.join(', ') || 'none'} (unexplained: {report.unexplainedPolicies.join(', ') || 'none'}). Rules changed: {report.rulesChanged.join(', ') || 'none'} (unexplained:{' '}
                {report.unexplainedRules.join(', ') || 'none'}).
              </p>
            ) : null}
          </Card>
        </>
      ) : (
        <p className="text-sm text-slate-600 dark:text-slate-400">Run a check to compare the permissions in force with the last snapshot. The nightly job runs the same check.</p>
      )}
    </div>
  );
}
