/**
 * The app builder (controls AZ-1, AZ-2, DA-1, DA-2, DE-4): an app spec compiled to tables with
 * forced row security, the tenant's policy set, a data API, migration plans and approvals.
 */
export { appSpecSchema, fieldSchema, resourceSchema, ruleSchema, DATA_CLASSES, FIELD_TYPES, ANONYMOUS_ROLE, type AppSpec, type AppSpecInput, type FieldSpec, type ResourceSpec, type DataClass } from './spec/schema.js';
export { parseSpecText, specHash, appSpecJsonSchema } from './spec/parse.js';
export { tableName, tenantKey, tableNamer, catalogName, resourceActions, isEncrypted, GATED_CLASSES } from './spec/model.js';
export { lintSpec, type Finding, type LintResult } from './lint/lint.js';
export { compileApp, compilePlan, type CompiledApp, type CompiledPlan } from './compile/index.js';
export { appAuthz, authzInputFor, type AppAuthz } from './compile/authz.js';
export { diffSpecs, type PlanStep, type PlanDiff } from './plans/diff.js';
export { createApps, type Apps } from './service.js';
export { installedResources, type InstalledApp, type PlanView } from './store.js';
export { appsRoutes } from './routes.js';
export { anonymousPrincipal, createPublicLimiter, publicView, PUBLIC_READ_BUDGET, type PublicLimiter } from './public.js';
export { appsAuthorizer, APP_RECORD } from './authorizer.js';
export { createRecord, readRecord, updateRecord, deleteRecord, targetOf, type DataDeps, type DataCall, type Target } from './data/records.js';
export { listRecords, exportRecords, EXPORT_MAX_ROWS } from './data/list.js';
export { MASK } from './data/values.js';
export { DEFAULT_LIMIT, MAX_LIMIT } from './data/query.js';
export { TEMPLATES, type TemplateName } from './templates/index.js';
export type { AppsDeps } from './operations/deps.js';
