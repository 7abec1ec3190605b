import { z } from 'zod';
import { compilePlan, tenantKey, type Apps, type Finding, type PlanStep } from '../apps/index.js';
import { defineRoute, type RouteDefinition } from '../http/index.js';

/**
 * A dry run of `POST /api/v1/app-plans` for the no-code spec editor: lint the edited spec and diff
 * it against the installed one, storing and changing nothing. In development a created plan is
 * applied at once, so without this the editor could not show the migration before it happens
 * (DE-4: a change is reviewed before it runs). It needs the same right as creating a plan
 * (`plan` on `app_spec`), so the preview reveals nothing its caller could not learn by planning.
 * Like every POST on an admin resource it carries the justification (AZ-5, checked by the
 * pipeline), the same one the editor then sends with the plan; nothing is written, so there is no
 * audit event. The real plan route lints and diffs again on its own: this answer is advice to the
 * UI, never trusted by the server.
 */

export type PlanPreview = {
  ok: boolean;
  findings: Finding[];
  steps: PlanStep[];
  destructive: boolean;
  fromVersion: number | null;
  /** Production: a plan waits for a second admin's approval before it can be applied. */
  requireApproval: boolean;
};

// control: DE-4 (the migration is shown before it is applied), AZ-2 (authorized like planning)
export function planPreviewRoutes({ apps }: { apps: Apps }): RouteDefinition[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/app-plans/preview',
      auth: { action: 'plan', resource: 'app_spec', justify: true },
      summary: 'Lint an edited app spec and preview its migration steps against the installed version (stores nothing)',
      body: z.strictObject({ spec: z.unknown(), justification: z.string().max(2000) }),
      handler: async ({ principal, body }): Promise<PlanPreview> => {
        const tenantId = principal.tenantId;
        const requireApproval = apps.requireApproval;
        const lint = apps.lint(body.spec);
        if (!lint.ok || !lint.spec) return { ok: false, findings: lint.findings, steps: [], destructive: false, fromVersion: null, requireApproval };
        const spec = lint.spec;
        const installed = await apps.installedApp(tenantId, spec.app);
        const findings = [...lint.findings];
        if (installed && spec.version <= installed.version) findings.push({ code: 'plan/version', pointer: '/version', message: `must be greater than the installed version ${installed.version}`, severity: 'error' });
        const plan = compilePlan(installed?.spec ?? null, spec, { tenantKey: tenantKey(tenantId) });
        findings.push(...plan.problems);
        const ok = !findings.some((f) => f.severity === 'error');
        return { ok, findings, steps: plan.steps, destructive: plan.destructive, fromVersion: installed?.version ?? null, requireApproval };
      },
    }),
  ];
}
