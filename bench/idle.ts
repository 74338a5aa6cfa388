/**
 * Benchmark: what `sloe run` costs when nothing is due. The engine runs the evaluation section's SLOs with an
 * interval of a day against a real Redis and an empty Prometheus: after the first evaluation nothing is due for 24
 * hours, so what it spends is its fixed cost (BullMQ workers waiting for jobs, stalled-job checks, the scheduler
 * check, timers). Measured from outside through /proc (no /metrics scrape during the window, which would itself cost
 * CPU): sloe's CPU seconds per minute, and the CPU Redis spent serving it (INFO cpu), with Redis's own idle rate
 * measured beforehand and subtracted.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../src/local/process.js';
import { sloeFiles } from './evaluation.js';
import { processCpuSeconds, processRssMb, profileFlags, startEngine } from './proc.js';
import { type LocalPrometheus, startPrometheus } from '../src/local/prometheus.js';
import { type LocalRedis, startRedis } from '../src/local/redis.js';
import { sleep } from '../src/util/async.js';

const log = (line: string) => process.stderr.write(`bench idle: ${line}\n`);

/** CPU seconds Redis has used (INFO cpu: used_cpu_user + used_cpu_sys). */
export async function redisCpuSeconds(redis: LocalRedis): Promise<number> {
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const info = await client.info('cpu');
    const value = (key: string) => Number(new RegExp(`^${key}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
    return value('used_cpu_user') + value('used_cpu_sys');
  } finally {
    client.disconnect();
  }
}

export async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const since = Date.now();
  for (;;) {
    const ok = await fetch(url)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    if (Date.now() - since > timeoutMs) throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

/** Runs the benchmark and returns its figures. */
export async function benchIdle(
  windowS = Number(process.env.BENCH_IDLE_S ?? 120),
  slos = 100,
): Promise<Record<string, number | string>> {
  const dir = await mkdtemp(join(tmpdir(), 'sloe-bench-idle-'));
  let prom: LocalPrometheus | undefined;
  let redis: LocalRedis | undefined;
  try {
    [prom, redis] = await Promise.all([startPrometheus(), startRedis()]);
    const r0 = await redisCpuSeconds(redis);
    await sleep(30_000);
    const redisIdle = ((await redisCpuSeconds(redis)) - r0) / 30;
    log(`idle Redis CPU: ${redisIdle.toFixed(5)} s/s`);

    await mkdir(join(dir, 'slos'));
    for (const [name, text] of Object.entries(sloeFiles(slos, '1d'))) await writeFile(join(dir, 'slos', name), text);
    const port = await freePort();
    const child = await startEngine(
      ['run', join(dir, 'slos')],
      {
        PROMETHEUS_URL: prom.url,
        REDIS_URL: redis.url,
        SLOE_REDIS_PREFIX: `idle-${Date.now()}`,
        SLOE_PORT: String(port),
        LOG_LEVEL: 'warn',
      },
      ['ignore', 'ignore', 'inherit'],
      profileFlags(),
    );
    try {
      await waitForHttp(`http://127.0.0.1:${port}/readyz`, 60_000);
      // The first evaluation of each shard and the first budgets happen at start-up; a minute later all is quiet.
      await sleep(60_000);
      const pid = child.pid!;
      const [c0, q0] = await Promise.all([processCpuSeconds(pid), redisCpuSeconds(redis)]);
      const t0 = Date.now();
      await sleep(windowS * 1000);
      const [c1, q1, memory] = await Promise.all([processCpuSeconds(pid), redisCpuSeconds(redis), processRssMb(pid)]);
      const minutes = (Date.now() - t0) / 60_000;
      const round = (x: number) => Number(x.toFixed(3));
      return {
        slos,
        interval: '1d',
        window_s: windowS,
        idle_sloe_cpu_s_per_min: round((c1 - c0) / minutes),
        idle_redis_cpu_s_per_min: round((q1 - q0) / minutes - redisIdle * 60),
        idle_sloe_rss_mb: Math.round(memory.rss),
      };
    } finally {
      // A sloe that exited on its own (a refused configuration) has no exit left to wait for.
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    }
  } finally {
    await Promise.allSettled([prom?.stop(), redis?.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchIdle());
}
