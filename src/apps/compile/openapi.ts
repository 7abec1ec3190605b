import type { AppSpec, FieldSpec } from '../spec/schema.js';
import { GATED_CLASSES, isEncrypted } from '../spec/model.js';

/** OpenAPI 3.1 for one app's data API, generated from the spec (never edited by hand). */

export function fieldJsonSchema(field: FieldSpec): Record<string, unknown> {
  const base: Record<string, unknown> = { 'x-rampart-class': field.class, ...(field.label ? { title: field.label } : {}) };
  if (GATED_CLASSES[field.class]) base['x-rampart-masked-unless'] = GATED_CLASSES[field.class];
  if (isEncrypted(field.class)) base['x-rampart-encrypted'] = true;
  const bounds = (min: string, max: string) => ({ ...(field.min !== undefined ? { [min]: field.min } : {}), ...(field.max !== undefined ? { [max]: field.max } : {}) });
  switch (field.type) {
    case 'integer':
      return { ...base, type: 'integer', ...bounds('minimum', 'maximum') };
    case 'money':
      return { ...base, type: ['integer', 'string'], description: `integer minor units of ${field.currency ?? 'the currency'}`, ...bounds('minimum', 'maximum') };
    case 'decimal':
      return { ...base, type: ['number', 'string'], ...bounds('minimum', 'maximum') };
    case 'boolean':
      return { ...base, type: 'boolean' };
    case 'date':
      return { ...base, type: 'string', format: 'date' };
    case 'datetime':
      return { ...base, type: 'string', format: 'date-time' };
    case 'reference':
      return { ...base, type: 'string', format: 'uuid', 'x-rampart-references': field.to };
    case 'json':
      return { ...base };
    case 'enum':
      return { ...base, type: 'string', enum: field.values };
    case 'email':
      return { ...base, type: 'string', format: 'email', ...bounds('minLength', 'maxLength') };
    case 'url':
      return { ...base, type: 'string', format: 'uri', ...bounds('minLength', 'maxLength') };
    default:
      return { ...base, type: 'string', ...(field.pattern ? { pattern: field.pattern } : {}), ...bounds('minLength', 'maxLength') };
  }
}

export function dataApiOpenApi(spec: AppSpec, hash: string): Record<string, unknown> {
  const schemas: Record<string, unknown> = {};
  const paths: Record<string, unknown> = {};
  const problem = { description: 'problem+json (RFC 9457)', content: { 'application/problem+json': { schema: { type: 'object' } } } };
  for (const resource of spec.resources) {
    const name = `${spec.app}.${resource.name}`;
    schemas[name] = {
      type: 'object',
      properties: {
        id: { type: 'string', format: 'uuid', readOnly: true },
        owner_id: { type: ['string', 'null'], readOnly: true },
        created_at: { type: 'string', format: 'date-time', readOnly: true },
        updated_at: { type: 'string', format: 'date-time', readOnly: true },
        ...Object.fromEntries(resource.fields.map((f) => [f.name, fieldJsonSchema(f)])),
      },
      required: resource.fields.filter((f) => f.required).map((f) => f.name),
      additionalProperties: false,
    };
    const ref = { $ref: `#/components/schemas/${name}` };
    const auth = (action: string) => ({ 'x-rampart-authz': { action, resource: `${spec.app}__${resource.name}` }, responses: { '200': { description: 'OK', content: { 'application/json': { schema: ref } } }, '400': problem, '401': problem, '403': problem, '404': problem } });
    paths[`/api/v1/apps/${spec.app}/${resource.name}`] = {
      get: { summary: `List ${resource.label ?? resource.name} (filters: ?field=value or ?field[op]=value; sort; cursor; limit <= 200)`, ...auth('list') },
      post: { summary: `Create ${resource.name}`, requestBody: { content: { 'application/json': { schema: ref } } }, ...auth('create') },
    };
    paths[`/api/v1/apps/${spec.app}/${resource.name}/{id}`] = { get: auth('read'), patch: { requestBody: { content: { 'application/json': { schema: ref } } }, ...auth('update') }, delete: auth('delete') };
    paths[`/api/v1/apps/${spec.app}/${resource.name}/export`] = { get: { summary: 'CSV export (masked by data class; audited)', ...auth('export') } };
  }
  return { openapi: '3.1.0', info: { title: `${spec.title} data API`, version: String(spec.version), description: `Generated from app spec ${spec.app} v${spec.version} (${hash}); do not edit.` }, paths, components: { schemas } };
}
