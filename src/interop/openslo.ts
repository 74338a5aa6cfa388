/** What sloe's OpenSLO export and import share: the annotations that carry sloe's own settings, and durations. */
import { formatDuration } from '../rules/index.js';

/** Prefix of the annotations that carry what OpenSLO has no field for, so that an export imports back unchanged. */
export const SLOE = 'sloe.dev/';

export const ANNOTATIONS = {
  name: `${SLOE}name`,
  owner: `${SLOE}owner`,
  dashboards: `${SLOE}dashboards`,
  signal: `${SLOE}signal`,
  dashboard: `${SLOE}dashboard`,
  runbook: `${SLOE}runbook`,
  interval: `${SLOE}interval`,
  escalation: `${SLOE}escalation`,
  noData: `${SLOE}no-data`,
  noDataFor: `${SLOE}no-data-for`,
  maxSeries: `${SLOE}max-series`,
  for: `${SLOE}for`,
  resolveAfter: `${SLOE}resolve-after`,
  minEvents: `${SLOE}min-events`,
  baseline: `${SLOE}baseline`,
  when: `${SLOE}when`,
  severity: `${SLOE}severity`,
  objective: `${SLOE}objective`,
  budget: `${SLOE}budget`,
  shortWindow: `${SLOE}short-window`,
  escalationPolicy: `${SLOE}escalation-policy`,
  dependsOn: `${SLOE}depends-on`,
  inhibits: `${SLOE}inhibits`,
  inhibitFor: `${SLOE}inhibit-for`,
  compare: `${SLOE}compare`,
  query: (part: string) => `${SLOE}${part}-query`,
} as const;

/**
 * A duration as OpenSLO's shorthand (one number, one unit of m, h, d, w): `1h30m` → `90m`. Undefined for durations
 * that are not whole minutes.
 */
export function shorthand(ms: number): string | undefined {
  if (ms % 60_000 !== 0) return undefined;
  for (const [unit, size] of [
    ['w', 7 * 86_400_000],
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return undefined;
}

/** Days of OpenSLO's calendar units when used as rolling windows. */
const CALENDAR_DAYS: Record<string, number> = { M: 30, Q: 90, Y: 365 };

/**
 * Reads an OpenSLO duration shorthand (`5m`, `4w`, `1M`) into a Prometheus duration. Months, quarters and years
 * become 30, 90 and 365 days, said in `approximated`.
 */
export function fromShorthand(text: unknown): { duration: string; approximated?: string } | undefined {
  if (typeof text === 'number' && Number.isInteger(text) && text > 0) return { duration: `${text}m` };
  if (typeof text !== 'string') return undefined;
  const m = /^\s*(\d+)\s*([smhdwMQY])\s*$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2]!;
  if (n <= 0) return undefined;
  const days = CALENDAR_DAYS[unit];
  if (days !== undefined) {
    const duration = formatDuration(n * days * 86_400_000);
    return { duration, approximated: `${text.trim()} is taken as ${duration}` };
  }
  return { duration: `${n}${unit}` };
}
