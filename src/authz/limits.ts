import type { FieldIssue } from '../core/index.js';

/**
 * Bounds on tenant-written Cedar, checked on the text before any of it reaches the engine
 * (issue 12 §4). Cedar's parser, validator and evaluator recurse over the expression tree, and
 * cedar-wasm's Rust stack is 1 MB: measured on cedar-wasm 4.13, one policy faults the instance at
 * about 79 nested parentheses, 73 nested sets or records, or a chain of about 106 binary
 * operators (`a || b || …`, `1 + 1 + …`, `.attr.attr…`), whatever the bracket depth around it.
 * The limits sit well under those (about 20% and 60%), so a policy that passes cannot overflow,
 * and a tenant with more to say writes several policies (they compose: any permit, no forbid).
 *
 * The scan is a flat loop over the characters (no recursion of its own): strings and `//`
 * comments are skipped, brackets counted, operators counted per policy.
 */
export const CEDAR_LIMITS = {
  /** Bytes of one tenant's custom policy text (all policies together). */
  setBytes: 100_000,
  /** Policies in one tenant's custom set. */
  policies: 100,
  /** Bytes of one policy. */
  policyBytes: 10_000,
  /** Nesting of ( [ { inside one policy, counting the scope's own parentheses and `when {`. */
  depth: 16,
  /** Operators in one policy: && || == != < <= > >= + - * ! . in has like is if. */
  operators: 64,
} as const;

const POINTER = '/customPolicies';
const OPEN = new Set(['(', '[', '{']);
const CLOSE = new Set([')', ']', '}']);
const SYMBOL_OPERATORS = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '+', '-', '*', '!', '.'];
const WORD_OPERATORS = new Set(['in', 'has', 'like', 'is', 'if']);
const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;

/** The issues that refuse this text; empty when it is within every limit. */
export function cedarLimitIssues(text: string, limits = CEDAR_LIMITS): FieldIssue[] {
  const issue = (message: string): FieldIssue[] => [{ pointer: POINTER, message }];
  if (Buffer.byteLength(text, 'utf8') > limits.setBytes) return issue(`the custom policies are longer than ${limits.setBytes} bytes`);
  let policies = 0;
  let depth = 0;
  let operators = 0;
  let policyStart = 0;
  let i = 0;
  const policyNumber = () => policies + 1;
  while (i < text.length) {
    const char = text[i]!;
    if (char === '"') {
      i += 1;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i += 1;
      continue;
    }
    if (char === '/' && text[i + 1] === '/') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end + 1;
      continue;
    }
    if (OPEN.has(char)) {
      depth += 1;
      if (depth > limits.depth) return issue(`policy ${policyNumber()} nests brackets deeper than ${limits.depth} levels`);
      i += 1;
      continue;
    }
    if (CLOSE.has(char)) {
      depth = Math.max(0, depth - 1);
      i += 1;
      continue;
    }
    if (char === ';' && depth === 0) {
      if (Buffer.byteLength(text.slice(policyStart, i), 'utf8') > limits.policyBytes) return issue(`policy ${policyNumber()} is longer than ${limits.policyBytes} bytes`);
      policies += 1;
      if (policies > limits.policies) return issue(`more than ${limits.policies} policies`);
      operators = 0;
      policyStart = i + 1;
      i += 1;
      continue;
    }
    WORD.lastIndex = i;
    const word = WORD.exec(text)?.[0];
    if (word) {
      if (WORD_OPERATORS.has(word)) operators += 1;
      i += word.length;
    } else {
      const symbol = SYMBOL_OPERATORS.find((op) => text.startsWith(op, i));
      if (symbol) operators += 1;
      i += symbol?.length ?? 1;
    }
    if (operators > limits.operators) return issue(`policy ${policyNumber()} has more than ${limits.operators} operators; split it into several policies`);
  }
  if (Buffer.byteLength(text.slice(policyStart), 'utf8') > limits.policyBytes) return issue(`policy ${policyNumber()} is longer than ${limits.policyBytes} bytes`);
  return [];
}
