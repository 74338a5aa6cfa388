/**
 * `${NAME}` references inside SLO files. Only two fields take them, each typed: a step's `channel` may name only
 * `SLACK_CHANNEL_*` variables, its `routingKey` only `PAGERDUTY_*_KEY` ones. The operator's allow-list
 * (`SLOE_SPEC_ENV_ALLOW`, never a spec) narrows that further, and the variables sloe itself reads (its credentials and
 * settings: `SLOE_*`, `REDIS_*`, `PROMETHEUS_*`, …) can never be referenced. `validate` checks them; the engine fills
 * them in when it sends, with the same rule.
 */

import { UsageError } from './usage-error.js';

const REFERENCE_START = '${';
/** The longest variable name a reference may hold; longer ones are reported, not scanned further. */
const MAX_NAME = 128;
/** Malformed references reported per string: the first few say what is wrong. */
const MAX_ERRORS = 10;

/** The fields that take references, and the variables each may name (before the allow-list narrows it). */
export const REFERENCE_TYPES = { channel: 'SLACK_CHANNEL_*', routingKey: 'PAGERDUTY_*_KEY' } as const;
export type ReferenceField = keyof typeof REFERENCE_TYPES;

/** The allow-list when SLOE_SPEC_ENV_ALLOW is not set: what the reference fields may name at all. */
export const DEFAULT_ENV_ALLOW = [REFERENCE_TYPES.routingKey, REFERENCE_TYPES.channel] as const;

/**
 * sloe's own credentials, and settings that may carry credentials (URLs with userinfo): named in messages, since a
 * reference to one of them is an attempt to read a secret.
 */
export const ENGINE_SECRETS: ReadonlySet<string> = new Set([
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'PAGERDUTY_API_TOKEN',
  'PAGERDUTY_TOKEN',
  'PAGERDUTY_API_KEY',
  'PAGERDUTY_WEBHOOK_SECRET',
  'SLOE_API_TOKEN',
  'PROMETHEUS_BEARER_TOKEN',
  'PROMETHEUS_PASSWORD',
  'PROMETHEUS_URL',
  'REDIS_URL',
  'REDIS_PASSWORD',
  'REDIS_SENTINEL_PASSWORD',
]);

/**
 * Variables no spec may read, whatever the allow-list says: every variable sloe itself reads (its credentials and
 * settings: `SLOE_*`, `REDIS_*`, `PROMETHEUS_*`, the Slack and PagerDuty ones other than channels and routing keys),
 * and whatever is named like a credential (`*_TOKEN`, `*_SECRET`, `*_PASSWORD`). PAGERDUTY_ROUTING_KEY, the default
 * routing key, is a routing key like any other and stays readable by a `routingKey`.
 */
export const ENGINE_VARIABLES: readonly string[] = [
  'SLOE_*',
  'REDIS_*',
  'PROMETHEUS_*',
  'SLACK_BOT_*',
  'SLACK_SIGNING_*',
  'SLACK_APP_*',
  'SLACK_API_*',
  'SLACK_CLIENT_*',
  'PAGERDUTY_API_*',
  'PAGERDUTY_TOKEN',
  'PAGERDUTY_WEBHOOK_*',
  'PAGERDUTY_EVENTS_*',
  'PAGERDUTY_FROM',
  'LOG_LEVEL',
  'GITHUB_*',
  'NODE_*',
  'PATH',
  'HOME',
  '*_TOKEN',
  '*_SECRET',
  '*_PASSWORD',
  '*_PASSWD',
  '*_CREDENTIALS',
];

/** A Slack channel as a step names it: `#name` (no whitespace or markup characters) or a channel id. */
const SLACK_CHANNEL = /^(#[^\s#<>&|]+|[CGD][A-Z0-9]{2,})$/;
/** The longest channel a step may name. */
const MAX_CHANNEL = 256;

export function isSlackChannel(value: string): boolean {
  return value.length <= MAX_CHANNEL && SLACK_CHANNEL.test(value);
}

/**
 * The Slack channel of a step, its references filled in from `env` with the rule of `validate`; an error (naming the
 * channel as written, never its value) when a name is refused, unset, or its value is not a channel.
 */
export function slackChannel(written: string, env: NodeJS.ProcessEnv): { channel: string } | { error: string } {
  if (!written.includes(REFERENCE_START)) return { channel: written };
  const { value, missing, refused } = expandReferences(written, 'channel', env);
  if (refused.length > 0)
    return { error: `channel ${written} names a variable that specs may not read: ${refused.join(', ')}` };
  if (missing.length > 0)
    return { error: `channel ${written}: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set` };
  if (!isSlackChannel(value))
    return { error: `channel ${written} does not hold a Slack channel ("#name" or a channel id)` };
  return { channel: value };
}

/** True when `name` is a variable sloe itself reads, or named like a credential: never readable by a spec. */
export function isEngineVariable(name: string): boolean {
  return ENGINE_SECRETS.has(name) || ENGINE_VARIABLES.some((p) => globMatch(p, name));
}

export interface EnvReference {
  name: string;
  offset: number;
  length: number;
}

/** Finds the references in a string; malformed ones come back as errors with their offset. Linear in the text. */
export function scanReferences(text: string): {
  refs: EnvReference[];
  errors: Array<{ offset: number; message: string }>;
} {
  const refs: EnvReference[] = [];
  const errors: Array<{ offset: number; message: string }> = [];
  let from = 0;
  for (;;) {
    const at = text.indexOf(REFERENCE_START, from);
    if (at < 0) break;
    const end = nameEnd(text, at + 2);
    if (
      end > at + 2 &&
      end - (at + 2) <= MAX_NAME &&
      text.charCodeAt(end) === 0x7d /* } */ &&
      !isDigit(text.charCodeAt(at + 2))
    ) {
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
      throw new AllowListError(
        `SLOE_SPEC_ENV_ALLOW: ${JSON.stringify(bad)} is not a variable name pattern (letters, digits, _ and *)`,
      );
    }
    return new EnvAllowList(patterns);
  }

  /** Why a spec may not read `name` in `field`, or undefined when it may. */
  refusal(name: string, field: ReferenceField): string | undefined {
    if (ENGINE_SECRETS.has(name))
      return `environment variable ${name} is a credential of sloe itself and can never be referenced`;
    if (isEngineVariable(name))
      return `environment variable ${name} is a setting or credential of sloe itself and can never be referenced`;
    const type = REFERENCE_TYPES[field];
    if (!globMatch(type, name)) return `a ${field} may reference only ${type} variables, not ${name}`;
    if (!this.patterns.some((p) => globMatch(p, name))) {
      return `environment variable ${name} is not allowed in specs: allowed are ${this.patterns.join(', ')} (set SLOE_SPEC_ENV_ALLOW to change the list)`;
    }
    return undefined;
  }
}

/** SLOE_SPEC_ENV_ALLOW is malformed: a usage error of whichever command reads it. */
export class AllowListError extends UsageError {}

/**
 * Replaces every reference in a `field` by its variable's value. Names the field's type or the allow-list refuses
 * are never read (`refused`); names that are not set, or set to nothing, are `missing`. Both are replaced by nothing.
 */
export function expandReferences(
  text: string,
  field: ReferenceField,
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
    if (allow.refusal(r.name, field) !== undefined) refused.push(r.name);
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
