/**
 * Benchmark: N ratio SLOs (100,000 by default) evaluated by 1, 2 and 4 `sloe run` replicas sharing one Redis. Every
 * replica loads the whole configuration; the shards (50 SLOs each, one BullMQ job scheduler per shard) are shared
 * through BullMQ, so each shard's job is run by whichever replica takes it. Prometheus is not the subject: the
 * replicas read bench/replay-server.ts, which answers the engine's queries from precomputed data.
 *
 * Per replica count, after the cold first cycle and once a whole minute's shards were each done within the
 * interval (or after BENCH_SCALE_SETTLE_S at most), measured over BENCH_SCALE_WINDOW_S of whole cycles: whether
 * every shard was done within its interval (sloe_evaluation_completion_seconds, and each shard's
 * sloe_last_evaluation_success_timestamp_seconds at the end), each replica's CPU per cycle (/proc), Redis's CPU per
 * cycle (INFO cpu, its idle rate subtracted) and the replay server's. Evaluations that end in nodata or error make
 * the section fail: the figure only counts when every SLO was judged on data.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../src/local/process.js';
import { type LocalRedis, startRedis } from '../src/local/redis.js';
import { sleep } from '../src/util/async.js';
import { histogramQuantile, sloeFiles, sumSamples } from './evaluation.js';
import { redisCpuSeconds, waitForHttp } from './idle.js';
import { processCpuSeconds, processRssMb, startEngine } from './proc.js';

const ROOT = join(import.meta.dirname, '..');
const INTERVAL_S = 60;
const LOGS = join(import.meta.dirname, 'scaleout-logs');
/** SLOs per shard (src/scheduler/queues.ts SHARD_SIZE). */
const SHARD_SIZE = 50;

const log = (line: string) => process.stderr.write(`bench scaleout: ${line}\n`);

type Figures = Record<string, number | string>;

/** What the replay server has done since it started (`GET /stats`). */
interface ReplayStats {
  queries: number;
  unmatched: number;
  unknownPaths: number;
  cpuSeconds: number;
  requests: Record<string, number>;
}

interface Replay {
  url: string;
  stats(): Promise<ReplayStats>;
  stop(): Promise<void>;
}

/** Ends a child process: SIGTERM, then SIGKILL if it has not exited within 30 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

/** Starts bench/replay-server.ts in a process of its own, so that its CPU is its own. */
async function startReplay(): Promise<Replay> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'replay-server.ts'), String(port)], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/stats`, 30_000);
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  return {
    url,
    stats: async () => (await (await fetch(`${url}/stats`)).json()) as ReplayStats,
    stop: () => stopChild(child),
  };
}

interface Snapshot {
  at: number;
  texts: string[];
  cpu: number[];
  redisCpu: number;
  replay: ReplayStats;
}

/** Sum of the evaluations every replica reports, optionally of one result. */
const evaluations = (texts: string[], result?: string) =>
  texts.reduce(
    (sum, t) => sum + sumSamples(t, 'sloe_evaluations_total', result ? new RegExp(`result="${result}"`) : undefined),
    0,
  );

/** Each shard's last clean evaluation (unix s), the latest any replica reports. */
function lastSuccess(texts: string[]): Map<string, number> {
  const name = 'sloe_last_evaluation_success_timestamp_seconds{';
  const latest = new Map<string, number>();
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const shard = /shard="(\d+)"/.exec(line)?.[1] ?? '';
      const at = Number(line.slice(line.lastIndexOf(' ') + 1));
      latest.set(shard, Math.max(latest.get(shard) ?? 0, at));
    }
  }
  return latest;
}

async function runReplicas(
  replicas: number,
  n: number,
  slos: string,
  redis: LocalRedis,
  replay: Replay,
  redisIdle: number,
  windowS: number,
  settleS: number,
  firstS: number,
  budgetRefresh: string,
): Promise<Figures> {
  const prefix = `scale${replicas}-${Date.now()}`;
  const ports = await Promise.all(Array.from({ length: replicas }, () => freePort()));
  // Each replica's log (warnings and errors) is kept in bench/scaleout-logs/ (*.log: not in git).
  await mkdir(LOGS, { recursive: true });
  const logs = ports.map((_, i) => openSync(join(LOGS, `replica-${replicas}-${i}.log`), 'w'));
  const started = await Promise.allSettled(
    ports.map((port, i) =>
      startEngine(
        ['run', slos],
        {
          PROMETHEUS_URL: replay.url,
          REDIS_URL: redis.url,
          SLOE_REDIS_PREFIX: prefix,
          SLOE_PORT: String(port),
          LOG_LEVEL: 'warn',
          // The error budgets (30 days of base rates an SLO, shared by the replicas) are not evaluation: off unless
          // BENCH_SCALE_BUDGET_REFRESH asks for them.
          SLOE_BUDGET_REFRESH: budgetRefresh,
        },
        ['ignore', logs[i]!, 'inherit'],
      ),
    ),
  );
  for (const fd of logs) closeSync(fd);
  const children = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(children.map(stopChild));
    throw failed.reason;
  }
  const metrics = ports.map((port) => `http://127.0.0.1:${port}/metrics`);
  // A scrape that fails is tried again, and said: the figures need the counters, not that scrape. On a loaded
  // machine the client may send a scrape on a kept-alive connection the replica has just closed as idle.
  const scrape = async (url: string, i: number): Promise<string> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await fetch(url);
        if (res.ok) return await res.text();
        throw new Error(`HTTP ${res.status}`);
      } catch (e) {
        const cause = e instanceof Error ? String(e.cause ?? e.message) : String(e);
        if (attempt === 3) throw new Error(`replica ${i}: /metrics failed 3 times: ${cause}`);
        log(`${replicas} replica(s): scrape of replica ${i} failed (${cause}); trying again`);
        await sleep(2000);
      }
    }
  };
  const texts = () => Promise.all(metrics.map(scrape));
  const snapshot = async (): Promise<Snapshot> => {
    const [t, cpu, redisCpu, stats] = await Promise.all([
      texts(),
      Promise.all(children.map((c) => processCpuSeconds(c.pid!))),
      redisCpuSeconds(redis),
      replay.stats(),
    ]);
    return { at: Date.now(), texts: t, cpu, redisCpu, replay: stats };
  };
  try {
    const started = Date.now();
    await Promise.all(ports.map((port) => waitForHttp(`http://127.0.0.1:${port}/readyz`, 900_000)));
    const readyS = (Date.now() - started) / 1000;
    log(`${replicas} replica(s): ready after ${readyS.toFixed(1)} s`);
    // The first (cold) cycle: every SLO evaluated once. Each look scrapes every replica (N series of
    // sloe_evaluations_total): every 15 s (every 50 s at 100,000) keeps that a small part of what the replicas spend. A machine too small for
    // N may not get there: after BENCH_SCALE_FIRST_S the figures are measured all the same, and say so.
    let done = 0;
    while (done < n && Date.now() - started < firstS * 1000) {
      await sleep(Math.max(15, n / 2000) * 1000);
      done = evaluations(await texts());
      log(
        `${replicas} replica(s): first cycle: ${done} of ${n} evaluated after ${Math.round((Date.now() - started) / 1000)} s`,
      );
    }
    const firstCycleS = (Date.now() - started) / 1000;
    // With budgets on, their first refresh (every SLO's whole window, the groups shared by the replicas) is a
    // one-time cost: measured once every replica shows every SLO's budget (its own groups and those it read).
    let budgetsFirstS: number | string | undefined;
    if (budgetRefresh !== 'off') {
      const budgetsShown = (t: string[]) =>
        Math.min(...t.map((text) => text.split('\n').filter((l) => l.startsWith('sloe_slo_objective{')).length));
      let shown = 0;
      while (shown < n && Date.now() - started < firstS * 1000) {
        await sleep(Math.max(15, n / 2000) * 1000);
        shown = budgetsShown(await texts());
        log(`${replicas} replica(s): budgets: every replica shows ${shown} of ${n}`);
      }
      budgetsFirstS =
        shown >= n ? Number(((Date.now() - started) / 1000).toFixed(1)) : `not within ${firstS} s (${shown} of ${n})`;
    }
    // Settling: once a whole minute's shards were each done within the interval after they were due.
    const settling = Date.now();
    let settled = false;
    for (let last = await texts(); done >= n && Date.now() - settling < settleS * 1000; ) {
      await sleep(INTERVAL_S * 1000);
      const now = await texts();
      const slowest = histogramQuantile(last.join('\n'), now.join('\n'), 'sloe_evaluation_completion_seconds', 1);
      const perMinute = evaluations(now) - evaluations(last);
      log(
        `${replicas} replica(s): settling: ${perMinute} evaluations in the last minute, slowest shard done within ${slowest} s of its due time`,
      );
      last = now;
      if (slowest <= INTERVAL_S && perMinute >= n) {
        settled = true;
        break;
      }
    }
    const settledS = (Date.now() - settling) / 1000;
    const s0 = await snapshot();
    const load: number[] = [];
    // With budgets on, the replicas are scraped every 15 s in the window, as Prometheus would: a stale budget is
    // refreshed when a scrape asks for it.
    let scraped = s0.at;
    for (const end = s0.at + windowS * 1000; Date.now() < end; ) {
      await sleep(Math.min(5000, end - Date.now()));
      load.push(loadavg()[0]!);
      if (budgetRefresh !== 'off' && Date.now() - scraped >= 15_000 && end - Date.now() > 5000) {
        scraped = Date.now();
        await texts();
      }
    }
    const s1 = await snapshot();
    const memory = await Promise.all(children.map((c) => processRssMb(c.pid!)));
    const elapsed = (s1.at - s0.at) / 1000;
    const evaluated = evaluations(s1.texts) - evaluations(s0.texts);
    const cycles = evaluated / n;
    const results = Object.fromEntries(
      ['ok', 'breach', 'nodata', 'error'].map((r) => [r, evaluations(s1.texts, r) - evaluations(s0.texts, r)]),
    );
    const cpu = s1.cpu.map((c, i) => (c - s0.cpu[i]!) / cycles);
    const total = cpu.reduce((a, b) => a + b, 0);
    const before = s0.texts.join('\n');
    const after = s1.texts.join('\n');
    const shards = Math.ceil(n / SHARD_SIZE);
    const latest = lastSuccess(s1.texts);
    // A shard is on time when its last clean evaluation was due at most one interval (and the time it may take) ago.
    const onTimeSince = s1.at / 1000 - 2 * INTERVAL_S;
    const stale = Array.from({ length: shards }, (_, i) => latest.get(String(i)) ?? 0).filter((t) => t < onTimeSince);
    const round = (x: number, d = 3) => Number(x.toFixed(d));
    const bound = (x: number) => (x === Infinity ? 'over the largest bucket' : x);
    const p = `r${replicas}_`;
    const figures: Figures = {
      [`${p}ready_s`]: round(readyS, 1),
      [`${p}first_cycle_s`]: done >= n ? round(firstCycleS, 1) : `not within ${firstS} s (${done} of ${n} evaluated)`,
      ...(budgetsFirstS !== undefined ? { [`${p}budgets_first_s`]: budgetsFirstS } : {}),
      [`${p}settle_s`]: round(settledS, 1),
      [`${p}settled`]: settled ? 'yes' : `no (not within ${settleS} s)`,
      [`${p}window_s`]: round(elapsed, 1),
      [`${p}cycles_measured`]: round(cycles, 2),
      [`${p}evaluations_per_min`]: Math.round((evaluated / elapsed) * 60),
      [`${p}results`]: `ok ${results.ok}, breach ${results.breach}, nodata ${results.nodata}, error ${results.error}`,
      [`${p}cycle_done_within_s`]: bound(histogramQuantile(before, after, 'sloe_evaluation_completion_seconds', 1)),
      [`${p}evaluation_lag_p99_s_at_most`]: bound(
        histogramQuantile(before, after, 'sloe_evaluation_lag_seconds', 0.99),
      ),
      [`${p}shards`]: shards,
      [`${p}shards_late_at_end`]: stale.length,
      [`${p}replica_cpu_s_per_cycle`]: cpu.map((c) => round(c)).join(' / '),
      [`${p}replica_cpu_s_per_cycle_total`]: round(total),
      [`${p}replica_cpu_s_per_cycle_mean`]: round(total / replicas),
      [`${p}redis_cpu_s_per_cycle`]: round((s1.redisCpu - s0.redisCpu - redisIdle * elapsed) / cycles),
      [`${p}replay_cpu_s_per_cycle`]: round((s1.replay.cpuSeconds - s0.replay.cpuSeconds) / cycles),
      [`${p}queries_per_cycle`]: Math.round((s1.replay.queries - s0.replay.queries) / cycles),
      [`${p}replica_rss_mb`]: memory.map((m) => Math.round(m.rss)).join(' / '),
      [`${p}replica_rss_peak_mb`]: memory.map((m) => Math.round(m.peak)).join(' / '),
      [`${p}load_average_1m`]: `${round(Math.min(...load), 2)} – ${round(Math.max(...load), 2)}`,
    };
    log(JSON.stringify(figures));
    const unmatched = s1.replay.unmatched + s1.replay.unknownPaths;
    const unjudged = results.nodata! + results.error! + unmatched;
    if (evaluated === 0 || unjudged > 0)
      throw new Error(
        `${replicas} replica(s): ${evaluated} evaluations, ${results.nodata} nodata, ${results.error} error, ${unmatched} requests the replay server had no data for since it started: not a figure (the replicas' logs are in ${LOGS})`,
      );
    return figures;
  } finally {
    await Promise.all(children.map(stopChild));
  }
}

/** Runs the benchmark for each replica count and returns its figures. */
export async function benchScaleout(budgets?: { slos: number; refresh: string }): Promise<Figures> {
  const n = budgets?.slos ?? Number(process.env.BENCH_SCALE_SLOS ?? 100_000);
  const counts = (process.env.BENCH_SCALE_REPLICAS ?? '1,2,4').split(',').map(Number);
  const windowS = Number(process.env.BENCH_SCALE_WINDOW_S ?? 180);
  const settleS = Number(process.env.BENCH_SCALE_SETTLE_S ?? 600);
  const firstS = Number(process.env.BENCH_SCALE_FIRST_S ?? 1800);
  const budgetRefresh = budgets?.refresh ?? process.env.BENCH_SCALE_BUDGET_REFRESH ?? 'off';
  const dir = await mkdtemp(join(tmpdir(), 'sloe-bench-scale-'));
  let redis: LocalRedis | undefined;
  let replay: Replay | undefined;
  try {
    const slos = join(dir, 'slos');
    await mkdir(slos);
    for (const [name, text] of Object.entries(sloeFiles(n))) await writeFile(join(slos, name), text);
    [redis, replay] = await Promise.all([startRedis(), startReplay()]);
    const r0 = await redisCpuSeconds(redis);
    await sleep(20_000);
    const redisIdle = ((await redisCpuSeconds(redis)) - r0) / 20;
    log(`idle Redis CPU: ${redisIdle.toFixed(5)} s/s`);
    const figures: Figures = {
      slos: n,
      shards: Math.ceil(n / SHARD_SIZE),
      interval: `${INTERVAL_S}s`,
      budget_refresh: budgetRefresh,
    };
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      for (const replicas of counts) {
        log(`${n} SLOs on ${replicas} replica(s)…`);
        Object.assign(
          figures,
          await runReplicas(replicas, n, slos, redis, replay, redisIdle, windowS, settleS, firstS, budgetRefresh),
        );
        // The next replica count starts from an empty Redis.
        await client.flushall();
      }
    } finally {
      client.disconnect();
    }
    const [first] = counts;
    const num = (key: string) => Number(figures[key]);
    for (const replicas of counts.slice(1)) {
      const ratio = (name: string) => Number((num(`r${replicas}_${name}`) / num(`r${first}_${name}`)).toFixed(2));
      Object.assign(figures, {
        [`r${replicas}_over_r${first}_replica_cpu_total`]: ratio('replica_cpu_s_per_cycle_total'),
        [`r${replicas}_over_r${first}_replica_cpu_mean`]: ratio('replica_cpu_s_per_cycle_mean'),
        [`r${replicas}_over_r${first}_redis_cpu`]: ratio('redis_cpu_s_per_cycle'),
      });
    }
    return figures;
  } finally {
    await Promise.allSettled([replay?.stop(), redis?.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchScaleout());
}
