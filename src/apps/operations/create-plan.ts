import { canonicalJson } from '../../audit/index.js';
import { RampartError, requireJustification, sha256Hex, uuidv7 } from '../../core/index.js';
import { withTenant } from '../../db/index.js';
import { appAuthz } from '../compile/authz.js';
import { compilePlan } from '../compile/index.js';
import { ANONYMOUS_ROLE } from '../spec/schema.js';
import { lintSpec, type Finding } from '../lint/lint.js';
import { specHash } from '../spec/parse.js';
import { tenantKey } from '../spec/model.js';
import { findPlan, loadInstalled, toPlanView, type PlanView } from '../store.js';
import { actorKey, type AppsDeps, type Caller } from './deps.js';

/** Lint findings as a 400 naming every pointer (under `/spec` of the request body). */
export function findingsError(findings: Finding[], root = '/spec'): RampartError {
  const errors = findings.filter((f) => f.severity === 'error');
  const first = errors[0];
  return new RampartError('validation_failed', {
    detail: first ? `app spec ${first.pointer}: ${first.message} (${first.code})` : 'app spec is invalid',
    issues: errors.map((f) => ({ in: 'body', pointer: `${root}${f.pointer === '/' ? '' : f.pointer}`, message: `${f.code}: ${f.message}` })),
    extensions: { findings },
  });
}

export const planHash = (plan: { app: string; from_version: number | null; to_version: number; spec_hash: string; sql: string }): string =>
  `sha256:${sha256Hex(canonicalJson({ app: plan.app, from: plan.from_version, to: plan.to_version, spec: plan.spec_hash, sql: plan.sql }))}`;

/**
 * Lints the spec, compiles the migration plan against what the tenant has installed, stores it
 * (DE-4: a plan is a reviewable, hashed record) and audits its creation. Applying is separate.
 */
export async function createPlan(deps: AppsDeps, input: Caller & { spec: unknown; justification: unknown }): Promise<PlanView> {
  const justification = requireJustification(input.justification);
  const lint = lintSpec(input.spec);
  if (!lint.ok || !lint.spec) throw findingsError(lint.findings);
  const spec = lint.spec;
  const hash = specHash(spec);
  return withTenant(deps.db, { tenantId: input.tenantId, actor: input.actor }, async (trx) => {
    const [installed] = await loadInstalled(trx, input.tenantId, spec.app);
    if (installed?.specHash === hash) throw new RampartError('conflict', { detail: `app "${spec.app}" version ${spec.version} with this exact spec is already installed` });
    if (installed && spec.version <= installed.version) {
      throw new RampartError('validation_failed', { detail: `version must be greater than the installed ${installed.version}`, issues: [{ in: 'body', pointer: '/spec/version', message: `must be greater than the installed version ${installed.version}` }] });
    }
    const plan = compilePlan(installed?.spec ?? null, spec, { tenantKey: tenantKey(input.tenantId) });
    if (plan.problems.length) throw findingsError(plan.problems);
    // The tenant ceiling holds for a spec's grants as for any other: the author grants only what
    // they hold, owner-only reads go to high-privilege roles from an owner, with a second admin.
    const parts = appAuthz(spec);
    const roles = [...parts.roles, ...(parts.usesAnonymous ? [{ name: ANONYMOUS_ROLE, description: '', highPrivilege: false }] : [])];
    const ceiling = await deps.authz.checkAppChange(trx, { tenantId: input.tenantId, app: spec.app, author: input.author, next: { resources: parts.resources, matrix: parts.matrix, rules: parts.rules, roles } });
    const id = uuidv7(deps.clock.now().getTime());
    const row = { app: spec.app, from_version: installed?.version ?? null, to_version: spec.version, spec_hash: hash, sql: plan.sql };
    await trx
      .insertInto('app_plans')
      .values({
        tenant_id: input.tenantId,
        id,
        ...row,
        spec: JSON.stringify(spec),
        steps: JSON.stringify(plan.steps),
        plan_hash: planHash(row),
        destructive: plan.destructive,
        requires_approval: ceiling.needsApproval && input.author !== undefined,
        status: 'pending',
        justification,
        created_by: actorKey(input.actor),
        created_at: deps.clock.now(),
      })
      .execute();
    await deps.audit.record(trx, {
      tenantId: input.tenantId,
      actor: input.actor,
      action: 'app.plan.created',
      target: { type: 'app_plan', id },
      diff: { app: { after: spec.app }, version: { after: spec.version }, spec_hash: { after: hash }, steps: { after: plan.steps.map((s) => s.summary) }, destructive: { after: plan.destructive } },
      justification,
      ...(input.context ? { context: input.context } : {}),
    });
    return toPlanView((await findPlan(trx, input.tenantId, id))!);
  });
}
