import { Link, useParams } from '@tanstack/react-router';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState, type FormEvent } from 'react';
import { ApiError } from '../api/client.js';
import type { AppPlan, AppSpecDraft, FieldDraft, Finding, PlanPreview } from '../api/types.js';
import { useSession } from '../app/session.js';
import { Alert, Badge, Button, Card, ErrorText, Field, PageHeader, Select, Spinner, TextArea, TextInput } from '../ui/controls.js';
import { JustificationField } from '../ui/justify.js';

/**
 * The no-code spec editor (issue 7, Apps). It edits a copy of the installed spec (resources, fields
 * with their data class, the matrix; or the raw JSON) and asks the server for everything that
 * matters: the linter's findings and the migration steps come from `POST /api/v1/app-plans/preview`,
 * and the plan itself is created, approved and applied by the server's plan routes (DE-4), which
 * lint and diff again. The UI only offers what the server would allow next.
 */

const FIELD_TYPES = ['text', 'long_text', 'integer', 'decimal', 'money', 'date', 'datetime', 'boolean', 'enum', 'email', 'phone', 'url', 'reference', 'json'];
const DATA_CLASSES = ['public', 'internal', 'confidential', 'pii', 'phi', 'secret'];
const STANDARD_ACTIONS = ['list', 'read', 'create', 'update', 'delete', 'export'];
const GATED: Record<string, string> = { pii: 'read_pii', phi: 'read_phi', secret: 'read_secret' };
const BUILTIN_ROLES = ['owner', 'admin', 'finance', 'auditor', 'dpo', 'member', 'viewer'];

const clone = <T,>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

function actionsOf(resource: AppSpecDraft['resources'][number]): string[] {
  const gated = [...new Set(resource.fields.map((f) => (f.class ? GATED[f.class] : undefined)).filter((a): a is string => Boolean(a)))];
  return [...STANDARD_ACTIONS, ...(resource.actions ?? []).map((a) => (typeof a === 'string' ? a : a.name)), ...gated];
}

/** Findings under one JSON pointer prefix (a field row shows the findings about that field). */
const findingsAt = (findings: Finding[], prefix: string) => findings.filter((f) => f.pointer === prefix || f.pointer.startsWith(`${prefix}/`));

/** The installed apps, each opening its spec editor. */
export function AppList() {
  const { apps, can } = useSession();
  return (
    <div className="space-y-6">
      <PageHeader title="App builder" description="Change an installed app's resources, fields and permissions. The server lints every change and shows the migration before it runs." />
      <Card>
        {apps.length ? (
          <ul className="divide-y divide-slate-100 dark:divide-slate-800" data-testid="builder-apps">
            {apps.map((a) => (
              <li key={a.app} className="flex flex-wrap items-center justify-between gap-2 py-2 text-sm">
                <span>
                  <span className="font-medium">{a.title}</span> <span className="text-slate-600 dark:text-slate-400">version {a.version}</span>
                </span>
                {can('app_spec', 'read') ? (
                  <Link to="/builder/$app" params={{ app: a.app }} className="font-medium text-indigo-700 underline dark:text-indigo-300" data-testid={`edit-app-${a.app}`}>
                    {can('app_spec', 'plan') ? 'Edit spec' : 'View spec'}
                  </Link>
                ) : null}
              </li>
            ))}
          </ul>
        ) : (
          <p className="text-sm text-slate-600 dark:text-slate-400">No apps are installed.</p>
        )}
      </Card>
    </div>
  );
}

export function AppEditor() {
  const { app } = useParams({ strict: false }) as { app: string };
  const { api, can } = useSession();
  // Outlives the editor: an applied plan installs a new version, which remounts the editor on it.
  const [applied, setApplied] = useState<AppPlan | null>(null);
  const installed = useQuery({ queryKey: ['app-spec', app], queryFn: () => api.get<{ app: string; version: number; spec: AppSpecDraft }>(`/api/v1/apps/${encodeURIComponent(app)}`) });
  if (installed.isPending) return <Spinner />;
  if (installed.error) return <ErrorText error={installed.error} />;
  const canPlan = can('app_spec', 'plan');
  return <Editor key={`${installed.data.app}@${installed.data.version}`} installedVersion={installed.data.version} spec={installed.data.spec} canPlan={canPlan} applied={applied} setApplied={setApplied} />;
}

type EditorProps = { spec: AppSpecDraft; installedVersion: number; canPlan: boolean; applied: AppPlan | null; setApplied: (plan: AppPlan | null) => void };

function Editor({ spec, installedVersion, canPlan, applied, setApplied }: EditorProps) {
  const { api, can, reloadApps, identity } = useSession();
  const queryClient = useQueryClient();
  const [draft, setDraftState] = useState<AppSpecDraft>(() => ({ ...clone(spec), version: installedVersion + 1 }));
  const [view, setView] = useState<'form' | 'json'>('form');
  const [jsonText, setJsonText] = useState('');
  const [jsonError, setJsonError] = useState<string | null>(null);
  const [selected, setSelected] = useState(0);
  const [preview, setPreview] = useState<{ for: string; result: PlanPreview } | null>(null);
  const [justification, setJustification] = useState('');
  const [confirmDestructive, setConfirmDestructive] = useState(false);
  const draftKey = useMemo(() => JSON.stringify(draft), [draft]);
  const current = preview && preview.for === draftKey ? preview.result : null;

  const setDraft = (update: (d: AppSpecDraft) => void) =>
    setDraftState((previous) => {
      const next = clone(previous);
      update(next);
      return next;
    });

  const check = useMutation({
    mutationFn: () => api.post<PlanPreview>('/api/v1/app-plans/preview', { spec: draft, justification }),
    onSuccess: (result) => setPreview({ for: draftKey, result }),
  });
  const plans = useQuery({ queryKey: ['app-plans', spec.app], queryFn: () => api.get<{ items: AppPlan[] }>(`/api/v1/app-plans?app=${encodeURIComponent(spec.app)}&limit=10`), enabled: can('app_spec', 'list') });
  const afterPlan = async (plan: AppPlan) => {
    setApplied(plan);
    if (plan.status === 'applied') {
      await reloadApps();
      await queryClient.invalidateQueries();
    } else {
      await queryClient.invalidateQueries({ queryKey: ['app-plans', spec.app] });
    }
  };
  const submit = useMutation({
    mutationFn: () => api.post<AppPlan>('/api/v1/app-plans', { spec: draft, justification, ...(current?.destructive ? { confirmDestructive } : {}) }),
    onSuccess: afterPlan,
  });
  const submitProblem = submit.error instanceof ApiError ? submit.error : undefined;
  const checkProblem = check.error instanceof ApiError ? check.error : undefined;

  const resource = draft.resources[selected];
  const findings = current?.findings ?? [];
  const roles = [...new Set([...BUILTIN_ROLES.filter((r) => r !== 'owner' || draft.matrix.owner), ...Object.keys(draft.matrix), ...(draft.roles ?? []).map((r) => r.name)])];

  const openJson = () => {
    setJsonText(JSON.stringify(draft, null, 2));
    setJsonError(null);
    setView('json');
  };
  const editJson = (text: string) => {
    setJsonText(text);
    try {
      const parsed = JSON.parse(text) as AppSpecDraft;
      if (!parsed || typeof parsed !== 'object' || !Array.isArray(parsed.resources)) throw new Error('the spec needs a resources array');
      parsed.matrix ??= {};
      setDraftState(parsed);
      setSelected((s) => Math.min(s, Math.max(0, parsed.resources.length - 1)));
      setJsonError(null);
    } catch (error) {
      setJsonError(error instanceof Error ? error.message : 'not JSON');
    }
  };

  const requireApproval = current?.requireApproval ?? false;
  const applyLabel = requireApproval ? 'Submit plan for approval' : 'Apply plan';

  return (
    <div className="space-y-6">
      <PageHeader
        title={`Edit ${spec.title ?? spec.app}`}
        description={`Installed version ${installedVersion}; this draft becomes version ${draft.version}. Every field needs a data class: it decides masking, encryption and export.`}
        actions={
          <div role="tablist" aria-label="Editor view" className="flex gap-2">
            <Button role="tab" aria-selected={view === 'form'} variant={view === 'form' ? 'primary' : 'secondary'} onClick={() => setView('form')} data-testid="view-form">
              Form
            </Button>
            <Button role="tab" aria-selected={view === 'json'} variant={view === 'json' ? 'primary' : 'secondary'} onClick={openJson} data-testid="view-json">
              JSON
            </Button>
          </div>
        }
      />

      {view === 'json' ? (
        <Card>
          <Field label="Spec (JSON)" error={jsonError ?? undefined} hint="Edits here change the form too; the server lints whatever you preview.">
            {({ id, describedBy, invalid }) => <TextArea id={id} data-testid="spec-json" className="min-h-[28rem] font-mono text-xs" value={jsonText} onChange={(e) => editJson(e.target.value)} aria-describedby={describedBy} aria-invalid={invalid} spellCheck={false} />}
          </Field>
        </Card>
      ) : (
        <>
          <Card>
            <div className="flex flex-wrap items-end gap-4">
              <Field label="Resource">
                {({ id }) => (
                  <Select id={id} data-testid="resource-select" value={String(selected)} onChange={(e) => setSelected(Number(e.target.value))}>
                    {draft.resources.map((r, index) => (
                      <option key={r.name} value={index}>
                        {r.label ?? r.name}
                      </option>
                    ))}
                  </Select>
                )}
              </Field>
              <AddResource
                onAdd={(name) => {
                  setSelected(draft.resources.length);
                  setDraft((d) => void d.resources.push({ name, fields: [] }));
                }}
              />
            </div>
          </Card>
          {resource ? (
            <>
              <FieldsCard
                resource={resource}
                index={selected}
                resourceNames={draft.resources.map((r) => r.name)}
                findings={findings}
                onChange={(update) => setDraft((d) => update(d.resources[selected]!, d))}
              />
              <MatrixCard resource={resource} roles={roles} matrix={draft.matrix} findings={findingsAt(findings, '/matrix')} onToggle={(role, action, on) => setDraft((d) => {
                const forRole = (d.matrix[role] ??= {});
                const actions = new Set(forRole[resource.name] ?? []);
                if (on) actions.add(action);
                else actions.delete(action);
                forRole[resource.name] = actionsOf(resource).filter((a) => actions.has(a));
              })} />
            </>
          ) : null}
        </>
      )}

      <Card>
        <h2 className="mb-3 text-base font-semibold">Check and preview</h2>
        <p className="mb-3 text-sm text-slate-600 dark:text-slate-400">The server lints the draft and lists the migration it would run against the installed version. Nothing changes until you apply.</p>
        <div className="mb-3">
          <JustificationField value={justification} onChange={setJustification} error={checkProblem?.fieldMessage('/justification') ?? submitProblem?.fieldMessage('/justification')} />
        </div>
        <Button variant="primary" onClick={() => check.mutate()} disabled={check.isPending || !canPlan || Boolean(jsonError)} data-testid="preview-plan">
          {check.isPending ? 'Checking…' : 'Check and preview plan'}
        </Button>
        {check.error && !checkProblem?.fieldMessage('/justification') ? (
          <div className="mt-3">
            <ErrorText error={check.error} />
          </div>
        ) : null}
        {preview && !current ? <p className="mt-3 text-sm text-amber-800 dark:text-amber-300">The draft changed since the last check: check again before applying.</p> : null}
        {current ? <PreviewResult preview={current} /> : null}
      </Card>

      {current?.ok && canPlan ? (
        <Card>
          <form
            className="space-y-4"
            noValidate
            onSubmit={(event: FormEvent) => {
              event.preventDefault();
              submit.mutate();
            }}
          >
            <h2 className="text-base font-semibold">{applyLabel}</h2>
            <p className="text-sm text-slate-600 dark:text-slate-400">
              {requireApproval ? 'Approvals are required here: the plan waits for a second admin to approve it, then it can be applied.' : 'Development: the plan is applied as soon as it is created.'}
            </p>
            <p className="text-sm">
              Justification: <em>{justification}</em>
            </p>
            {current.destructive ? (
              <label className="flex items-center gap-2 text-sm">
                <input type="checkbox" checked={confirmDestructive} onChange={(e) => setConfirmDestructive(e.target.checked)} data-testid="confirm-destructive" />
                I understand the destructive steps lose data.
              </label>
            ) : null}
            <Button type="submit" variant={current.destructive ? 'danger' : 'primary'} disabled={submit.isPending} data-testid="apply-plan">
              {applyLabel}
            </Button>
            {submitProblem ? <ErrorText error={submitProblem} /> : null}
          </form>
        </Card>
      ) : null}

      {applied ? (
        <div data-testid="plan-result">
          <Alert tone={applied.status === 'applied' ? 'good' : applied.status === 'failed' ? 'bad' : 'info'} title={`Plan ${applied.status}`}>
            <p>
              {applied.status === 'applied'
                ? `Version ${applied.toVersion} is installed.`
                : applied.status === 'pending'
                  ? applied.destructive
                    ? 'The plan is stored; its destructive steps need your confirmation to apply.'
                    : 'The plan waits for a second admin’s approval.'
                  : (applied.error ?? '')}
            </p>
            {applied.status === 'applied'
              ? [...new Set(applied.steps.map((step) => step.resource))].map((name) => (
                  <Link key={name} to="/apps/$app/$resource/new" params={{ app: spec.app, resource: name }} className="mt-2 mr-4 inline-block underline">
                    Open the {draft.resources.find((r) => r.name === name)?.label ?? name} form
                  </Link>
                ))
              : null}
          </Alert>
        </div>
      ) : null}

      {plans.data?.items.length ? <PlansCard plans={plans.data.items} me={`user:${identity.sub}`} requireApproval={current?.requireApproval} onDone={afterPlan} /> : null}
    </div>
  );
}

function AddResource({ onAdd }: { onAdd: (name: string) => void }) {
  const [name, setName] = useState('');
  return (
    <form
      className="flex items-end gap-2"
      onSubmit={(e) => {
        e.preventDefault();
        if (name.trim()) onAdd(name.trim());
        setName('');
      }}
    >
      <Field label="New resource">
        {({ id }) => <TextInput id={id} value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. meeting" />}
      </Field>
      <Button type="submit">Add resource</Button>
    </form>
  );
}

type FieldsCardProps = {
  resource: AppSpecDraft['resources'][number];
  index: number;
  resourceNames: string[];
  findings: Finding[];
  onChange: (update: (resource: AppSpecDraft['resources'][number], spec: AppSpecDraft) => void) => void;
};

function FieldsCard({ resource, index, resourceNames, findings, onChange }: FieldsCardProps) {
  const [name, setName] = useState('');
  const [type, setType] = useState('text');
  const [dataClass, setDataClass] = useState('');
  const [required, setRequired] = useState(false);
  const resourceFindings = findings.filter((f) => f.pointer === `/resources/${index}` || (f.pointer.startsWith(`/resources/${index}/`) && !f.pointer.startsWith(`/resources/${index}/fields/`)));
  const add = (event: FormEvent) => {
    event.preventDefault();
    if (!name.trim()) return;
    onChange((r, spec) => {
      // A class left unchosen is sent as missing: the server's linter names it (field/no-class).
      const field: FieldDraft = { name: name.trim(), type, ...(dataClass ? { class: dataClass } : {}), ...(required ? { required: true } : {}) };
      r.fields.push(field);
      // Forms laid out in sections show only listed fields: the new one goes in the last section.
      const sections = spec.views?.[r.name]?.form?.sections;
      if (sections?.length) sections[sections.length - 1]!.fields.push(field.name);
    });
    setName('');
    setDataClass('');
    setRequired(false);
  };
  return (
    <Card>
      <h2 className="mb-3 text-base font-semibold">Fields of {resource.label ?? resource.name}</h2>
      {resourceFindings.map((f) => (
        <p key={`${f.code}${f.pointer}`} className="mb-2 text-sm text-red-700 dark:text-red-400" data-finding={f.code}>
          {f.code}: {f.message}
        </p>
      ))}
      <div className="overflow-x-auto">
        <table className="w-full text-left text-sm" data-testid="fields-table">
          <thead className="text-xs uppercase text-slate-600 dark:text-slate-400">
            <tr>
              <th scope="col" className="py-2 pr-3 font-medium">Name</th>
              <th scope="col" className="py-2 pr-3 font-medium">Type</th>
              <th scope="col" className="py-2 pr-3 font-medium">Data class</th>
              <th scope="col" className="py-2 pr-3 font-medium">Required</th>
              <th scope="col" className="py-2 pr-3 font-medium">Details</th>
              <th scope="col" className="py-2 font-medium">
                <span className="sr-only">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
            {resource.fields.map((field, i) => {
              const at = findingsAt(findings, `/resources/${index}/fields/${i}`);
              const update = (change: (f: FieldDraft) => void) => onChange((r) => change(r.fields[i]!));
              return (
                <tr key={i} data-field-row={field.name} className="align-top">
                  <td className="py-2 pr-3">
                    <TextInput aria-label={`Name of field ${i + 1}`} value={field.name} onChange={(e) => update((f) => void (f.name = e.target.value))} aria-invalid={at.length > 0} />
                    {at.map((f) => (
                      <p key={`${f.code}${f.pointer}`} className="mt-1 text-xs text-red-700 dark:text-red-400" data-finding={f.code}>
                        {f.code}: {f.message}
                      </p>
                    ))}
                  </td>
                  <td className="py-2 pr-3">
                    <Select aria-label={`Type of ${field.name}`} value={field.type} onChange={(e) => update((f) => void (f.type = e.target.value))}>
                      {FIELD_TYPES.map((t) => (
                        <option key={t}>{t}</option>
                      ))}
                    </Select>
                  </td>
                  <td className="py-2 pr-3">
                    <Select aria-label={`Data class of ${field.name}`} value={field.class ?? ''} onChange={(e) => update((f) => (e.target.value ? (f.class = e.target.value) : delete f.class))}>
                      <option value="">— choose —</option>
                      {DATA_CLASSES.map((c) => (
                        <option key={c}>{c}</option>
                      ))}
                    </Select>
                  </td>
                  <td className="py-2 pr-3">
                    <input type="checkbox" aria-label={`${field.name} is required`} checked={Boolean(field.required)} onChange={(e) => update((f) => (e.target.checked ? (f.required = true) : delete f.required))} />
                  </td>
                  <td className="py-2 pr-3">
                    {field.type === 'enum' ? (
                      <TextInput aria-label={`Values of ${field.name}`} value={(field.values ?? []).join(', ')} onChange={(e) => update((f) => void (f.values = e.target.value.split(',').map((v) => v.trim()).filter(Boolean)))} placeholder="a, b, c" />
                    ) : field.type === 'reference' ? (
                      <Select aria-label={`Target of ${field.name}`} value={field.to ?? ''} onChange={(e) => update((f) => void (f.to = e.target.value))}>
                        <option value="">— choose —</option>
                        {resourceNames.map((n) => (
                          <option key={n}>{n}</option>
                        ))}
                      </Select>
                    ) : field.type === 'money' ? (
                      <TextInput aria-label={`Currency of ${field.name}`} value={field.currency ?? ''} onChange={(e) => update((f) => void (f.currency = e.target.value.toUpperCase()))} placeholder="EUR" />
                    ) : null}
                  </td>
                  <td className="py-2">
                    <Button variant="ghost" aria-label={`Remove ${field.name}`} onClick={() => onChange((r) => void r.fields.splice(i, 1))}>
                      Remove
                    </Button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <form onSubmit={add} className="mt-4 grid gap-3 border-t border-slate-200 pt-4 sm:grid-cols-5 dark:border-slate-800" data-testid="add-field">
        <Field label="New field name">
          {({ id }) => <TextInput id={id} name="new-field-name" value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <Field label="Type">
          {({ id }) => (
            <Select id={id} name="new-field-type" value={type} onChange={(e) => setType(e.target.value)}>
              {FIELD_TYPES.map((t) => (
                <option key={t}>{t}</option>
              ))}
            </Select>
          )}
        </Field>
        <Field label="Data class">
          {({ id }) => (
            <Select id={id} name="new-field-class" value={dataClass} onChange={(e) => setDataClass(e.target.value)}>
              <option value="">— choose —</option>
              {DATA_CLASSES.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </Select>
          )}
        </Field>
        <label className="flex items-end gap-2 pb-2 text-sm">
          <input type="checkbox" name="new-field-required" checked={required} onChange={(e) => setRequired(e.target.checked)} />
          Required
        </label>
        <div className="flex items-end">
          <Button type="submit">Add field</Button>
        </div>
      </form>
    </Card>
  );
}

function MatrixCard({ resource, roles, matrix, findings, onToggle }: { resource: AppSpecDraft['resources'][number]; roles: string[]; matrix: AppSpecDraft['matrix']; findings: Finding[]; onToggle: (role: string, action: string, on: boolean) => void }) {
  const actions = actionsOf(resource);
  return (
    <Card>
      <h2 className="mb-3 text-base font-semibold">Who may do what on {resource.label ?? resource.name}</h2>
      {findings.map((f) => (
        <p key={`${f.code}${f.pointer}`} className="mb-2 text-sm text-red-700 dark:text-red-400" data-finding={f.code}>
          {f.pointer}: {f.code}: {f.message}
        </p>
      ))}
      <div className="overflow-x-auto">
        <table className="text-sm" data-testid="spec-matrix">
          <thead>
            <tr>
              <th scope="col" className="py-2 pr-4 text-left font-medium">Role</th>
              {actions.map((a) => (
                <th key={a} scope="col" className="px-2 py-2 text-xs font-medium">
                  {a}
                </th>
              ))}
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
            {roles.map((role) => (
              <tr key={role}>
                <th scope="row" className="py-1 pr-4 text-left font-medium">
                  {role}
                </th>
                {actions.map((a) => (
                  <td key={a} className="px-2 py-1 text-center">
                    <input type="checkbox" aria-label={`${role} may ${a} ${resource.name}`} checked={(matrix[role]?.[resource.name] ?? []).includes(a)} onChange={(e) => onToggle(role, a, e.target.checked)} />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

function PreviewResult({ preview }: { preview: PlanPreview }) {
  const errors = preview.findings.filter((f) => f.severity === 'error');
  const warnings = preview.findings.filter((f) => f.severity !== 'error');
  return (
    <div className="mt-4 space-y-4" data-testid="plan-preview">
      {errors.length ? (
        <Alert title={`${errors.length} problem${errors.length === 1 ? '' : 's'}: this draft cannot be applied`}>
          <ul className="mt-1 list-disc pl-5" data-testid="findings">
            {errors.map((f) => (
              <li key={`${f.code}${f.pointer}`} data-finding={f.code}>
                <code>{f.pointer}</code> {f.code}: {f.message}
              </li>
            ))}
          </ul>
        </Alert>
      ) : (
        <Alert tone="good" title="The draft lints clean" />
      )}
      {warnings.length ? (
        <Alert tone="warn" title="Warnings">
          <ul className="mt-1 list-disc pl-5">
            {warnings.map((f) => (
              <li key={`${f.code}${f.pointer}`} data-finding={f.code}>
                <code>{f.pointer}</code> {f.code}: {f.message}
              </li>
            ))}
          </ul>
        </Alert>
      ) : null}
      {preview.ok ? (
        <div>
          <h3 className="mb-2 text-sm font-semibold">Migration plan {preview.fromVersion === null ? '(new install)' : `from version ${preview.fromVersion}`}</h3>
          {preview.steps.length ? (
            <ol className="space-y-1 text-sm" data-testid="plan-steps">
              {preview.steps.map((step, i) => (
                <li key={i} data-step={step.kind} className="flex flex-wrap items-center gap-2">
                  <Badge tone={step.destructive ? 'bad' : 'info'}>{step.kind.replace('_', ' ')}</Badge>
                  {step.destructive ? <Badge tone="bad">destructive</Badge> : null}
                  <span>{step.summary}</span>
                </li>
              ))}
            </ol>
          ) : (
            <p className="text-sm text-slate-600 dark:text-slate-400">No table changes (permissions, rules or views only).</p>
          )}
        </div>
      ) : null}
    </div>
  );
}

function PlansCard({ plans, me, requireApproval, onDone }: { plans: AppPlan[]; me: string; requireApproval: boolean | undefined; onDone: (plan: AppPlan) => Promise<void> }) {
  const { api, can } = useSession();
  const [justification, setJustification] = useState('');
  const act = useMutation({
    mutationFn: ({ plan, step }: { plan: AppPlan; step: 'approve' | 'apply' }) => api.post<AppPlan>(`/api/v1/app-plans/${plan.id}/${step}`, { justification, ...(step === 'apply' && plan.destructive ? { confirmDestructive: true } : {}) }),
    onSuccess: onDone,
  });
  const problem = act.error instanceof ApiError ? act.error : undefined;
  const open = plans.filter((p) => p.status === 'pending' || p.status === 'approved');
  return (
    <Card>
      <h2 className="mb-3 text-base font-semibold">Plans</h2>
      <ul className="divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="plans">
        {plans.map((plan) => (
          <li key={plan.id} className="flex flex-wrap items-center gap-2 py-2">
            <span className="font-medium">
              v{plan.fromVersion ?? '–'} → v{plan.toVersion}
            </span>
            <Badge tone={plan.status === 'applied' ? 'good' : plan.status === 'failed' ? 'bad' : 'warn'}>{plan.status}</Badge>
            {plan.destructive ? <Badge tone="bad">destructive</Badge> : null}
            <span className="text-slate-600 dark:text-slate-400">by {plan.createdBy}</span>
            {/* A second person approves (DE-4): the author is not offered the button the server would refuse. */}
            {plan.status === 'pending' && plan.createdBy !== me && can('app_spec', 'approve') ? (
              <Button onClick={() => act.mutate({ plan, step: 'approve' })} disabled={act.isPending}>
                Approve
              </Button>
            ) : null}
            {/* Production applies approved plans only; development applies a pending one (a destructive plan waits there for its confirmation). */}
            {(plan.status === 'approved' || (plan.status === 'pending' && requireApproval === false)) && can('app_spec', 'apply') ? (
              <Button variant={plan.destructive ? 'danger' : 'primary'} onClick={() => act.mutate({ plan, step: 'apply' })} disabled={act.isPending}>
                Apply
              </Button>
            ) : null}
          </li>
        ))}
      </ul>
      {open.length ? (
        <div className="mt-3" data-testid="plans-justification">
          <JustificationField value={justification} onChange={setJustification} error={problem?.fieldMessage('/justification')} />
        </div>
      ) : null}
      {problem && !problem.fieldMessage('/justification') ? (
        <div className="mt-3">
          <ErrorText error={problem} />
        </div>
      ) : null}
    </Card>
  );
}
