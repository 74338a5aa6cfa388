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
 * Writes series to OpenMetrics files, one per `partitionMs` of time (`<prefix>-<n>.om`), and returns their names.
 * promtool reads its whole input once per 2h block it creates, so one file per day keeps loading long histories
 * linear. Series of the same metric name are written together (OpenMetrics keeps a metric family in one block).
 */
export async function writeOpenMetrics(prefix: string, series: Iterable<SeriesHistory>, partitionMs = 86_400_000): Promise<string[]> {
  const byName = new Map<string, SeriesHistory[]>();
  for (const s of series) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  const outs = new Map<number, ReturnType<typeof createWriteStream>>();
  for (const group of byName.values()) {
    for (const s of group) {
      for (const sample of s.samples) {
        const part = Math.floor(sample[0] / partitionMs);
        let out = outs.get(part);
        if (!out) outs.set(part, (out = createWriteStream(`${prefix}-${part}.om`)));
        const [line] = seriesLines({ name: s.name, labels: s.labels, samples: [sample] });
        if (!out.write(line!)) await once(out, 'drain');
      }
    }
  }
  for (const out of outs.values()) {
    out.end('# EOF\n');
    await once(out, 'finish');
  }
  return [...outs.keys()].sort((a, b) => a - b).map((part) => `${prefix}-${part}.om`);
}
