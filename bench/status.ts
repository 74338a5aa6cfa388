/**
 * Benchmark: the status page overview of 1,000 SLOs (100 services of 10, every SLO with a budget and a 240-point
 * burn-down, 50 open incidents), rendered as `sloe run` renders it: server time and size of the page.
 */
import { computeBudget } from '../src/budget/budget.js';
import type { BudgetEntry } from '../src/budget/keeper.js';
import type { Incident } from '../src/incident/model.js';
import type { Config, Dashboard, Slo } from '../src/rules/model.js';
import { renderIndex, renderService } from '../src/status/pages.js';

const DAY = 86_400_000;
const STEP = 300_000;

function model(slos: number) {
  const at = Date.parse('2026-11-01T00:00:00Z');
  const dashboards = new Map<string, Dashboard>();
  const list: Slo[] = [];
  const budgets = new Map<string, BudgetEntry>();
  const n = (30 * DAY) / STEP;
  for (let i = 0; i < slos; i++) {
    const service = `service-${String(Math.floor(i / 10)).padStart(3, '0')}`;
    const dashboard: Dashboard = {
      id: `${service}-golden`,
      title: `${service} golden signals`,
      url: `https://grafana.example.com/d/${service}`,
      owner: `owner-${i % 13}`,
      declaredAt: [],
    };
    dashboards.set(dashboard.id, dashboard);
    const common = {
      id: `${service}/slo-${i}`,
      service,
      name: `slo-${i}`,
      owner: 'team',
      dashboard,
      intervalMs: 60_000,
      escalation: 'default',
      labels: {},
      noData: 'alert' as const,
      noDataForMs: 600_000,
      maxSeries: 50,
      forMs: 0,
      resolveAfterMs: 300_000,
      source: { file: 'x.yaml', line: 1, col: 1 },
    };
    list.push({
      ...common,
      kind: 'ratio',
      signal: 'error_rate',
      ratio: { bad: 'sum(rate(bad[$window]))', total: 'sum(rate(total[$window]))' },
      objective: 0.999,
      windowMs: 30 * DAY,
      tiers: [],
      minEvents: 0,
    });
    const share = (i % 20) / 10_000;
    const series = {
      start: at - (n - 1) * STEP,
      stepMs: STEP,
      bad: new Array<number>(n).fill(1000 * share),
      total: new Array<number>(n).fill(1000),
    };
    budgets.set(common.id, { budget: computeBudget(series, 0.999, 30 * DAY, at, 'events') });
  }
  const open = list.slice(0, 50).map(
    (s, k) =>
      ({
        id: `inc${k}`,
        sloId: s.id,
        service: s.service,
        slo: s.name,
        signal: s.signal,
        labels: {},
        instanceKey: s.id,
        owner: s.owner,
        dashboard: s.dashboard,
        objective: '99.9%',
        condition: 'burn rate',
        firedAt: at - k * 60_000,
        traceId: 't',
        policy: { name: 'default', page: [], ticket: [], source: s.source },
        status: k % 3 === 0 ? 'acknowledged' : 'firing',
        acknowledgedBy: 'alice',
        severity: 'page',
        reason: 'breach',
        message: `burn rate 20× over 1h`,
        token: 'x',
        escalatedAt: at,
        rearms: 0,
        refs: {},
      }) as Incident,
  );
  const config: Config = {
    slos: list,
    silences: [],
    dashboards,
    policies: new Map(),
    schedules: new Map(),
    services: [],
    files: [],
  };
  return { now: at, config, budgets: { at, bySlo: budgets }, open };
}

/** Median of `runs` renders of the overview and of one service page, and the size of each. */
export async function benchStatus(): Promise<Record<string, number | string>> {
  const m = model(1000);
  const time = (render: () => string, runs = 15) => {
    const ms: number[] = [];
    let html = '';
    for (let r = 0; r < runs; r++) {
      const start = performance.now();
      html = render();
      ms.push(performance.now() - start);
    }
    ms.sort((a, b) => a - b);
    return {
      median: Number(ms[Math.floor(runs / 2)]!.toFixed(1)),
      max: Number(ms.at(-1)!.toFixed(1)),
      bytes: Buffer.byteLength(html),
    };
  };
  const index = time(() => renderIndex(m));
  const service = time(() => renderService(m, 'service-007')!);
  const { gzipSync } = await import('node:zlib');
  return {
    slos: 1000,
    index_render_median_ms: index.median,
    index_render_max_ms: index.max,
    index_kb: Number((index.bytes / 1024).toFixed(1)),
    index_gzip_kb: Number((gzipSync(renderIndex(m)).length / 1024).toFixed(1)),
    service_page_render_median_ms: service.median,
    service_page_kb: Number((service.bytes / 1024).toFixed(1)),
    targets: 'index < 1000 ms server time and < 300 KB',
  };
}
