/**
 * A tiny tagged template for server-rendered pages: every interpolation is HTML-escaped unless it
 * is itself the output of `html`. There is deliberately no "raw" escape hatch, so a tenant name,
 * a `return_to` or anything else a request or the database supplies can never become markup
 * (stored and reflected XSS).
 */

const SAFE = Symbol('rampart.safe-html');

export type SafeHtml = { readonly [SAFE]: true; readonly value: string };

/** What may be interpolated: text (escaped), numbers, nested `html`, lists of those; false/null/undefined render nothing. */
export type Interpolation = SafeHtml | string | number | boolean | null | undefined | readonly Interpolation[];

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes for text and quoted attribute values (every template here quotes its attributes). */
export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (c) => ENTITIES[c]!);

const isSafe = (value: unknown): value is SafeHtml => typeof value === 'object' && value !== null && (value as { [SAFE]?: unknown })[SAFE] === true;

function render(value: Interpolation): string {
  if (value === null || value === undefined || value === false || value === true) return '';
  if (isSafe(value)) return value.value;
  if (Array.isArray(value)) return value.map((v: Interpolation) => render(v)).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i += 1) out += render(values[i]) + (strings[i + 1] ?? '');
  return { [SAFE]: true, value: out };
}
