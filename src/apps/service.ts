import type { RequestContext } from '../audit/index.js';
import { RampartError } from '../core/index.js';
import { withTenant, type Actor } from '../db/index.js';
import { compileApp, type CompiledApp } from './compile/index.js';
import { lintSpec, type LintResult } from './lint/lint.js';
import { approvePlan } from './operations/approve-plan.js';
import { applyPlan } from './operations/apply-plan.js';
import { createPlan } from './operations/create-plan.js';
import type { AppsDeps } from './operations/deps.js';
import { findPlan, loadInstalled, toPlanView, type InstalledApp, type PlanView } from './store.js';
import { TEMPLATES, type TemplateName } from './templates/index.js';

/**
 * The app builder service: lint, plan, approve, apply (DE-4), and the installed apps the data API
 * serves. Built once by the composition root; per-instance state is a short cache of installed
 * specs (dropped on every apply through this node; other nodes see a change within its TTL).
 */

export type Apps = {
  requireApproval: boolean;
  lint(spec: unknown): LintResult;
  compile(spec: unknown): CompiledApp;
  plan(input: { tenantId: string; actor: Actor; spec: unknown; justification: unknown; context?: RequestContext }): Promise<PlanView>;
  approve(input: { tenantId: string; actor: Actor; planId: string; justification: unknown; context?: RequestContext }): Promise<PlanView>;
  apply(input: { tenantId: string; actor: Actor; planId: string; confirmDestructive?: boolean; justification: unknown; context?: RequestContext }): Promise<PlanView>;
  getPlan(tenantId: string, planId: string): Promise<PlanView>;
  listPlans(tenantId: string, options?: { app?: string; limit?: number }): Promise<PlanView[]>;
  installed(tenantId: string): Promise<InstalledApp[]>;
  /** One installed app, cached briefly (call outside any open transaction). */
  installedApp(tenantId: string, app: string): Promise<InstalledApp | undefined>;
  /** Plans and applies a built-in template (development and the demo tenant). */
  installTemplate(input: { tenantId: string; actor: Actor; name: TemplateName }): Promise<PlanView>;
};

export function createApps(deps: AppsDeps & { cacheTtlMs?: number }): Apps {
  const cache = new Map<string, { app: InstalledApp | undefined; expires: number }>();
  // Concurrent misses for one key share one load: when the entry expires under load, every request
  // in flight would otherwise open its own transaction for the same row (a stampede each TTL).
  const loading = new Map<string, Promise<InstalledApp | undefined>>();
  const ttl = deps.cacheTtlMs ?? 2000;
  const system = (tenantId: string) => ({ tenantId, actor: { type: 'system', id: 'apps' } as const });
  const forget = (tenantId: string) => {
    for (const key of cache.keys()) if (key.startsWith(`${tenantId}/`)) cache.delete(key);
    for (const key of loading.keys()) if (key.startsWith(`${tenantId}/`)) loading.delete(key);
  };
  const apps: Apps = {
    requireApproval: deps.requireApproval,
    lint: lintSpec,
    compile(spec) {
      const result = lintSpec(spec);
      if (!result.ok || !result.spec) throw new RampartError('validation_failed', { detail: 'the spec does not lint', extensions: { findings: result.findings } });
      return compileApp(result.spec);
    },
    plan: (input) => createPlan(deps, input),
    approve: (input) => approvePlan(deps, input),
    async apply(input) {
      try {
        return await applyPlan(deps, input);
      } finally {
        forget(input.tenantId);
      }
    },
    async getPlan(tenantId, planId) {
      const row = await withTenant(deps.db, system(tenantId), (trx) => findPlan(trx, tenantId, planId), { readOnly: true });
      if (!row) throw new RampartError('not_found', { detail: 'no such plan' });
      return toPlanView(row);
    },
    async listPlans(tenantId, options = {}) {
      return withTenant(deps.db, system(tenantId), async (trx) => {
        let query = trx.selectFrom('app_plans').selectAll().where('tenant_id', '=', tenantId);
        if (options.app) query = query.where('app', '=', options.app);
        return (await query.orderBy('created_at', 'desc').limit(Math.min(options.limit ?? 50, 200)).execute()).map(toPlanView);
      }, { readOnly: true });
    },
    installed: (tenantId) => withTenant(deps.db, system(tenantId), (trx) => loadInstalled(trx, tenantId), { readOnly: true }),
    async installedApp(tenantId, app) {
      const key = `${tenantId}/${app}`;
      const hit = cache.get(key);
      const now = deps.clock.now().getTime();
      if (hit && hit.expires > now) return hit.app;
      const pending = loading.get(key);
      if (pending) return pending;
      const load = withTenant(deps.db, system(tenantId), (trx) => loadInstalled(trx, tenantId, app), { readOnly: true })
        .then(([found]) => {
          // An apply on this node while the load ran has dropped the key: do not cache what it replaced.
          if (loading.get(key) === load) {
            if (cache.size > 10_000) cache.clear();
            cache.set(key, { app: found, expires: now + ttl });
          }
          return found;
        })
        .finally(() => {
          if (loading.get(key) === load) loading.delete(key);
        });
      loading.set(key, load);
      return load;
    },
    async installTemplate({ tenantId, actor, name }) {
      const justification = `install the ${name} template`;
      const plan = await apps.plan({ tenantId, actor, spec: TEMPLATES[name], justification });
      return apps.apply({ tenantId, actor, planId: plan.id, justification });
    },
  };
  return apps;
}
