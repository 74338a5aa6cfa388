/** Shared option handling of the sloe commands. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { type CheckOptions, UsageError, checkOptionsFromEnv } from '../rules/index.js';

export const DEFAULT_PATHS = ['slos'];

/** Parses a command's arguments; unknown options are usage errors. */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  try {
    return parseArgs({
      args,
      options: { help: { type: 'boolean', short: 'h' }, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Check options from `--high-cardinality-labels` and SLOE_HIGH_CARDINALITY_LABELS. */
export function checkOptions(flag: string | undefined, env: NodeJS.ProcessEnv): CheckOptions {
  return checkOptionsFromEnv(env, flag);
}

export function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
  }
  return value as T;
}

/** Parses a time given as RFC 3339 or Unix seconds into unix milliseconds. */
export function parseTime(name: string, text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(text)) {
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new UsageError(
    `--${name} must be an RFC 3339 time (2026-03-01T10:00:00Z) or Unix seconds (got ${JSON.stringify(text)})`,
  );
}

/** RFC 3339 in UTC, without milliseconds when they are zero. */
export function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
