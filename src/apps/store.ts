import type { Selectable, Transaction } from 'kysely';
import type { ResourceDefinition } from '../authz/index.js';
import type { Schema } from '../db/index.js';
import type { AppSpec } from './spec/schema.js';
import type { PlanStep } from './plans/diff.js';

/** SQL for the app builder's own tables (migration 8). Every function runs in the caller's transaction. */

export type PlanRow = Selectable<Schema['app_plans']>;
export type InstalledRow = Selectable<Schema['app_installed']>;

export type InstalledApp = { app: string; version: number; spec: AppSpec; specHash: string; planId: string; installedAt: Date; updatedAt: Date };

export const toInstalled = (row: InstalledRow): InstalledApp => ({ app: row.app, version: row.version, spec: row.spec as AppSpec, specHash: row.spec_hash, planId: row.plan_id, installedAt: row.installed_at, updatedAt: row.updated_at });

export async function loadInstalled(trx: Transaction<Schema>, tenantId: string, app?: string): Promise<InstalledApp[]> {
  let query = trx.selectFrom('app_installed').selectAll().where('tenant_id', '=', tenantId);
  if (app) query = query.where('app', '=', app);
  return (await query.orderBy('app').execute()).map(toInstalled);
}

/** The authorization hook: the catalog resources of every app the tenant has applied. */
export async function installedResources(trx: Transaction<Schema>, tenantId: string): Promise<ResourceDefinition[]> {
  const rows = await trx.selectFrom('app_installed').select('resources').where('tenant_id', '=', tenantId).orderBy('app').execute();
  return rows.flatMap((row) => row.resources as ResourceDefinition[]);
}

export async function findPlan(trx: Transaction<Schema>, tenantId: string, id: string, options: { forUpdate?: boolean } = {}): Promise<PlanRow | undefined> {
  const query = trx.selectFrom('app_plans').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id);
  return options.forUpdate ? query.forUpdate().executeTakeFirst() : query.executeTakeFirst();
}

export type PlanView = {
  id: string;
  app: string;
  fromVersion: number | null;
  toVersion: number;
  specHash: string;
  planHash: string;
  status: PlanRow['status'];
  destructive: boolean;
  /** It grants an owner-only permission: a second admin approves it before it applies, in every environment. */
  requiresApproval: boolean;
  steps: PlanStep[];
  sql: string;
  createdBy: string;
  createdAt: Date;
  approvedBy: string | null;
  approvedAt: Date | null;
  appliedBy: string | null;
  appliedAt: Date | null;
  error: string | null;
};

export const toPlanView = (row: PlanRow): PlanView => ({
  id: row.id,
  app: row.app,
  fromVersion: row.from_version,
  toVersion: row.to_version,
  specHash: row.spec_hash,
  planHash: row.plan_hash,
  status: row.status,
  destructive: row.destructive,
  requiresApproval: row.requires_approval,
  steps: row.steps as PlanStep[],
  sql: row.sql,
  createdBy: row.created_by,
  createdAt: row.created_at,
  approvedBy: row.approved_by,
  approvedAt: row.approved_at,
  appliedBy: row.applied_by,
  appliedAt: row.applied_at,
  error: row.error,
});
