import { useQuery } from '@tanstack/react-query';
import { Link, useParams, useSearch } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { query } from '../api/client.js';
import type { AuditEvent, AuditPage, ChainStatus } from '../api/types.js';
import { useSession } from '../app/session.js';
import { Alert, Badge, Button, Card, ErrorText, Field, PageHeader, Spinner, TextInput } from '../ui/controls.js';

type Filters = { action: string; actor: string; target_type: string; target_id: string; from: string; to: string };
const EMPTY: Filters = { action: '', actor: '', target_type: '', target_id: '', from: '', to: '' };
const LABELS: Record<keyof Filters, { label: string; hint?: string; type?: string }> = {
  action: { label: 'Action', hint: 'Exact, or a prefix ending in * (app.record.*)' },
  actor: { label: 'Actor id' },
  target_type: { label: 'Target type' },
  target_id: { label: 'Target id' },
  from: { label: 'From', type: 'datetime-local' },
  to: { label: 'To', type: 'datetime-local' },
};

/** The chain verification status (MO-1): every event hashed into its predecessor, checkpoints signed. */
function ChainBadge() {
  const { api, can } = useSession();
  const verify = useQuery({ queryKey: ['audit', 'verify'], queryFn: () => api.get<ChainStatus>('/api/v1/audit/verify'), enabled: can('audit_event', 'verify') });
  if (!can('audit_event', 'verify')) return null;
  if (verify.isPending) return <Spinner label="Verifying the chain…" />;
  if (verify.error) return <ErrorText error={verify.error} />;
  const status = verify.data;
  return status.problem ? (
    <Alert title="The audit chain does not verify">
      <p data-testid="chain-status">Problem: {typeof status.problem === 'string' ? status.problem : JSON.stringify(status.problem)}</p>
    </Alert>
  ) : (
    <Alert tone="good" title="Chain verified">
      <p data-testid="chain-status">
        {status.events} events hash-chained, {status.checkpoints} signed checkpoint{status.checkpoints === 1 ? '' : 's'}
        {status.lastCheckpointSeq ? ` (last at #${status.lastCheckpointSeq})` : ''}.
      </p>
    </Alert>
  );
}

export function AuditLog() {
  const { api } = useSession();
  const search = useSearch({ strict: false }) as Partial<Filters>;
  const initial = { ...EMPTY, ...Object.fromEntries(Object.entries(search).filter(([k, v]) => k in EMPTY && typeof v === 'string')) } as Filters;
  const [draft, setDraft] = useState<Filters>(initial);
  const [filters, setFilters] = useState<Filters>(initial);
  const [cursors, setCursors] = useState<string[]>([]);
  const params = {
    ...filters,
    from: filters.from ? new Date(filters.from).toISOString() : '',
    to: filters.to ? new Date(filters.to).toISOString() : '',
    limit: 50,
    before: cursors.at(-1),
  };
  const events = useQuery({ queryKey: ['audit', 'events', params], queryFn: () => api.get<AuditPage>(`/api/v1/audit/events${query(params)}`) });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setFilters(draft);
    setCursors([]);
  };

  return (
    <div className="space-y-6">
      <PageHeader title="Audit log" description="Every change, who made it, from where, and why. Append-only and hash-chained." />
      <ChainBadge />
      <Card>
        <form onSubmit={submit} className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3" aria-label="Search the audit log">
          {(Object.keys(EMPTY) as Array<keyof Filters>).map((name) => (
            <Field key={name} label={LABELS[name].label} hint={LABELS[name].hint}>
              {({ id, describedBy }) => <TextInput id={id} name={name} type={LABELS[name].type ?? 'text'} value={draft[name]} onChange={(e) => setDraft({ ...draft, [name]: e.target.value })} aria-describedby={describedBy} />}
            </Field>
          ))}
          <div className="flex items-end gap-2">
            <Button type="submit" variant="primary">
              Search
            </Button>
            <Button
              variant="ghost"
              onClick={() => {
                setDraft(EMPTY);
                setFilters(EMPTY);
                setCursors([]);
              }}
            >
              Clear
            </Button>
          </div>
        </form>
      </Card>
      <ErrorText error={events.error} />
      <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
        <table className="min-w-full divide-y divide-slate-200 text-sm dark:divide-slate-800" data-testid="audit-table">
          <caption className="sr-only">Audit events, newest first</caption>
          <thead className="bg-slate-50 text-left dark:bg-slate-800/60">
            <tr>
              {['Time', 'Actor', 'Action', 'Target', 'Justification'].map((h) => (
                <th key={h} scope="col" className="px-4 py-2 font-semibold">
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
            {events.data?.items.map((e) => (
              <tr key={e.id} className="hover:bg-slate-50 dark:hover:bg-slate-800/40">
                <td className="px-4 py-2 whitespace-nowrap">
                  <Link to="/audit/$id" params={{ id: e.id }} className="text-indigo-700 hover:underline dark:text-indigo-300">
                    {new Date(e.occurred_at).toLocaleString()}
                  </Link>
                </td>
                <td className="px-4 py-2">
                  <Badge>{e.actor_type}</Badge> <span className="font-mono text-xs">{e.actor_id}</span>
                </td>
                <td className="px-4 py-2 font-mono text-xs">{e.action}</td>
                <td className="px-4 py-2 font-mono text-xs">
                  {e.target_type}
                  {e.target_id ? ` ${e.target_id}` : ''}
                </td>
                <td className="max-w-xs truncate px-4 py-2">{e.justification}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {events.isPending ? (
          <div className="p-4">
            <Spinner />
          </div>
        ) : null}
        {events.data?.items.length === 0 ? <p className="p-6 text-center text-sm text-slate-600 dark:text-slate-400">No events match.</p> : null}
      </div>
      <div className="flex justify-end gap-2">
        <Button disabled={!cursors.length} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </Button>
        <Button disabled={!events.data?.next_cursor} onClick={() => events.data?.next_cursor && setCursors([...cursors, events.data.next_cursor])}>
          Older
        </Button>
      </div>
    </div>
  );
}

const show = (value: unknown) => (value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value));

export function AuditEventPage() {
  const { id } = useParams({ strict: false }) as { id: string };
  const { api } = useSession();
  const event = useQuery({ queryKey: ['audit', 'event', id], queryFn: () => api.get<AuditEvent>(`/api/v1/audit/events/${encodeURIComponent(id)}`) });
  if (event.isPending) return <Spinner />;
  if (event.error) return <ErrorText error={event.error} />;
  const e = event.data;
  const facts: Array<[string, string | null]> = [
    ['When', new Date(e.occurred_at).toLocaleString()],
    ['Actor', `${e.actor_type} ${e.actor_id ?? ''}${e.on_behalf_of ? ` on behalf of ${e.on_behalf_of}` : ''}`],
    ['Target', `${e.target_type ?? ''} ${e.target_id ?? ''}`],
    ['Justification', e.justification],
    ['IP address', e.ip],
    ['Device', e.user_agent],
    ['Request', e.request_id],
    ['Sequence', `#${e.seq}`],
    ['Hash', e.hash],
    ['Previous hash', e.prev_hash],
  ];
  const diff = Object.entries(e.diff ?? {});
  return (
    <div className="space-y-6">
      <PageHeader title={e.action} description="Audit event" actions={<Link to="/audit" className="rounded-md border border-slate-300 px-3 py-2 text-sm dark:border-slate-600">Back to the log</Link>} />
      <Card>
        <dl className="grid gap-3 sm:grid-cols-[10rem_1fr]">
          {facts.map(([label, value]) => (
            <div key={label} className="contents">
              <dt className="text-sm font-medium text-slate-600 dark:text-slate-400">{label}</dt>
              <dd className="font-mono text-sm break-all">{value || '—'}</dd>
            </div>
          ))}
        </dl>
      </Card>
      <Card>
        <h2 className="mb-3 text-base font-semibold">Changes</h2>
        {diff.length ? (
          <table className="min-w-full text-sm" data-testid="audit-diff">
            <thead className="text-left">
              <tr>
                <th scope="col" className="py-1 pr-4">
                  Field
                </th>
                <th scope="col" className="py-1 pr-4">
                  Before
                </th>
                <th scope="col" className="py-1">
                  After
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
              {diff.map(([field, change]) => (
                <tr key={field}>
                  <th scope="row" className="py-1 pr-4 text-left font-mono font-medium">
                    {field}
                  </th>
                  <td className="py-1 pr-4 font-mono break-all text-red-800 dark:text-red-300">{'before' in (change ?? {}) ? <del>{show(change.before)}</del> : ''}</td>
                  <td className="py-1 font-mono break-all text-emerald-800 dark:text-emerald-300">{'after' in (change ?? {}) ? <ins className="no-underline">{show(change.after)}</ins> : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="text-sm text-slate-600 dark:text-slate-400">No field changes recorded.</p>
        )}
      </Card>
    </div>
  );
}
