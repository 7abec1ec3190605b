import type { AttributeRule, Matrix, PolicySetInput, ResourceDefinition } from './types.js';

/**
 * An example catalog (used by the tests, the benchmark and the docs): three resources, five roles,
 * and the attribute rules the controls name as examples (AZ-3).
 */
export const sampleResources: ResourceDefinition[] = [
  { name: 'customer', actions: ['list', 'read', 'create', 'update', 'delete', 'export'], attributes: { owner: true, department: true, region: true, sensitivity: true } },
  { name: 'invoice', actions: ['list', 'read', 'create', 'update', 'delete', 'export', 'refund'], attributes: { owner: true, department: true, region: true, sensitivity: true } },
  { name: 'audit_event', actions: ['list', 'read', 'export'], attributes: { region: true } },
];

export const sampleRoles = ['admin', 'finance', 'member', 'viewer', 'dpo'];

export const sampleMatrix: Matrix = {
  admin: {
    customer: ['list', 'read', 'create', 'update', 'delete', 'export'],
    invoice: ['list', 'read', 'create', 'update', 'delete', 'export', 'refund'],
    audit_event: ['list', 'read'],
  },
  finance: { customer: ['list', 'read'], invoice: ['list', 'read', 'create', 'update', 'export'] },
  member: { customer: ['list', 'read', 'create'], invoice: ['list', 'read'] },
  viewer: { customer: ['list', 'read'], invoice: ['list', 'read'] },
  dpo: { customer: ['list', 'read', 'export'], audit_event: ['list', 'read', 'export'] },
};

export const sampleRules: AttributeRule[] = [
  {
    id: 'finance-refunds-own-region',
    description: 'finance may refund only invoices of their region',
    effect: 'permit',
    roles: ['finance'],
    resource: 'invoice',
    actions: ['refund'],
    when: [{ record: 'region', op: 'eq', value: { principal: 'region' } }],
  },
  {
    id: 'members-update-own-customers',
    description: 'a member may update only records they own',
    effect: 'permit',
    roles: ['member'],
    resource: 'customer',
    actions: ['update'],
    when: [{ record: 'owner', op: 'eq', value: { principal: 'id' } }],
  },
  {
    id: 'only-dpo-exports-pii',
    description: 'nobody but the dpo role exports PII',
    effect: 'forbid',
    roles: '*',
    exceptRoles: ['dpo'],
    resource: '*',
    actions: ['export'],
    when: [{ record: 'sensitivity', op: 'in', value: ['pii', 'phi'] }],
  },
];

export const samplePolicySet: PolicySetInput = { resources: sampleResources, roles: sampleRoles, matrix: sampleMatrix, rules: sampleRules };
