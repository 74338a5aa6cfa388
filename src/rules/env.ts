/**
 * `${NAME}` references inside SLO files. Only a few fields take them (a step's `channel` and `routingKey`), and only
 * for names on an allow-list the operator controls (`SLOE_SPEC_ENV_ALLOW`, never a spec); sloe's own credentials can
 * never be referenced. `validate` checks them; the engine fills them in, with the same rule at load and at send time.
 */

import { UsageError } from './usage-error.js';

const REFERENCE_START = '${';
/** The longest variable name a reference may hold; longer ones are reported, not scanned further. */
const MAX_NAME = 128;
/** Malformed references reported per string: the first few say what is wrong. */
const MAX_ERRORS = 10;

/** The allow-list when SLOE_SPEC_ENV_ALLOW is not set. */
export const DEFAULT_ENV_ALLOW = ['SLOE_*', 'PAGERDUTY_*_KEY', 'SLACK_CHANNEL_*'] as const;

/**
 * Variables no spec may read, whatever the allow-list says: sloe's own credentials, and settings that may carry
 * credentials (URLs with userinfo) or that would widen the allow-list itself.
 */
export const ENGINE_SECRETS: ReadonlySet<string> = new Set([
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'PAGERDUTY_API_TOKEN',
  'PAGERDUTY_WEBHOOK_SECRET',
  'SLOE_API_TOKEN',
  'PROMETHEUS_BEARER_TOKEN',
  'PROMETHEUS_PASSWORD',
  'PROMETHEUS_URL',
  'REDIS_URL',
  'SLOE_SPEC_ENV_ALLOW',
]);

export interface EnvReference {
  name: string;
  offset: number;
  length: number;
}

/** Finds the references in a string; malformed ones come back as errors with their offset. Linear in the text. */
export function scanReferences(text: string): { refs: EnvReference[]; errors: Array<{ offset: number; message: string }> } {
  const refs: EnvReference[] = [];
  const errors: Array<{ offset: number; message: string }> = [];
  let from = 0;
  for (;;) {
    const at = text.indexOf(REFERENCE_START, from);
    if (at < 0) break;
    const end = nameEnd(text, at + 2);
    if (end > at + 2 && end - (at + 2) <= MAX_NAME && text.charCodeAt(end) === 0x7d /* } */ && !isDigit(text.charCodeAt(at + 2))) {
      refs.push({ name: text.slice(at + 2, end), offset: at, length: end + 1 - at });
      from = end + 1;
      continue;
    }
    if (errors.length < MAX_ERRORS) {
      errors.push({
        offset: at,
        message: `malformed environment reference ${JSON.stringify(referenceText(text, at))}: expected \${NAME}, NAME made of letters, digits and _ (not starting with a digit)`,
      });
    }
    // Skip what was looked at (name characters hold no `${`), so that each character is read a bounded number of times.
    from = Math.max(at + 2, end);
  }
  return { refs, errors };
}

/** The reference starting at `at` as written, for messages: up to its `}`, at most 40 characters. */
export function referenceText(text: string, at: number): string {
  const limit = Math.min(text.length, at + 40);
  for (let i = at + 2; i < limit; i++) {
    if (text.charCodeAt(i) === 0x7d) return text.slice(at, i + 1);
    if (text.startsWith(REFERENCE_START, i)) return text.slice(at, i);
  }
  return limit < text.length ? `${text.slice(at, limit)}…` : text.slice(at, limit);
}

/** Which variable names specs may reference: glob patterns (`*` matches any run of characters). */
export class EnvAllowList {
  readonly patterns: readonly string[];

  constructor(patterns: readonly string[] = DEFAULT_ENV_ALLOW) {
    this.patterns = patterns;
  }

  /** The allow-list of an environment: SLOE_SPEC_ENV_ALLOW (comma-separated globs) or the default. */
  static fromEnv(env: NodeJS.ProcessEnv): EnvAllowList {
    const given = env.SLOE_SPEC_ENV_ALLOW;
    if (given === undefined || given.trim() === '') return new EnvAllowList();
    const patterns = given
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const bad = patterns.find((p) => !/^[A-Za-z0-9_*]{1,128}$/.test(p));
    if (bad !== undefined) {
      throw new AllowListError(`SLOE_SPEC_ENV_ALLOW: ${JSON.stringify(bad)} is not a variable name pattern (letters, digits, _ and *)`);
    }
    return new EnvAllowList(patterns);
  }

  /** Why a spec may not read `name`, or undefined when it may. */
  refusal(name: string): string | undefined {
    if (ENGINE_SECRETS.has(name)) return `environment variable ${name} is a credential of sloe itself and can never be referenced`;
    if (!this.patterns.some((p) => globMatch(p, name))) {
      return `environment variable ${name} is not allowed in specs: allowed are ${this.patterns.join(', ')} (set SLOE_SPEC_ENV_ALLOW to change the list)`;
    }
    return undefined;
  }
}

/** SLOE_SPEC_ENV_ALLOW is malformed: a usage error of whichever command reads it. */
export class AllowListError extends UsageError {}

/**
 * Replaces every reference by its variable's value. Names the allow-list refuses are never read (`refused`); names
 * that are not set, or set to nothing, are `missing`. Both are replaced by nothing.
 */
export function expandReferences(
  text: string,
  env: NodeJS.ProcessEnv,
  allow: EnvAllowList = safeAllowList(env),
): { value: string; missing: string[]; refused: string[] } {
  const { refs } = scanReferences(text);
  const missing: string[] = [];
  const refused: string[] = [];
  let value = '';
  let last = 0;
  for (const r of refs) {
    let v: string | undefined;
    if (allow.refusal(r.name) !== undefined) refused.push(r.name);
    else {
      v = env[r.name] || undefined;
      if (v === undefined) missing.push(r.name);
    }
    value += text.slice(last, r.offset) + (v ?? '');
    last = r.offset + r.length;
  }
  return { value: value + text.slice(last), missing, refused };
}

/** The allow-list of an environment; a malformed SLOE_SPEC_ENV_ALLOW allows nothing but the default. */
function safeAllowList(env: NodeJS.ProcessEnv): EnvAllowList {
  try {
    return EnvAllowList.fromEnv(env);
  } catch {
    return new EnvAllowList();
  }
}

/** Where a run of name characters starting at `from` ends (bounded: at most MAX_NAME + 1 characters are read). */
function nameEnd(text: string, from: number): number {
  let i = from;
  const limit = Math.min(text.length, from + MAX_NAME + 1);
  while (i < limit && isNameChar(text.charCodeAt(i))) i++;
  return i;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isNameChar(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

/** Glob matching with `*` only, without backtracking blow-up (greedy with one saved star position). */
export function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === name[n]) {
      p++;
      n++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = n;
    } else if (star >= 0) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
