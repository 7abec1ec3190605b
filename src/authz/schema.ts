import type { SchemaJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { Catalog } from './validate.js';
import type { RecordAttribute } from './types.js';

export type CedarSchema = SchemaJson<string>;

/**
 * The Cedar schema (JSON format, empty namespace) for a catalog:
 *
 * - `User` with optional `department` and `region` strings, member of `Role`;
 * - `Role`, an enumerated entity type listing the known roles, so a policy naming a role that does
 *   not exist (`Role::"amdin"`) fails validation instead of never matching;
 * - one entity type per resource, named like the resource, with the record attributes it declares
 *   (all optional: `owner` is a `User` reference, the others strings);
 * - one action per (resource, action), named `Action::"<resource>:<action>"`, applying to `User`
 *   and that resource only, so an action id says unambiguously what it acts on.
 */
export function cedarSchema(catalog: Pick<Catalog, 'resources' | 'roles'>): CedarSchema {
  const entityTypes: CedarSchema[string]['entityTypes'] = {
    User: {
      memberOfTypes: ['Role'],
      shape: { type: 'Record', attributes: { department: { type: 'String', required: false }, region: { type: 'String', required: false } } },
    },
    // Cedar needs a non-empty enum; a catalog without roles falls back to a plain entity type.
    Role: catalog.roles.length ? { enum: [...catalog.roles] } : {},
  };
  const actions: CedarSchema[string]['actions'] = {};
  for (const [name, definition] of catalog.resources) {
    const attributes: Record<string, { type: 'String'; required: false } | { type: 'Entity'; name: string; required: false }> = {};
    for (const attribute of [...definition.attributes].sort()) attributes[attribute] = attributeType(attribute);
    entityTypes[name] = { shape: { type: 'Record', attributes } };
    for (const action of [...definition.actions].sort()) {
      actions[actionId(name, action)] = { appliesTo: { principalTypes: ['User'], resourceTypes: [name] } };
    }
  }
  return { '': { entityTypes, actions } };
}

export const actionId = (resource: string, action: string): string => `${resource}:${action}`;

function attributeType(attribute: RecordAttribute) {
  return attribute === 'owner' ? ({ type: 'Entity', name: 'User', required: false } as const) : ({ type: 'String', required: false } as const);
}
