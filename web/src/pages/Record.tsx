import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { ApiError, isForbidden, query } from '../api/client.js';
import type { RecordPage, RecordRow, UiField, UiResource } from '../api/types.js';
import { displayValue, findResource, isMasked } from '../app/records.js';
import { appResource, useSession } from '../app/session.js';
import { NotFound } from '../app/Shell.js';
import { Alert, Button, Card, ErrorText, Field, Masked, PageHeader, Select, Spinner, TextArea, TextInput } from '../ui/controls.js';
import { Dialog } from '../ui/dialog.js';

type Params = { app: string; resource: string; id?: string };
const recordPath = (p: Params) => `/api/v1/apps/${p.app}/${p.resource}${p.id ? `/${encodeURIComponent(p.id)}` : ''}`;

function useRecord(p: Params) {
  const { api } = useSession();
  return useQuery({ queryKey: ['record', p.app, p.resource, p.id], queryFn: () => api.get<RecordRow>(recordPath(p)), enabled: Boolean(p.id) });
}

/** One record: every field of the spec, masked ones shown as masked (DA-1), edit and delete as allowed. */
export function RecordDetail() {
  const p = useParams({ strict: false }) as Params;
  const { apps, api, can, markDenied } = useSession();
  const found = findResource(apps, p.app, p.resource);
  const record = useRecord(p);
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const type = appResource(p.app, p.resource);
  const remove = useMutation({
    mutationFn: () => api.delete(recordPath(p)),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['records', p.app, p.resource] });
      void navigate({ to: '/apps/$app/$resource', params: { app: p.app, resource: p.resource } });
    },
    onError: (error) => isForbidden(error) && markDenied(type, 'delete'),
  });
  if (!found) return <NotFound />;
  const { resource } = found;
  if (record.isPending) return <Spinner />;
  if (record.error) return <ErrorText error={record.error} />;
  const row = record.data;
  const title = isMasked(row, resource.list.columns[0] ?? '') ? resource.label : displayValue(resource.fields.find((f) => f.name === resource.list.columns[0]), row[resource.list.columns[0] ?? '']);

  return (
    <div>
      <PageHeader
        title={title}
        description={resource.label}
        actions={
          <>
            {can('audit_event', 'list') ? (
              <Link to="/audit" search={{ target_id: row.id }} className="rounded-md border border-slate-300 px-3 py-2 text-sm dark:border-slate-600">
                History
              </Link>
            ) : null}
            {can(type, 'update') ? (
              <Link to="/apps/$app/$resource/$id/edit" params={{ app: p.app, resource: p.resource, id: row.id }} className="rounded-md bg-indigo-600 px-3 py-2 text-sm font-medium text-white hover:bg-indigo-700" data-testid="edit-record">
                Edit
              </Link>
            ) : null}
            {can(type, 'delete') ? (
              <Button variant="danger" onClick={() => setConfirming(true)} data-testid="delete-record">
                Delete
              </Button>
            ) : null}
          </>
        }
      />
      <ErrorText error={remove.error} />
      {resource.form.sections.map((section) => (
        <Card key={section.title} className="mb-4">
          <h2 className="mb-3 text-base font-semibold">{section.title}</h2>
          <dl className="grid gap-4 sm:grid-cols-2">
            {section.fields.map((name) => {
              const field = resource.fields.find((f) => f.name === name);
              return (
                <div key={name}>
                  <dt className="text-xs font-medium text-slate-600 uppercase dark:text-slate-400">{field?.label ?? name}</dt>
                  <dd className="mt-1 text-sm break-words" data-field={name}>
                    {isMasked(row, name) ? <Masked /> : displayValue(field, row[name])}
                  </dd>
                </div>
              );
            })}
          </dl>
        </Card>
      ))}
      <p className="text-xs text-slate-600 dark:text-slate-400">
        Created {row.created_at ? new Date(row.created_at).toLocaleString() : '—'} · updated {row.updated_at ? new Date(row.updated_at).toLocaleString() : '—'} · id <code>{row.id}</code>
      </p>
      <Dialog
        open={confirming}
        onClose={() => setConfirming(false)}
        title={`Delete this ${resource.label.toLowerCase()}?`}
        footer={
          <>
            <Button onClick={() => setConfirming(false)}>Cancel</Button>
            <Button variant="danger" disabled={remove.isPending} onClick={() => remove.mutate(undefined, { onSettled: () => setConfirming(false) })}>
              Delete
            </Button>
          </>
        }
      >
        <p className="text-sm">The record is removed for everyone in this organisation. The audit log keeps what it held.</p>
      </Dialog>
    </div>
  );
}

export function RecordNew() {
  const p = useParams({ strict: false }) as Params;
  const found = findResource(useSession().apps, p.app, p.resource);
  if (!found) return <NotFound />;
  return <RecordForm params={p} resource={found.resource} />;
}

export function RecordEdit() {
  const p = useParams({ strict: false }) as Params;
  const found = findResource(useSession().apps, p.app, p.resource);
  const record = useRecord(p);
  if (!found) return <NotFound />;
  if (record.isPending) return <Spinner />;
  if (record.error) return <ErrorText error={record.error} />;
  return <RecordForm params={p} resource={found.resource} existing={record.data} />;
}

const toInput = (field: UiField, value: unknown): string => {
  if (value === null || value === undefined) return '';
  if (field.type === 'datetime' && typeof value === 'string') return new Date(value).toISOString().slice(0, 16);
  if (field.type === 'json') return JSON.stringify(value, null, 2);
  return String(value);
};

/** Form text to the API's JSON: numbers travel as strings (exact), empty means absent (or null on edit). */
function fromInput(field: UiField, text: string): unknown {
  if (field.type === 'boolean') return text === 'true';
  if (text === '') return null;
  if (field.type === 'datetime') return new Date(text).toISOString();
  if (field.type === 'json') {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

function RecordForm({ params, resource, existing }: { params: Params; resource: UiResource; existing?: RecordRow }) {
  const { api, markDenied } = useSession();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const type = appResource(params.app, params.resource);
  const editable = resource.fields.filter((f) => !(existing && isMasked(existing, f.name)));
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(resource.fields.map((f) => [f.name, existing ? toInput(f, existing[f.name]) : f.type === 'boolean' ? 'false' : ''])));
  const save = useMutation({
    mutationFn: async () => {
      const body: Record<string, unknown> = {};
      for (const field of editable) {
        const value = fromInput(field, values[field.name] ?? '');
        if (existing) {
          if ((values[field.name] ?? '') !== toInput(field, existing[field.name])) body[field.name] = value;
        } else if (value !== null) body[field.name] = value;
      }
      return existing ? api.patch<RecordRow>(recordPath({ ...params, id: existing.id }), body) : api.post<RecordRow>(recordPath({ app: params.app, resource: params.resource }), body);
    },
    onSuccess: async (row) => {
      await queryClient.invalidateQueries({ queryKey: ['records', params.app, params.resource] });
      await queryClient.invalidateQueries({ queryKey: ['record', params.app, params.resource, row.id] });
      void navigate({ to: '/apps/$app/$resource/$id', params: { app: params.app, resource: params.resource, id: row.id } });
    },
    onError: (error) => isForbidden(error) && markDenied(type, existing ? 'update' : 'create'),
  });
  const problem = save.error instanceof ApiError ? save.error : undefined;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const title = existing ? `Edit ${resource.label.toLowerCase()}` : `New ${resource.label.toLowerCase().replace(/s$/, '')}`;

  return (
    <div className="max-w-3xl">
      <PageHeader title={title} description={resource.label} />
      {save.error ? (
        <div className="mb-4">
          <Alert title={problem?.issues.length ? 'Please correct the fields below' : 'Not saved'}>{save.error.message}</Alert>
        </div>
      ) : null}
      <form onSubmit={submit} noValidate data-testid="record-form">
        {resource.form.sections.map((section) => (
          <Card key={section.title} className="mb-4">
            <fieldset>
              <legend className="mb-3 text-base font-semibold">{section.title}</legend>
              <div className="grid gap-4 sm:grid-cols-2">
                {section.fields.map((name) => {
                  const field = resource.fields.find((f) => f.name === name);
                  if (!field) return null;
                  const masked = Boolean(existing && isMasked(existing, name));
                  return (
                    <div key={name} className={field.type === 'long_text' || field.type === 'json' ? 'sm:col-span-2' : ''}>
                      <FieldInput field={field} params={params} value={values[name] ?? ''} masked={masked} error={problem?.fieldMessage(`/${name}`)} onChange={(v) => setValues({ ...values, [name]: v })} />
                    </div>
                  );
                })}
              </div>
            </fieldset>
          </Card>
        ))}
        <div className="flex gap-2">
          <Button type="submit" variant="primary" disabled={save.isPending}>
            {save.isPending ? 'Saving…' : existing ? 'Save changes' : 'Create'}
          </Button>
          <Button onClick={() => window.history.back()}>Cancel</Button>
        </div>
      </form>
    </div>
  );
}

function FieldInput({ field, params, value, masked, error, onChange }: { field: UiField; params: Params; value: string; masked: boolean; error: string | undefined; onChange: (value: string) => void }) {
  const hint = field.type === 'money' ? 'In minor units (cents).' : field.maskedUnless ? `Classified ${field.class}: shown only to roles that may read it.` : undefined;
  return (
    <Field label={field.label} required={field.required} error={error} hint={hint}>
      {({ id, describedBy, invalid }) => {
        const common = { id, name: field.name, 'aria-describedby': describedBy, 'aria-invalid': invalid, 'aria-required': field.required };
        if (masked) return <p id={id} className="py-2"><Masked /> <span className="text-xs text-slate-600 dark:text-slate-400">(you cannot see or change this value)</span></p>;
        if (field.type === 'boolean') return <input type="checkbox" {...common} className="size-4" checked={value === 'true'} onChange={(e) => onChange(e.target.checked ? 'true' : 'false')} />;
        if (field.values)
          return (
            <Select {...common} value={value} onChange={(e) => onChange(e.target.value)}>
              <option value="">—</option>
              {field.values.map((v) => (
                <option key={v} value={v}>
                  {v}
                </option>
              ))}
            </Select>
          );
        if (field.type === 'reference' && field.to) return <ReferenceSelect common={common} app={params.app} target={field.to} value={value} onChange={onChange} />;
        if (field.type === 'long_text' || field.type === 'json') return <TextArea {...common} value={value} onChange={(e) => onChange(e.target.value)} />;
        const inputType = { email: 'email', url: 'url', phone: 'tel', date: 'date', datetime: 'datetime-local', integer: 'text', money: 'text', decimal: 'text' }[field.type] ?? 'text';
        const inputMode = field.type === 'integer' || field.type === 'money' ? 'numeric' : field.type === 'decimal' ? 'decimal' : undefined;
        return <TextInput {...common} type={inputType} inputMode={inputMode} value={value} onChange={(e) => onChange(e.target.value)} />;
      }}
    </Field>
  );
}

/** A reference as a choice among the records the user may list, else the raw id. */
function ReferenceSelect({ common, app, target, value, onChange }: { common: Record<string, unknown>; app: string; target: string; value: string; onChange: (value: string) => void }) {
  const { api, apps, can } = useSession();
  const targetUi = findResource(apps, app, target)?.resource;
  const allowed = Boolean(targetUi) && can(appResource(app, target), 'list');
  const options = useQuery({ queryKey: ['records', app, target, 'options'], queryFn: () => api.get<RecordPage>(`/api/v1/apps/${app}/${target}${query({ limit: 200 })}`), enabled: allowed });
  if (!allowed || options.error) return <TextInput {...common} value={value} onChange={(e) => onChange(e.target.value)} placeholder="record id" />;
  const labelField = targetUi!.list.columns[0] ?? 'id';
  return (
    <Select {...common} value={value} onChange={(e) => onChange(e.target.value)}>
      <option value="">—</option>
      {options.data?.items.map((row) => (
        <option key={row.id} value={row.id}>
          {isMasked(row, labelField) ? row.id : String(row[labelField] ?? row.id)}
        </option>
      ))}
    </Select>
  );
}
