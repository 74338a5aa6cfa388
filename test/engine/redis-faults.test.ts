/**
 * Redis losing its data (FLUSHALL, a restart without persistence) or refusing writes (out of memory) must neither
 * stop evaluation for good nor leave it silent: job schedulers are re-created, readiness says what is missing, and
 * a start-up or reload that fails is logged with its cause and tried again.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/process.js';
import { eventually, queueSlo, startEngine, useStack, writeSlos } from '../support/engine.js';
import { spawnSloe } from '../support/process.js';

/** Redis without persistence: a restart comes back empty. */
const ctx = useStack();

/** Interval of the test SLOs, and what "two intervals" allows besides: Prometheus' scrape (1s) and a second of slack. */
const INTERVAL = 1000;
const WITHIN = 2 * INTERVAL + 1000 + 1000;

async function engineWith(env: NodeJS.ProcessEnv = {}) {
  const paths = [await writeSlos(ctx.stack.dir, queueSlo({ for: '0s' }))];
  const started = await startEngine(ctx.stack, paths, { env });
  ctx.engines.push(started.engine);
  await eventually('evaluations', () => started.capture.events('evaluated').length >= 2);
  return started;
}

async function withRedis<T>(run: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(ctx.stack.redis.url, { maxRetriesPerRequest: 1 });
  try {
    return await run(redis);
  } finally {
    redis.disconnect();
  }
}

async function readyz(port: number): Promise<{ status: number; body: Record<string, string> }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

describe('Redis losing its data', () => {
  it('FLUSHALL: the job schedulers are re-created and a new breach fires within two intervals', async () => {
    const { engine, capture } = await engineWith();
    await withRedis((r) => r.flushall());
    const flushedAt = Date.now();
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await eventually(
      'an incident after the flush',
      async () => (await engine.store.list({ open: true }))[0],
      20_000,
    );
    expect(incident.firedAt - flushedAt).toBeLessThanOrEqual(WITHIN);
    expect(capture.events('schedulers-missing').length).toBeGreaterThan(0);
  });

  it('a restart without persistence: the schedulers are re-created on reconnect and a new breach fires within two intervals', async () => {
    const { engine, capture } = await engineWith();
    await ctx.stack.redis.restart();
    const restartedAt = Date.now();
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await eventually(
      'an incident after the restart',
      async () => (await engine.store.list({ open: true }))[0],
      20_000,
    );
    expect(incident.firedAt - restartedAt).toBeLessThanOrEqual(WITHIN);
    expect(capture.events('schedulers-synced').some((l) => l.reason === 'redis-ready')).toBe(true);
  });

  it('/readyz says the job schedulers are missing, and they are re-created', async () => {
    // No periodic check in this test: readiness must notice by itself.
    const { engine } = await engineWith({ SLOE_SCHEDULER_CHECK_MS: '600000' });
    expect(await readyz(engine.port)).toMatchObject({ status: 200, body: { schedulers: 'ok' } });
    await withRedis((r) => r.flushall());
    const after = await readyz(engine.port);
    expect(after.status).toBe(503);
    expect(after.body.schedulers).toBe('missing 1 of 1 job scheduler(s): shard.1000.0; re-creating');
    await eventually('ready again', async () => (await readyz(engine.port)).status === 200, 10_000);
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    await eventually('an incident', async () => (await engine.store.list({ open: true }))[0], 20_000);
  });
});

describe('Redis refusing writes (out of memory)', () => {
  it('at start-up: the cause is logged and start-up tried again until it succeeds', async () => {
    const paths = [await writeSlos(ctx.stack.dir, queueSlo({ for: '0s' }))];
    await withRedis((r) => r.config('SET', 'maxmemory', '1'));
    try {
      const p = spawnSloe(
        ['run', paths[0]!],
        {
          REDIS_URL: ctx.stack.redis.url,
          PROMETHEUS_URL: ctx.stack.prometheus.url,
          SLOE_REDIS_PREFIX: `oom${Date.now()}`,
        },
        await freePort(),
      );
      ctx.processes.push(p);
      const failed = await p.waitFor('the failed start-up', (l) => l.event === 'start-failed');
      expect(String(failed.error)).toContain('OOM');
      await withRedis((r) => r.config('SET', 'maxmemory', '0'));
      await p.waitFor('ready', (l) => l.event === 'ready', 20_000);
      expect((await readyz(p.port)).status).toBe(200);
    } finally {
      await withRedis((r) => r.config('SET', 'maxmemory', '0'));
    }
  });

  it('at a reload: the engine stays up, logs the cause, says so in /readyz, and evaluates the new SLO once Redis takes writes again', async () => {
    const paths = [await writeSlos(ctx.stack.dir, queueSlo({ for: '0s' }))];
    const p = spawnSloe(
      ['run', paths[0]!],
      {
        REDIS_URL: ctx.stack.redis.url,
        PROMETHEUS_URL: ctx.stack.prometheus.url,
        SLOE_REDIS_PREFIX: `oomreload${Date.now()}`,
      },
      await freePort(),
    );
    ctx.processes.push(p);
    await p.waitFor('ready', (l) => l.event === 'ready');
    try {
      await withRedis((r) => r.config('SET', 'maxmemory', '1'));
      // A second SLO on its own interval needs a job scheduler of its own.
      await writeFile(
        join(paths[0]!, 'demo.yaml'),
        queueSlo({ for: '0s' })
          .replace('    alert: { when: "> 200"', '    interval: 2s\n    alert: { when: "> 200"')
          .replace('name: queue-depth', 'name: queue-depth-2s'),
      );
      const failed = await p.waitFor('the failed scheduler sync', (l) => l.event === 'schedulers-sync-failed');
      expect(String(failed.error)).toContain('OOM');
      expect(p.child.exitCode).toBeNull();
      const ready = await readyz(p.port);
      expect(ready.status).toBe(503);
      expect(ready.body.schedulers).toMatch(/^missing 1 of 1 job scheduler\(s\): shard\.2000\.0/);
      await withRedis((r) => r.config('SET', 'maxmemory', '0'));
      await p.waitFor(
        'the new SLO evaluated',
        (l) => l.event === 'evaluated' && l.slo === 'demo/queue-depth-2s',
        20_000,
      );
      // The scheduler the reload could not remove is removed by the repair.
      await p.waitFor(
        'the old scheduler removed',
        (l) => l.event === 'schedulers-removed' && (l.schedulers as string[]).includes('shard.1000.0'),
      );
      expect(p.child.exitCode).toBeNull();
    } finally {
      await withRedis((r) => r.config('SET', 'maxmemory', '0'));
    }
  });
});
