/** Writes metric history in the OpenMetrics text format, for `promtool tsdb create-blocks-from openmetrics`. */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/** One series and its samples (`[unix milliseconds, value]`, in time order). */
export interface SeriesHistory {
  name: string;
  labels?: Record<string, string>;
  samples: Iterable<readonly [number, number]>;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** The name and labels of a series as they start each of its sample lines. */
function seriesId(series: SeriesHistory): string {
  const labels = Object.entries(series.labels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(',');
  return labels ? `${series.name}{${labels}}` : series.name;
}

/**
 * Writes series to OpenMetrics files, one per `partitionMs` of time (`<prefix>-<n>.om`), and returns their names.
 * promtool reads its whole input once per 2h block it creates, so one file per day keeps loading long histories
 * linear. Series of the same metric name are written together (OpenMetrics keeps a metric family in one block).
 */
export async function writeOpenMetrics(
  prefix: string,
  series: Iterable<SeriesHistory>,
  partitionMs = 86_400_000,
): Promise<string[]> {
  const byName = new Map<string, SeriesHistory[]>();
  for (const s of series) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  const outs = new Map<number, ReturnType<typeof createWriteStream>>();
  for (const group of byName.values()) {
    for (const s of group) {
      const id = seriesId(s);
      for (const [t, v] of s.samples) {
        const part = Math.floor(t / partitionMs);
        let out = outs.get(part);
        if (!out) outs.set(part, (out = createWriteStream(`${prefix}-${part}.om`)));
        if (!out.write(`${id} ${formatValue(v)} ${t / 1000}\n`)) await once(out, 'drain');
      }
    }
  }
  for (const out of outs.values()) {
    out.end('# EOF\n');
    await once(out, 'finish');
  }
  return [...outs.keys()].sort((a, b) => a - b).map((part) => `${prefix}-${part}.om`);
}
