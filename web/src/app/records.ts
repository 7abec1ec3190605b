import type { InstalledApp, RecordRow, UiField, UiResource } from '../api/types.js';

/** Helpers shared by the generated list, detail and form screens. */

export const MASK = '[masked]';

export const findResource = (apps: InstalledApp[], app: string, resource: string): { app: InstalledApp; resource: UiResource } | undefined => {
  const found = apps.find((a) => a.app === app);
  const ui = found?.resources.find((r) => r.name === resource);
  return found && ui ? { app: found, resource: ui } : undefined;
};

export const isMasked = (row: RecordRow, field: string): boolean => row[field] === MASK || Boolean(row._masked?.includes(field));

export function displayValue(field: UiField | undefined, value: unknown): string {
  if (value === null || value === undefined || value === '') return '—';
  if (field?.type === 'boolean') return value ? 'Yes' : 'No';
  if (field?.type === 'money') {
    const minor = typeof value === 'number' ? value : Number(value);
    return Number.isFinite(minor) ? (minor / 100).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 }) : String(value);
  }
  if (field?.type === 'datetime' && typeof value === 'string') return new Date(value).toLocaleString();
  if (field?.type === 'json') return JSON.stringify(value);
  return String(value);
}

/** Text-like fields filter with `contains`, everything else with equality. */
export const TEXT_FILTER_TYPES = new Set(['text', 'long_text', 'email', 'url', 'phone']);

export const SYSTEM_FIELDS: Record<string, UiField> = {
  created_at: { name: 'created_at', label: 'Created', type: 'datetime', class: 'internal', required: true },
  updated_at: { name: 'updated_at', label: 'Updated', type: 'datetime', class: 'internal', required: true },
};
