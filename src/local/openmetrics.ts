/** Writes metric history in the OpenMetrics text format, for `promtool tsdb create-blocks-from openmetrics`. */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/** One series and its samples (`[unix milliseconds, value]`, in time order). */
export interface SeriesHistory {
  name: string;
  labels?: Record<string, string>;
  samples: Iterable<readonly [number, number]>;
}

function escape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** The sample lines of one series. */
export function* seriesLines(series: SeriesHistory): Generator<string> {
  const labels = Object.entries(series.labels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}="${escape(v)}"`)
    .join(',');
  const id = labels ? `${series.name}{${labels}}` : series.name;
  for (const [t, v] of series.samples) yield `${id} ${formatValue(v)} ${t / 1000}\n`;
}

/**
 * Writes series to a file; series of the same metric name must be given together (OpenMetrics keeps a metric
 * family in one block), which this enforces by grouping them.
 */
export async function writeOpenMetrics(file: string, series: Iterable<SeriesHistory>): Promise<void> {
  const byName = new Map<string, SeriesHistory[]>();
  for (const s of series) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  const out = createWriteStream(file);
  for (const group of byName.values()) {
    for (const s of group) {
      for (const line of seriesLines(s)) {
        if (!out.write(line)) await once(out, 'drain');
      }
    }
  }
  out.end('# EOF\n');
  await once(out, 'finish');
}
