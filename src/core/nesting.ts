/**
 * How deep a JSON text nests, found by a flat scan (a recursive check would itself overflow on the
 * input it exists to refuse). Brackets inside strings do not count; the text need not be valid,
 * JSON.parse judges that afterwards. Used on JSON bodies (http) and on app spec text (YAML flow
 * collections use the same brackets).
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let isInString = false;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (isInString) {
      if (code === 0x5c) i += 1; // backslash: skip the escaped character
      else if (code === 0x22) isInString = false;
    } else if (code === 0x22) {
      isInString = true;
    } else if (code === 0x5b || code === 0x7b) {
      depth += 1;
      if (depth > limit) return true;
    } else if (code === 0x5d || code === 0x7d) {
      depth -= 1;
    }
  }
  return false;
}
