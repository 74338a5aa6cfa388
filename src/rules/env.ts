/** `${NAME}` references inside strings of SLO files: checked by `validate`, filled in when the engine runs. */

const REFERENCE_START = '${';
const REFERENCE_RE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}/;

export interface EnvReference {
  name: string;
  offset: number;
  length: number;
}

/** Finds the references in a string; malformed ones come back as errors with their offset. */
export function scanReferences(text: string): { refs: EnvReference[]; errors: Array<{ offset: number; message: string }> } {
  const refs: EnvReference[] = [];
  const errors: Array<{ offset: number; message: string }> = [];
  let from = 0;
  for (;;) {
    const at = text.indexOf(REFERENCE_START, from);
    if (at < 0) break;
    const m = REFERENCE_RE.exec(text.slice(at));
    if (m) {
      refs.push({ name: m[1]!, offset: at, length: m[0].length });
      from = at + m[0].length;
    } else {
      const close = text.indexOf('}', at);
      const shown = close < 0 ? text.slice(at) : text.slice(at, close + 1);
      errors.push({
        offset: at,
        message: `malformed environment reference ${JSON.stringify(shown)}: expected \${NAME}, NAME made of letters, digits and _ (not starting with a digit)`,
      });
      from = at + 2;
    }
  }
  return { refs, errors };
}

/** Replaces every reference by its variable's value; returns the names that are not set (or set to nothing). */
export function expandReferences(text: string, env: NodeJS.ProcessEnv): { value: string; missing: string[] } {
  const { refs } = scanReferences(text);
  const missing: string[] = [];
  let value = '';
  let last = 0;
  for (const r of refs) {
    const v = env[r.name] || undefined;
    if (v === undefined) missing.push(r.name);
    value += text.slice(last, r.offset) + (v ?? '');
    last = r.offset + r.length;
  }
  return { value: value + text.slice(last), missing };
}
