import type { AppSpec } from '../spec/schema.js';
import { GATED_CLASSES } from '../spec/model.js';

/** What the dashboard needs to render an app: navigation, list columns and filters, form layout. */

export type UiMetadata = {
  app: string;
  title: string;
  resources: Array<{
    name: string;
    label: string;
    fields: Array<{ name: string; label: string; type: string; class: string; required: boolean; values?: string[]; to?: string; maskedUnless?: string }>;
    list: { columns: string[]; filters: string[]; sort?: string };
    form: { sections: Array<{ title: string; fields: string[] }> };
  }>;
};

const labelOf = (name: string) => name.replaceAll('_', ' ').replace(/^./, (c) => c.toUpperCase());

export function uiMetadata(spec: AppSpec): UiMetadata {
  return {
    app: spec.app,
    title: spec.title,
    resources: spec.resources.map((resource) => {
      const view = spec.views[resource.name];
      const fieldNames = resource.fields.map((f) => f.name);
      return {
        name: resource.name,
        label: resource.label ?? labelOf(resource.name),
        fields: resource.fields.map((f) => ({
          name: f.name,
          label: f.label ?? labelOf(f.name),
          type: f.type,
          class: f.class,
          required: f.required,
          ...(f.values ? { values: f.values } : {}),
          ...(f.to ? { to: f.to } : {}),
          ...(GATED_CLASSES[f.class] ? { maskedUnless: GATED_CLASSES[f.class] } : {}),
        })),
        list: { columns: view?.list?.columns ?? fieldNames.slice(0, 6), filters: view?.list?.filters ?? [], ...(view?.list?.sort ? { sort: view.list.sort } : {}) },
        form: { sections: view?.form?.sections ?? [{ title: resource.label ?? labelOf(resource.name), fields: fieldNames }] },
      };
    }),
  };
}
