/**
 * The authorization engine (controls AZ-1, AZ-2, AZ-3): Cedar as the reference semantics and the
 * engine for tenant-written policies; the matrix and attribute rules compiled to TypeScript checks
 * and SQL constraints for the hot path. Pure logic: storage, routes and audit live elsewhere.
 */
export { compilePolicySet, type CompiledPolicySet } from './compile.js';
export { decide, decideWithCedar, customPoliciesFor } from './decide.js';
export { constraintFor, constraintMatches, constraintSql, applyConstraint, type Constraint, type ConstraintTerm, type ConstraintRequest, type ConstraintColumns } from './constraint.js';
export { matrixCases, negativeMatrixCases, type MatrixCase } from './cases.js';
export { cedarSchema, actionId, type CedarSchema } from './schema.js';
export { requestEntities, guardWasmInlining, type CedarCallOptions } from './cedar.js';
export type { CustomPolicy } from './custom.js';
export { cedarEngine, CedarEngineFault, type CedarEngine, type EngineHealth } from './engine.js';
export { CEDAR_LIMITS } from './limits.js';
export { policySetInputSchema, attributeRuleSchema, conditionSchema, resourceDefinitionSchema, matrixSchema } from './schemas.js';
export * from './types.js';
// Storage, service, drift and routes (integration with db, audit and http).
export { BUILTIN_RESOURCES, BUILTIN_ROLES, DEFAULT_MATRIX, PLATFORM_RESOURCES, PLATFORM_RESOURCE_NAMES, resourceScope, type RoleDefinition } from './builtin.js';
export { createPlatformOperators, platformRoutes, platformAuthorizer, catalogueAuthorizer, checkPlatformRoutes, isPlatformCapable, type PlatformOperators, type PlatformOperator } from './platform.js';
export { createAuthz, requireJustification, MIN_JUSTIFICATION, type Authz, type ChangeInput, type TenantResources } from './service.js';
export { runDrift, runDriftForAllTenants, type DriftReport } from './drift.js';
export { authzRoutes, policyAuthorizer, toAuthzPrincipal } from './routes.js';
export { loadPolicyData, toMatrix, fromMatrix, diffGrants, grantKey, customPolicyText, type PolicyData, type StoredPolicy } from './store.js';
export { authorizeRecord, listAuthorized, HARD_PAGE_LIMIT } from './records.js';
