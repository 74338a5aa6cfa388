import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { grafanaDashboards } from '../dashboards/grafana.js';
import { UsageError } from '../rules/index.js';
import { loadConfig } from './config.js';
import { EXIT, type Io } from './io.js';
import { DEFAULT_PATHS, parse } from './options.js';

export const DASHBOARDS_HELP = `Usage: sloe dashboards [PATH…] --out DIR

Writes one Grafana dashboard JSON per declared dashboard into DIR, for Grafana's file provisioning. Each records its
one owner (description, a tag owner:<name>, a text panel), draws every SLO that names it with its objective and alert
condition as thresholds (latency SLOs as p50, p95 and p99 side by side), and its error budget and burn rates from
the sloe_slo_* metrics of \`sloe run\` (scrape sloe's /metrics; see docs/spec.md). Queries use a Prometheus data
source picked on the dashboard (variable "datasource").
`;

/** `sloe dashboards`: Grafana dashboards generated from the SLO files. */
export async function dashboardsCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { out: { type: 'string' } });
  if (values.help) {
    io.stdout.write(DASHBOARDS_HELP);
    return EXIT.ok;
  }
  if (!values.out) throw new UsageError('--out DIR is required: the directory to write the dashboards to');
  const config = await loadConfig(positionals.length ? positionals : DEFAULT_PATHS, io, 'slos');
  if (typeof config === 'number') return config;
  const generated = grafanaDashboards(config);
  await mkdir(values.out, { recursive: true });
  for (const { file, dashboard } of generated) {
    await writeFile(join(values.out, file), JSON.stringify(dashboard, null, 2) + '\n');
    io.stdout.write(
      `${join(values.out, file)}  ${dashboard.title} (owner ${dashboard.tags?.find((t) => t.startsWith('owner:'))?.slice(6)}, ${dashboard.panels?.length ?? 0} panels)\n`,
    );
  }
  io.stdout.write(`${generated.length} dashboard(s) written to ${values.out}\n`);
  return EXIT.ok;
}
