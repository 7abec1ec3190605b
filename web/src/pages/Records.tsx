import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { query } from '../api/client.js';
import type { RecordPage, RecordRow, UiField } from '../api/types.js';
import { displayValue, findResource, isMasked, TEXT_FILTER_TYPES } from '../app/records.js';
import { appResource, useSession } from '../app/session.js';
import { NotFound } from '../app/Shell.js';
import { Badge, Button, ErrorText, Field, Masked, PageHeader, Select, Spinner, TextInput } from '../ui/controls.js';

const PAGE_SIZE = 25;

/** The generated list screen of one app resource: columns, filters and default sort from the spec's view. */
export function RecordList() {
  const { app, resource } = useParams({ strict: false }) as { app: string; resource: string };
  const found = findResource(useSession().apps, app, resource);
  if (!found) return <NotFound />;
  return <List key={`${app}/${resource}`} app={app} resourceName={resource} />;
}

function List({ app, resourceName }: { app: string; resourceName: string }) {
  const { api, apps, can } = useSession();
  const { resource } = findResource(apps, app, resourceName)!;
  const type = appResource(app, resourceName);
  const fieldOf = (name: string) => resource.fields.find((f) => f.name === name);
  const [sort, setSort] = useState<string>(resource.list.sort ?? '-created_at');
  const [draft, setDraft] = useState<Record<string, string>>({});
  const [filters, setFilters] = useState<Record<string, string>>({});
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);

  const params: Record<string, string> = { sort, limit: String(PAGE_SIZE), ...(cursor ? { cursor } : {}) };
  for (const [name, value] of Object.entries(filters)) {
    if (!value) continue;
    params[TEXT_FILTER_TYPES.has(fieldOf(name)?.type ?? '') ? `${name}[contains]` : name] = value;
  }
  const list = useQuery({ queryKey: ['records', app, resourceName, params], queryFn: () => api.get<RecordPage>(`/api/v1/apps/${app}/${resourceName}${query(params)}`) });

  const applyFilters = (event: FormEvent) => {
    event.preventDefault();
    setFilters(draft);
    setCursors([]);
  };
  const toggleSort = (name: string) => {
    setSort((current) => (current === name ? `-${name}` : name));
    setCursors([]);
  };
  // The server sorts on required plaintext fields and timestamps; masked or encrypted ones would leak through order.
  const sortable = (field: UiField | undefined) => Boolean(field && field.required && !field.maskedUnless && field.type !== 'json');
  const columns = resource.list.columns.map((name) => ({ name, field: fieldOf(name) }));

  return (
    <div>
      <PageHeader
        title={resource.label}
        description={`${apps.find((a) => a.app === app)?.title ?? app} · ${resource.fields.length} fields`}
        actions={
          can(type, 'create') ? (
            <Link to="/apps/$app/$resource/new" params={{ app, resource: resourceName }} className="rounded-md bg-indigo-600 px-3 py-2 text-sm font-medium text-white hover:bg-indigo-700" data-testid="new-record">
              New {resource.label.toLowerCase().replace(/s$/, '')}
            </Link>
          ) : null
        }
      />
      {resource.list.filters.length ? (
        <form onSubmit={applyFilters} className="mb-4 flex flex-wrap items-end gap-3" aria-label="Filters">
          {resource.list.filters.map((name) => {
            const field = fieldOf(name);
            return (
              <div key={name} className="w-48">
                <Field label={field?.label ?? name}>
                  {({ id }) =>
                    field?.values ? (
                      <Select id={id} value={draft[name] ?? ''} onChange={(e) => setDraft({ ...draft, [name]: e.target.value })}>
                        <option value="">Any</option>
                        {field.values.map((v) => (
                          <option key={v} value={v}>
                            {v}
                          </option>
                        ))}
                      </Select>
                    ) : (
                      <TextInput id={id} value={draft[name] ?? ''} onChange={(e) => setDraft({ ...draft, [name]: e.target.value })} placeholder={field?.type === 'reference' ? 'record id' : 'contains…'} />
                    )
                  }
                </Field>
              </div>
            );
          })}
          <Button type="submit">Apply filters</Button>
          {Object.values(filters).some(Boolean) ? (
            <Button
              variant="ghost"
              onClick={() => {
                setDraft({});
                setFilters({});
                setCursors([]);
              }}
            >
              Clear
            </Button>
          ) : null}
        </form>
      ) : null}
      <ErrorText error={list.error} />
      <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
        <table className="min-w-full divide-y divide-slate-200 text-sm dark:divide-slate-800" data-testid="records-table">
          <caption className="sr-only">{resource.label}, sorted by {sort.replace(/^-/, '')} {sort.startsWith('-') ? 'descending' : 'ascending'}</caption>
          <thead className="bg-slate-50 text-left dark:bg-slate-800/60">
            <tr>
              {columns.map(({ name, field }) => {
                const direction = sort === name ? 'ascending' : sort === `-${name}` ? 'descending' : 'none';
                return (
                  <th key={name} scope="col" aria-sort={direction} className="px-4 py-2 font-semibold text-slate-700 dark:text-slate-200">
                    {sortable(field) ? (
                      <button type="button" className="inline-flex items-center gap-1 hover:underline" onClick={() => toggleSort(name)}>
                        {field?.label ?? name}
                        <span aria-hidden="true">{direction === 'ascending' ? '▲' : direction === 'descending' ? '▼' : '↕'}</span>
                      </button>
                    ) : (
                      (field?.label ?? name)
                    )}
                  </th>
                );
              })}
              <th scope="col" aria-sort={sort === 'created_at' ? 'ascending' : sort === '-created_at' ? 'descending' : 'none'} className="px-4 py-2 font-semibold text-slate-700 dark:text-slate-200">
                <button type="button" className="inline-flex items-center gap-1 hover:underline" onClick={() => toggleSort('created_at')}>
                  Created <span aria-hidden="true">{sort === 'created_at' ? '▲' : sort === '-created_at' ? '▼' : '↕'}</span>
                </button>
              </th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
            {list.data?.items.map((row) => <Row key={row.id} app={app} resourceName={resourceName} row={row} columns={columns} />)}
          </tbody>
        </table>
        {list.isPending ? (
          <div className="p-4">
            <Spinner />
          </div>
        ) : null}
        {list.data && list.data.items.length === 0 ? <p className="p-6 text-center text-sm text-slate-600 dark:text-slate-400">No records{Object.values(filters).some(Boolean) ? ' match these filters' : ' yet'}.</p> : null}
      </div>
      <div className="mt-4 flex items-center justify-between">
        <p className="text-sm text-slate-600 dark:text-slate-400">Page {cursors.length + 1}</p>
        <div className="flex gap-2">
          <Button disabled={!cursors.length} onClick={() => setCursors(cursors.slice(0, -1))}>
            Previous
          </Button>
          <Button disabled={!list.data?.next_cursor} onClick={() => list.data?.next_cursor && setCursors([...cursors, list.data.next_cursor])}>
            Next
          </Button>
        </div>
      </div>
    </div>
  );
}

function Row({ app, resourceName, row, columns }: { app: string; resourceName: string; row: RecordRow; columns: Array<{ name: string; field: UiField | undefined }> }) {
  return (
    <tr className="hover:bg-slate-50 dark:hover:bg-slate-800/40">
      {columns.map(({ name, field }, index) => {
        const content = isMasked(row, name) ? <Masked /> : field?.type === 'enum' && row[name] ? <Badge>{String(row[name])}</Badge> : displayValue(field, row[name]);
        return (
          <td key={name} className="px-4 py-2 whitespace-nowrap">
            {index === 0 ? (
              <Link to="/apps/$app/$resource/$id" params={{ app, resource: resourceName, id: row.id }} className="font-medium text-indigo-700 hover:underline dark:text-indigo-300">
                {isMasked(row, name) ? <Masked /> : displayValue(field, row[name])}
              </Link>
            ) : (
              content
            )}
          </td>
        );
      })}
      <td className="px-4 py-2 whitespace-nowrap text-slate-600 dark:text-slate-400">{row.created_at ? new Date(row.created_at).toLocaleDateString() : ''}</td>
    </tr>
  );
}
