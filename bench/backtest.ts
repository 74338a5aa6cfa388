/**
 * Benchmark: `sloe backtest` of 100 SLOs (50 ratio SLOs with workbook burn-rate tiers, 50 threshold SLOs) over
 * 30 days at a 1m step, against a real Prometheus holding 33 days of per-minute history. Reports wall time, sloe's
 * CPU time and the HTTP queries issued.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requestCounters } from '../src/local/history.js';
import type { SeriesHistory } from '../src/local/openmetrics.js';
import { startPrometheus } from '../src/local/prometheus.js';
import { profileFlags } from './proc.js';

const ROOT = join(import.meta.dirname, '..');
const MIN = 60_000;
const DAY = 1440 * MIN;
const APPS = Number(process.env.BENCH_APPS ?? 50);

/** Deterministic pseudo-random numbers, so every run replays the same history. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function* history(from: number, to: number): Generator<SeriesHistory> {
  for (let a = 0; a < APPS; a++) {
    const rnd = random(a + 1);
    // Two error bursts per app, at pseudo-random times.
    const bursts = [0, 1].map(() => ({
      at: from + 3 * DAY + Math.floor(rnd() * 29 * DAY),
      minutes: 5 + Math.floor(rnd() * 60),
      share: 0.02 + rnd() * 0.3,
    }));
    yield* requestCounters('bench_requests_total', { app: `app-${a}` }, from, to, (t) => {
      const burst = bursts.find((b) => t > b.at && t <= b.at + b.minutes * MIN);
      return { requests: 500 + Math.floor(rnd() * 100), errorShare: burst ? burst.share : 0.0005 };
    });
  }
}

export function slos(): string {
  const lines = [
    'apiVersion: sloe/v1',
    'kind: EscalationPolicy',
    'name: bench',
    'page:',
    '  - { notify: slack, channel: "#bench" }',
    '  - { after: 10m, notify: pagerduty }',
    '---',
    'apiVersion: sloe/v1',
    'kind: ServiceLevels',
    'service: bench',
    'owner: sre',
    'escalation: bench',
    'dashboards: [{ id: bench, owner: sre-lead }]',
    'slos:',
  ];
  for (let a = 0; a < APPS; a++) {
    const sel = `app="app-${a}"`;
    lines.push(
      `  - name: availability-${a}`,
      '    signal: error_rate',
      '    dashboard: bench',
      '    ratio:',
      `      bad: sum(rate(bench_requests_total{${sel}, status="error"}[$window]))`,
      `      total: sum(rate(bench_requests_total{${sel}}[$window]))`,
      '    objective: 99.9%',
      '    alert: { burnRate: workbook, minEvents: 100 }',
      `  - name: error-rate-${a}`,
      '    signal: error_rate',
      '    dashboard: bench',
      `    query: sum(rate(bench_requests_total{${sel}, status="error"}[5m])) / sum(rate(bench_requests_total{${sel}}[5m]))`,
      '    objective: "< 1%"',
      '    alert: { when: "> 3%", for: 5m }',
    );
  }
  return lines.join('\n') + '\n';
}

export function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string; wallMs: number }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, [...profileFlags(), join(ROOT, 'bin', 'sloe.js'), ...args], {
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout, stderr, wallMs: Number(process.hrtime.bigint() - start) / 1e6 }),
    );
  });
}

/** Runs the benchmark and returns its figures. */
export async function benchBacktest(): Promise<Record<string, number | string>> {
  const to = Date.parse('2026-10-31T00:00:00Z');
  const from = to - 30 * DAY;
  const loadStart = Date.now();
  const prom = await startPrometheus({ history: history(from - 3 * DAY, to) });
  const loadMs = Date.now() - loadStart;
  const dir = await mkdtemp(join(tmpdir(), 'sloe-bench-backtest-'));
  try {
    await writeFile(join(dir, 'slos.yaml'), slos());
    const cpuFile = join(dir, 'cpu.json');
    // A small preload reports the child's CPU time when it exits.
    await writeFile(
      join(dir, 'cpu.cjs'),
      `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(cpuFile)}, JSON.stringify(process.cpuUsage())));\n`,
    );
    const r = await run(['backtest', dir, '--from', String(from / 1000), '--to', String(to / 1000), '--step', '1m'], {
      PROMETHEUS_URL: prom.url,
      NODE_OPTIONS: `--require ${join(dir, 'cpu.cjs')}`,
    });
    if (r.code !== 0) throw new Error(`backtest failed (${r.code}): ${r.stderr}`);
    const last = r.stdout.trim().split('\n').pop() ?? '';
    const queries = Number(/; (\d+) Prometheus queries/.exec(last)?.[1] ?? NaN);
    const incidents = Number(/^(\d+) incident/.exec(last)?.[1] ?? NaN);
    const cpu = JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(cpuFile, 'utf8'))) as {
      user: number;
      system: number;
    };
    return {
      slos: APPS * 2,
      days: 30,
      step: '1m',
      steps_per_slo: 30 * 1440 + 1,
      history_load_s: Number((loadMs / 1000).toFixed(1)),
      backtest_wall_s: Number((r.wallMs / 1000).toFixed(2)),
      sloe_cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
      http_queries: queries,
      incidents,
      target_s: 6,
    };
  } finally {
    await prom.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchBacktest());
}
