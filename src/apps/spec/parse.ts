import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { canonicalJson } from '../../audit/index.js';
import { jsonDepthExceeds, sha256Hex } from '../../core/index.js';
import { appSpecSchema, type AppSpec } from './schema.js';

const SPEC_DEPTH = 64;

/** Spec text (YAML or JSON; JSON is YAML) to a plain value. Throws a readable Error on bad syntax. */
export function parseSpecText(text: string): unknown {
  if (text.length > 1_000_000) throw new Error('spec is larger than 1 MB');
  // The YAML parser recurses into flow collections (`[[[…`): bounded first, like JSON bodies. A
  // valid spec nests a handful of levels; the count errs high on brackets in plain scalars only.
  if (jsonDepthExceeds(text, SPEC_DEPTH)) throw new Error(`spec nests deeper than ${SPEC_DEPTH} levels`);
  // Aliases are refused: an alias bomb expands a small file into gigabytes.
  return parseYaml(text, { maxAliasCount: 0, prettyErrors: true, uniqueKeys: true });
}

/** The spec's identity: SHA-256 of its canonical JSON (key order and whitespace do not matter). */
export const specHash = (spec: AppSpec): string => `sha256:${sha256Hex(canonicalJson(spec))}`;

/** The published JSON Schema (draft 2020-12) of an app spec, as an editor or a model sees it. */
export function appSpecJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(appSpecSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, $id: 'urn:rampart:app-spec:v1', title: 'Rampart app spec', description: 'Generated from src/apps/spec/schema.ts; do not edit.' };
}
