/** Prometheus durations (`30s`, `5m`, `1h30m`, `7d`, `4w`), kept as milliseconds. */

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['y', 365 * 24 * 3600_000],
  ['w', 7 * 24 * 3600_000],
  ['d', 24 * 3600_000],
  ['h', 3600_000],
  ['m', 60_000],
  ['s', 1000],
  ['ms', 1],
];

/**
 * The pattern of a Prometheus duration, for the JSON Schema: units from largest to smallest, each at most once.
 * sloe itself parses durations with parseDuration.
 */
export const DURATION_PATTERN = '^(0|([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$';

/**
 * Reads a duration left to right (linear in the text). `ms` may be Infinity or beyond what a timer takes when the
 * numbers are huge; undefined when the text is not a duration at all.
 */
function scan(text: string): number | undefined {
  if (text === '0') return 0;
  if (text === '') return undefined;
  let i = 0;
  let last = -1;
  let ms = 0;
  while (i < text.length) {
    const start = i;
    while (i < text.length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    if (i === start) return undefined;
    const digits = text.slice(start, i);
    const unit = text.startsWith('ms', i) ? 'ms' : text[i];
    const index = UNITS.findIndex(([u]) => u === unit);
    // Units go from largest to smallest, each at most once.
    if (index <= last) return undefined;
    last = index;
    i += unit!.length;
    ms += Number(digits) * UNITS[index]![1];
  }
  return ms;
}

/** True when the text is written as a Prometheus duration, whatever its size. */
export function isDurationText(text: string): boolean {
  return scan(text) !== undefined;
}

/** Parses a Prometheus duration into milliseconds; undefined when it is not one, or too large to be a number of ms. */
export function parseDuration(text: string | number): number | undefined {
  if (text === 0) return 0;
  if (typeof text !== 'string') return undefined;
  const ms = scan(text);
  return ms !== undefined && ms <= Number.MAX_SAFE_INTEGER ? ms : undefined;
}

/** Formats milliseconds as the shortest Prometheus duration (`90000` → `1m30s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of UNITS) {
    if (unit === 'y' || (unit === 'w' && rest % size !== 0)) continue;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

/** The range a duration field accepts, both ends included. */
export interface DurationBounds {
  min: string;
  max: string;
}

/** Why a duration is out of `bounds` (`must be at least 1s (got 1ms)`), or undefined when it is within them. */
export function durationOutOfBounds(text: string | number, bounds: DurationBounds): string | undefined {
  const shown = typeof text === 'number' ? String(text) : text.length > 24 ? `${text.slice(0, 20)}…` : text;
  const ms = parseDuration(text);
  if (ms === undefined) {
    return typeof text === 'string' && isDurationText(text)
      ? `must be at most ${bounds.max} (got ${shown})`
      : undefined;
  }
  if (ms < parseDuration(bounds.min)!) return `must be at least ${bounds.min} (got ${shown})`;
  if (ms > parseDuration(bounds.max)!) return `must be at most ${bounds.max} (got ${shown})`;
  return undefined;
}
