/** Starts a real Prometheus on a free port, loaded with history and/or scraping local targets. */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureBinaries } from './binaries.js';
import { type SeriesHistory, writeOpenMetrics } from './openmetrics.js';
import { mapLimit } from '../util/async.js';
import { freePort, startLogged, stopProcess, tail, waitUntil } from './process.js';

export interface LocalPrometheus {
  url: string;
  port: number;
  dir: string;
  pid: number;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** History to load before start (converted to TSDB blocks with promtool). */
  history?: Iterable<SeriesHistory>;
  /** `host:port` targets to scrape, with the interval to scrape them at. */
  scrape?: { targets: string[]; interval?: string; job?: string };
  /** Recording and alerting rules (YAML text), evaluated at `ruleInterval`; rewrite dir/rules.yml and POST /-/reload to change them. */
  rules?: string;
  ruleInterval?: string;
  /** Where the data lives; a fresh temporary directory (removed on stop) when not given. */
  dir?: string;
  /** Listen on this port (to come back where clients expect it after a stop) instead of a free one. */
  port?: number;
}

/** Turns history into TSDB blocks in `data` (a Prometheus data directory). */
export async function createBlocks(history: Iterable<SeriesHistory>, data: string): Promise<void> {
  const bin = ensureBinaries(['promtool']);
  await mkdir(dirname(data), { recursive: true });
  const files = await writeOpenMetrics(`${data}-history`, history);
  await mapLimit(files, 2, async (file) => {
    await run(bin.promtool!, ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', file, data]);
    await rm(file);
  });
}

/** Starts Prometheus; the caller must call stop(). With `dir`, an existing `dir/data` is used as it is. */
export async function startPrometheus(options: PrometheusOptions = {}): Promise<LocalPrometheus> {
  const bin = ensureBinaries(['prometheus', 'promtool']);
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'sloe-prometheus-')));
  const data = join(dir, 'data');
  if (options.history) await createBlocks(options.history, data);
  const config = [
    'global:',
    `  scrape_interval: ${options.scrape?.interval ?? '15s'}`,
    `  evaluation_interval: ${options.ruleInterval ?? '1m'}`,
  ];
  if (options.rules) {
    await writeFile(join(dir, 'rules.yml'), options.rules);
    config.push('rule_files:', `  - ${join(dir, 'rules.yml')}`);
  }
  if (options.scrape) {
    config.push(
      'scrape_configs:',
      `  - job_name: ${options.scrape.job ?? 'local'}`,
      `    static_configs: [{ targets: ${JSON.stringify(options.scrape.targets)} }]`,
    );
  }
  await writeFile(join(dir, 'prometheus.yml'), config.join('\n') + '\n');

  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = options.port ?? (await freePort());
    const log = join(dir, 'prometheus.log');
    const child = startLogged(
      bin.prometheus!,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${data}`,
        '--storage.tsdb.retention.time=100y',
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-admin-api',
        '--web.enable-lifecycle',
        '--log.level=warn',
      ],
      log,
    );
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntil('prometheus', child, async () => (await fetch(`${url}/-/ready`)).ok, 60_000);
      return {
        url,
        port,
        dir,
        pid: child.pid!,
        async stop() {
          await stopProcess(child);
          if (!options.dir) await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (e) {
      await stopProcess(child);
      lastError = new Error(`${(e as Error).message}: ${await tail(log)}`);
    }
  }
  throw lastError;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.slice(0, 3).join(' ')} failed (${code}): ${stderr.trim().slice(-500)}`));
    });
  });
}
