/**
 * Benchmark: the cost of evaluating N ratio SLOs with workbook burn-rate alerting, sloe against the
 * Prometheus-native approach, side by side on the same data in one run.
 *
 * - sloe: `sloe run` on N SLOs (1m interval) against Prometheus A. Per evaluation cycle (one minute): sloe's CPU,
 *   the CPU Prometheus A spent answering (its process_cpu_seconds_total, idle subtracted), HTTP queries.
 * - rules: Prometheus B, same data, evaluating a Sloth-style rule set for the same SLOs (per SLO: SLI recording
 *   rules for 5m, 30m, 1h, 2h, 6h, 1d, 3d, and the page and ticket alerts) every minute: its CPU per interval
 *   (idle subtracted) and prometheus_rule_group_last_duration_seconds summed over the groups.
 *
 * The history is live: it ends 40 minutes after the start, so that both evaluate "now" against 3 days of data.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requestCounters } from '../src/local/history.js';
import type { SeriesHistory } from '../src/local/openmetrics.js';
import { freePort } from '../src/local/process.js';
import { type LocalPrometheus, createBlocks, startPrometheus } from '../src/local/prometheus.js';
import { type LocalRedis, startRedis } from '../src/local/redis.js';
import { sleep } from '../src/util/async.js';
import { processRssMb, profileFlags, startEngine } from './proc.js';

const MIN = 60_000;
const DAY = 1440 * MIN;
/** Distinct series pairs; SLO i reads app-(i mod APPS), so that N SLOs read N × the data either way. */
const APPS = 1000;

const log = (line: string) => process.stderr.write(`bench evaluation: ${line}\n`);

function* history(from: number, to: number): Generator<SeriesHistory> {
  for (let a = 0; a < APPS; a++) {
    yield* requestCounters('bench_requests_total', { app: `app-${a}` }, from, to, (_t, i) => ({
      requests: 300 + ((a * 7 + i * 13) % 50),
      errorShare: (i + a) % 997 < 20 ? 0.05 : 0.0004,
    }));
  }
}

const selector = (i: number) => `app="app-${i % APPS}"`;

/** SLOs per file: an SLO file may be at most 1 MiB (about 3,500 of these). */
const SLOS_PER_FILE = 2000;

/**
 * N ratio SLOs with workbook burn-rate alerting, evaluated every `interval`: file name → text, SLOS_PER_FILE SLOs per
 * file (one service each), the escalation policy in the first.
 */
export function sloeFiles(n: number, interval = '1m'): Record<string, string> {
  const files: Record<string, string> = {};
  for (let file = 0; file * SLOS_PER_FILE < n; file++) {
    const lines = [
      ...(file === 0
        ? [
            'apiVersion: sloe/v1',
            'kind: EscalationPolicy',
            'name: bench',
            'page: [{ notify: slack, channel: "#bench" }]',
            '---',
          ]
        : []),
      'apiVersion: sloe/v1',
      'kind: ServiceLevels',
      `service: bench-${file}`,
      'owner: sre',
      'escalation: bench',
      `interval: ${interval}`,
      `dashboards: [{ id: bench-${file}, owner: sre-lead }]`,
      'slos:',
    ];
    for (let i = file * SLOS_PER_FILE; i < Math.min(n, (file + 1) * SLOS_PER_FILE); i++) {
      lines.push(
        `  - name: availability-${i}`,
        '    signal: error_rate',
        `    dashboard: bench-${file}`,
        '    ratio:',
        `      bad: sum(rate(bench_requests_total{${selector(i)}, status="error"}[$window]))`,
        `      total: sum(rate(bench_requests_total{${selector(i)}}[$window]))`,
        '    objective: 99.9%',
        '    alert: { burnRate: workbook }',
      );
    }
    files[`slos-${file}.yaml`] = lines.join('\n') + '\n';
  }
  return files;
}

/** The rules Sloth generates for the same SLOs (recordings per window, page and ticket alerts). */
function slothRules(n: number): string {
  const windows = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'];
  const out = ['groups:'];
  for (let i = 0; i < n; i++) {
    const id = `bench-availability-${i}`;
    out.push(`  - name: sloth-slo-sli-recordings-${id}`, '    rules:');
    for (const w of windows) {
      out.push(
        `      - record: slo:sli_error:ratio_rate${w}`,
        `        expr: (sum(rate(bench_requests_total{${selector(i)}, status="error"}[${w}]))) / (sum(rate(bench_requests_total{${selector(i)}}[${w}])))`,
        `        labels: { sloth_id: "${id}", sloth_window: "${w}" }`,
      );
    }
    const r = (w: string) => `slo:sli_error:ratio_rate${w}{sloth_id="${id}"}`;
    const both = (long: string, short: string, factor: number) =>
      `(max(${r(long)} > (${factor} * 0.001)) without (sloth_window) and max(${r(short)} > (${factor} * 0.001)) without (sloth_window))`;
    out.push(
      `  - name: sloth-slo-alerts-${id}`,
      '    rules:',
      '      - alert: SLOPageBurn',
      `        expr: ${both('1h', '5m', 14.4)} or ${both('6h', '30m', 6)}`,
      '        labels: { severity: page }',
      '      - alert: SLOTicketBurn',
      `        expr: ${both('1d', '2h', 3)} or ${both('3d', '6h', 1)}`,
      '        labels: { severity: ticket }',
    );
  }
  return out.join('\n') + '\n';
}

/** Sums the samples of a metric in Prometheus text format, optionally only those whose labels match. */
export function sumSamples(text: string, name: string, labels?: RegExp): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    if (labels && !labels.test(line)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Sums the samples of a metric a /metrics endpoint shows, optionally only those whose labels match. */
async function scrape(url: string, name: string, labels?: RegExp): Promise<number> {
  return sumSamples(await (await fetch(url)).text(), name, labels);
}

/**
 * A quantile (0–1) of the observations a histogram gained between two scrapes, as its bucket's upper bound. The
 * scrapes of several processes may be given joined: their buckets are added up.
 */
export function histogramQuantile(before: string, after: string, name: string, q: number): number {
  const buckets = (text: string) => {
    const counts = new Map<number, number>();
    for (const l of text.split('\n')) {
      if (!l.startsWith(`${name}_bucket`)) continue;
      const le = Number(/le="([^"]+)"/.exec(l)![1]!.replace('+Inf', 'Infinity'));
      counts.set(le, (counts.get(le) ?? 0) + Number(l.slice(l.lastIndexOf(' ') + 1)));
    }
    return counts;
  };
  const b0 = buckets(before);
  const gained = [...buckets(after)].map(([le, count]) => ({ le, count: count - (b0.get(le) ?? 0) }));
  const total = gained.at(-1)?.count ?? 0;
  if (total === 0) return NaN;
  return gained.find((b) => b.count >= q * total)?.le ?? NaN;
}

/** The largest sample of a metric. */
async function maxOf(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  return Math.max(
    0,
    ...text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`))
      .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1))),
  );
}

const promCpu = (p: LocalPrometheus) => scrape(`${p.url}/metrics`, 'process_cpu_seconds_total');
const promQueries = (p: LocalPrometheus) =>
  scrape(`${p.url}/metrics`, 'prometheus_http_requests_total', /handler="\/api\/v1\/query/);

/** CPU seconds a second an idle Prometheus spends. */
async function idleRate(p: LocalPrometheus, seconds: number): Promise<number> {
  const a = await promCpu(p);
  await sleep(seconds * 1000);
  return ((await promCpu(p)) - a) / seconds;
}

async function runSloe(n: number, prom: LocalPrometheus, redis: LocalRedis, dir: string, cycles: number, idle: number) {
  const slos = join(dir, `sloe-${n}`);
  await rm(slos, { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(slos, { recursive: true }));
  for (const [name, text] of Object.entries(sloeFiles(n))) await writeFile(join(slos, name), text);
  const port = await freePort();
  const child = await startEngine(
    ['run', slos],
    {
      PROMETHEUS_URL: prom.url,
      REDIS_URL: redis.url,
      SLOE_REDIS_PREFIX: `bench${n}-${Date.now()}`,
      SLOE_PORT: String(port),
      LOG_LEVEL: 'warn',
    },
    ['ignore', 'ignore', 'inherit'],
    profileFlags(),
  );
  const metrics = `http://127.0.0.1:${port}/metrics`;
  const evaluations = () => scrape(metrics, 'sloe_evaluations_total');
  try {
    const started = Date.now();
    // RSS read at each look while `rss` is set: over the measured cycles, where the V8 heap's swing between full
    // collections puts one reading anywhere between its low and its high.
    let rss: number[] | undefined;
    // Polls the evaluation counter until `count` evaluations are done; after `timeoutMs`, fails, or with `orStop`
    // stops waiting (the figures then show fewer evaluations a minute than N: sloe did not keep up).
    const waitFor = async (count: number, timeoutMs: number, orStop = false) => {
      const since = Date.now();
      for (;;) {
        if (rss) rss.push((await processRssMb(child.pid!)).rss);
        const done = await evaluations().catch(() => 0);
        if (done >= count) return;
        if (Date.now() - since > timeoutMs) {
          if (orStop) return;
          throw new Error(`sloe evaluated ${done} of ${count} within ${timeoutMs / 1000} s`);
        }
        // Each look is a /metrics scrape, which costs sloe CPU (the error-budget gauges of every SLO): one every 15 s,
        // a common Prometheus scrape interval, so the figures hold sloe's scrape cost at a production rate.
        await sleep(15_000);
      }
    };
    await waitFor(n, Math.max(300_000, n * 60));
    const firstCycleS = (Date.now() - started) / 1000;
    // The first cycle shard by shard: how long after it was due the slowest shard was done, and how late jobs started.
    const first = await (await fetch(metrics)).text();
    const firstDoneWithin = histogramQuantile('', first, 'sloe_evaluation_completion_seconds', 1);
    const firstLagP99 = histogramQuantile('', first, 'sloe_evaluation_lag_seconds', 0.99);
    // The cold first cycle (long windows read in full) leaves a backlog: measure once a whole minute's shards were
    // each done within the interval after they were due, or after eight minutes at most.
    const settling = Date.now();
    for (let last = await (await fetch(metrics)).text(); Date.now() - settling < 480_000; ) {
      await sleep(60_000);
      const now = await (await fetch(metrics)).text();
      const slowest = histogramQuantile(last, now, 'sloe_evaluation_completion_seconds', 1);
      log(`N = ${n}: settling: the slowest shard of the last minute was done within ${slowest} s of its due time`);
      if (slowest <= 60) break;
      last = now;
    }
    const settleS = (Date.now() - settling) / 1000;
    // The error budgets' first refresh reads each SLO's whole 30-day window once (later refreshes read only the newest
    // points): a one-time cost, not the steady one. The measured cycles start once every SLO has its budget gauges.
    const budgetsDone = async () =>
      (await (await fetch(metrics)).text()).split('\n').filter((l) => l.startsWith('sloe_slo_objective{')).length >= n;
    let budgets = await budgetsDone();
    while (!budgets && Date.now() - started < 1_200_000) {
      await sleep(15_000);
      budgets = await budgetsDone();
    }
    const budgetsS = budgets ? (Date.now() - started) / 1000 : undefined;
    const [e0, c0, p0, q0] = await Promise.all([
      evaluations(),
      scrape(metrics, 'sloe_process_cpu_seconds_total'),
      promCpu(prom),
      promQueries(prom),
    ]);
    const before = await (await fetch(metrics)).text();
    const t0 = Date.now();
    rss = [];
    await waitFor(e0 + cycles * n, 60_000 * (cycles + 3), true);
    const [e1, c1, p1, q1] = await Promise.all([
      evaluations(),
      scrape(metrics, 'sloe_process_cpu_seconds_total'),
      promCpu(prom),
      promQueries(prom),
    ]);
    const elapsed = (Date.now() - t0) / 1000;
    const measured = (e1 - e0) / n;
    // Histogram quantiles over the measured cycles, as the upper bound of their bucket: how late evaluation jobs
    // started (p99), and how long after it was due the slowest shard was done (the whole cycle).
    const after = await (await fetch(metrics)).text();
    const lagP99 = histogramQuantile(before, after, 'sloe_evaluation_lag_seconds', 0.99);
    const memory = await processRssMb(child.pid!);
    // What the memory holds, from the engine's own gauges (process.memoryUsage()): the V8 heap, and memory outside
    // it (ArrayBuffers: the error budgets' kept points, sockets' buffers).
    const mb = (name: string) => sumSamples(after, name) / 2 ** 20;
    const cycleMax = histogramQuantile(before, after, 'sloe_evaluation_completion_seconds', 1);
    return {
      firstCycleS,
      firstDoneWithin,
      firstLagP99,
      settleS,
      budgetsS,
      cycles: measured,
      evaluationsPerMinute: ((e1 - e0) / elapsed) * 60,
      lagP99,
      cycleMax,
      sloeCpu: (c1 - c0) / measured,
      promCpu: (p1 - p0 - idle * elapsed) / measured,
      queries: (q1 - q0) / measured,
      rssMb: memory.rss,
      peakRssMb: memory.peak,
      rssMeanMb: rss.reduce((sum, mb) => sum + mb, 0) / rss.length,
      rssMinMb: Math.min(...rss),
      rssMaxMb: Math.max(...rss),
      heapUsedMb: mb('sloe_nodejs_heap_size_used_bytes'),
      heapTotalMb: mb('sloe_nodejs_heap_size_total_bytes'),
      externalMb: mb('sloe_nodejs_external_memory_bytes'),
    };
  } finally {
    // A sloe that exited on its own (a refused configuration) has no exit left to wait for.
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
}

/**
 * Prometheus B evaluating the Sloth rules for N SLOs. Its CPU is normalised per completed round of every group
 * (`prometheus_rule_group_duration_seconds_count`, one per group evaluation done, over the 2N groups), not per minute
 * of wall time: a Prometheus that falls behind (iterations missed) spends all the CPU the machine gives it and
 * completes fewer rounds, and its CPU per minute would understate what the rules cost. When every group keeps up, a
 * round is a one-minute interval and the two are the same.
 */
async function runRules(n: number, prom: LocalPrometheus, windowS: number, idle: number) {
  await writeFile(join(prom.dir, 'rules.yml'), slothRules(n));
  const reload = await fetch(`${prom.url}/-/reload`, { method: 'POST' });
  if (!reload.ok) throw new Error(`rule reload failed: ${await reload.text()}`);
  const groups = 2 * n;
  const metrics = `${prom.url}/metrics`;
  const evaluated = () => scrape(metrics, 'prometheus_rule_group_duration_seconds_count');
  // Let every group run once before measuring (a round of a Prometheus that falls behind takes longer than 1m).
  const loaded = await evaluated();
  await sleep(75_000);
  for (const since = Date.now(); (await evaluated()) - loaded < groups && Date.now() - since < 600_000; )
    await sleep(15_000);
  const [p0, m0, g0] = await Promise.all([
    promCpu(prom),
    scrape(metrics, 'prometheus_rule_group_iterations_missed_total'),
    evaluated(),
  ]);
  const t0 = Date.now();
  await sleep(windowS * 1000);
  const [p1, m1, g1, duration, longest] = await Promise.all([
    promCpu(prom),
    scrape(metrics, 'prometheus_rule_group_iterations_missed_total'),
    evaluated(),
    scrape(metrics, 'prometheus_rule_group_last_duration_seconds'),
    maxOf(metrics, 'prometheus_rule_group_last_duration_seconds'),
  ]);
  const elapsed = (Date.now() - t0) / 1000;
  const rounds = (g1 - g0) / groups;
  await writeFile(join(prom.dir, 'rules.yml'), 'groups: []\n');
  await fetch(`${prom.url}/-/reload`, { method: 'POST' });
  return {
    promCpu: (p1 - p0 - idle * elapsed) / rounds,
    promCpuPerMinute: ((p1 - p0 - idle * elapsed) / elapsed) * 60,
    roundsPerMinute: (rounds / elapsed) * 60,
    ruleDuration: duration,
    longestGroup: longest,
    missed: m1 - m0,
  };
}

/** Runs the benchmark for each N and returns its figures. */
export async function benchEvaluation(
  sizes = (process.env.BENCH_SLOS ?? '100,1000,10000').split(',').map(Number),
): Promise<Record<string, number | string>> {
  // Whole 5-minute periods: budget and long-window reads follow the 5m grid's moves (bench/README.md).
  const windowS = Number(process.env.BENCH_WINDOW_S ?? 300);
  const now = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'sloe-bench-eval-'));
  let a: LocalPrometheus | undefined;
  let b: LocalPrometheus | undefined;
  let redis: LocalRedis | undefined;
  try {
    log(`writing ${APPS * 2} series × ${Math.round((3 * DAY + 100 * MIN) / MIN)} minutes of history`);
    const loaded = Date.now();
    await createBlocks(
      history(Math.floor((now - 3 * DAY - 60 * MIN) / MIN) * MIN, now + 40 * MIN),
      join(dir, 'a', 'data'),
    );
    await cp(join(dir, 'a'), join(dir, 'b'), { recursive: true });
    const loadS = (Date.now() - loaded) / 1000;
    [a, b, redis] = await Promise.all([
      startPrometheus({ dir: join(dir, 'a') }),
      startPrometheus({ dir: join(dir, 'b'), rules: 'groups: []\n', ruleInterval: '1m' }),
      startRedis(),
    ]);
    const [idleA, idleB] = await Promise.all([idleRate(a, 30), idleRate(b, 30)]);
    log(`idle Prometheus CPU: ${idleA.toFixed(4)} and ${idleB.toFixed(4)} s/s`);
    const figures: Record<string, number | string> = { history_load_s: Number(loadS.toFixed(1)), window_s: windowS };
    for (const n of sizes) {
      log(`N = ${n}: sloe run…`);
      const s = await runSloe(n, a, redis, dir, Math.max(1, Math.round(windowS / 60)), idleA);
      log(`N = ${n}: Prometheus rules…`);
      const r = await runRules(n, b, windowS, idleB);
      const round = (x: number, d = 3) => Number(x.toFixed(d));
      // A histogram's +Inf bucket reads as more than its largest bound.
      const bound = (x: number) => (x === Infinity ? 'over the largest bucket' : x);
      Object.assign(figures, {
        [`n${n}_sloe_cpu_s_per_cycle`]: round(s.sloeCpu),
        [`n${n}_prom_cpu_s_per_cycle_sloe`]: round(s.promCpu),
        [`n${n}_queries_per_cycle`]: Math.round(s.queries),
        [`n${n}_sloe_evaluations_per_min`]: Math.round(s.evaluationsPerMinute),
        [`n${n}_sloe_first_cycle_s`]: round(s.firstCycleS, 1),
        [`n${n}_sloe_first_cycle_done_within_s`]: bound(s.firstDoneWithin),
        [`n${n}_sloe_first_cycle_lag_p99_s_at_most`]: bound(s.firstLagP99),
        [`n${n}_sloe_settle_s`]: round(s.settleS, 1),
        [`n${n}_sloe_budgets_first_s`]: s.budgetsS === undefined ? 'not within 1200 s' : round(s.budgetsS, 1),
        [`n${n}_sloe_evaluation_lag_p99_s_at_most`]: bound(s.lagP99),
        [`n${n}_sloe_cycle_done_within_s`]: bound(s.cycleMax),
        [`n${n}_sloe_rss_mb`]: Math.round(s.rssMb),
        [`n${n}_sloe_rss_peak_mb`]: Math.round(s.peakRssMb),
        [`n${n}_sloe_rss_mean_mb`]: Math.round(s.rssMeanMb),
        [`n${n}_sloe_rss_min_mb`]: Math.round(s.rssMinMb),
        [`n${n}_sloe_rss_max_mb`]: Math.round(s.rssMaxMb),
        [`n${n}_sloe_heap_used_mb`]: Math.round(s.heapUsedMb),
        [`n${n}_sloe_heap_total_mb`]: Math.round(s.heapTotalMb),
        [`n${n}_sloe_external_mb`]: Math.round(s.externalMb),
        [`n${n}_prom_cpu_s_per_cycle_rules`]: round(r.promCpu),
        [`n${n}_prom_cpu_s_per_min_rules`]: round(r.promCpuPerMinute),
        [`n${n}_rule_rounds_per_min`]: round(r.roundsPerMinute, 2),
        [`n${n}_rule_groups_duration_sum_s`]: round(r.ruleDuration),
        [`n${n}_rule_group_duration_max_s`]: round(r.longestGroup),
        [`n${n}_rule_iterations_missed`]: r.missed,
        [`n${n}_ratio_prometheus_cpu`]: round(s.promCpu / r.promCpu),
        [`n${n}_ratio_total_cpu`]: round((s.promCpu + s.sloeCpu) / r.promCpu),
      });
      log(JSON.stringify(Object.fromEntries(Object.entries(figures).filter(([k]) => k.startsWith(`n${n}_`)))));
    }
    return figures;
  } finally {
    await Promise.allSettled([a?.stop(), b?.stop(), redis?.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchEvaluation());
}
