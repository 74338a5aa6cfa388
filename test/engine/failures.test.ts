import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/process.js';
import { type LocalRedis, startRedis } from '../../src/local/redis.js';
import { eventually, queueSlo, startEngine, useStack, writeSlos } from '../support/engine.js';
import { spawnSloe } from '../support/process.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { sleep } from '../support/time.js';

const ctx = useStack({ persistRedis: true });

describe('dependencies failing', () => {
  it('Redis restarting in the middle of an escalation loses no incident and no step', async () => {
    const { engine, capture } = await startEngine(ctx.stack, [
      await writeSlos(ctx.stack.dir, queueSlo({ after: ['3s', '7s'] })),
    ]);
    ctx.engines.push(engine);
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);
    await eventually('the first step', async () => capture.events('notification').length === 1);
    await ctx.stack.redis.restart();
    await eventually('the remaining steps', async () => capture.events('notification').length === 3, 20_000);
    expect((await engine.store.get(incident.id))?.status).toBe('firing');
    expect(capture.events('notification').map((l) => l.step)).toEqual(['page.0', 'page.1', 'page.2']);
    expect((await engine.store.list()).map((i) => i.id)).toEqual([incident.id]);
  });

  it('Redis unreachable for a while (paused) delays steps but loses none', async () => {
    const { engine, capture } = await startEngine(ctx.stack, [
      await writeSlos(ctx.stack.dir, queueSlo({ after: ['2s', '6s'] })),
    ]);
    ctx.engines.push(engine);
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);
    await eventually('the first step', async () => capture.events('notification').length === 1);
    ctx.stack.redis.pause();
    await sleep(3000);
    ctx.stack.redis.resume();
    await eventually('the remaining steps', async () => capture.events('notification').length === 3, 20_000);
    expect(capture.events('notification').map((l) => l.step)).toEqual(['page.0', 'page.1', 'page.2']);
    expect((await engine.store.audit(incident.id)).filter((a) => a.type === 'fired')).toHaveLength(1);
  });

  it('Redis down at start-up: sloe run stays up, unready and saying why, and becomes ready when Redis comes', async () => {
    const redisPort = await freePort();
    const port = await freePort();
    const paths = [await writeSlos(ctx.stack.dir, queueSlo())];
    const p = spawnSloe(
      ['run', paths[0]!],
      {
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        PROMETHEUS_URL: ctx.stack.prometheus.url,
        SLOE_REDIS_PREFIX: `down${Date.now()}`,
      },
      port,
    );
    ctx.processes.push(p);
    await p.waitFor('the Redis error', (l) => l.event === 'redis-unavailable');
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(503);
    const checks = (await ready.json()) as Record<string, string>;
    expect(checks.redis).toMatch(/^unreachable/);
    expect(checks.workers).toBe('waiting for Redis');
    let redis: LocalRedis | undefined;
    try {
      redis = await startRedis({ port: redisPort });
      await p.waitFor('ready', (l) => l.event === 'ready', 20_000);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      expect(p.child.exitCode).toBeNull();
    } finally {
      p.kill('SIGKILL');
      await redis?.stop();
    }
  });

  it('Redis down: SIGTERM still drains and exits 0 at once (no wait for a Redis that never comes)', async () => {
    const paths = [await writeSlos(ctx.stack.dir, queueSlo())];
    const p = spawnSloe(
      ['run', paths[0]!],
      { REDIS_URL: `redis://127.0.0.1:${await freePort()}`, PROMETHEUS_URL: ctx.stack.prometheus.url },
      await freePort(),
    );
    ctx.processes.push(p);
    await p.waitFor('the Redis error', (l) => l.event === 'redis-unavailable');
    const signalled = Date.now();
    p.kill('SIGTERM');
    const exited = await Promise.race([p.exited, sleep(5000).then(() => 'still running' as const)]);
    expect(exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(5000);
    expect(p.lines.some((l) => l.event === 'stopped')).toBe(true);
  });

  it('an evaluation stuck on a slow Prometheus: SIGTERM waits SLOE_DRAIN_TIMEOUT for it, then exits 0', async () => {
    // Every answer comes 60 s late, and the engine would wait 120 s for one: the evaluation job is in flight.
    const slow = new TcpProxy('127.0.0.1', ctx.stack.prometheus.port, 60_000);
    await slow.start();
    try {
      const p = spawnSloe(
        ['run', await writeSlos(ctx.stack.dir, queueSlo())],
        {
          REDIS_URL: ctx.stack.redis.url,
          PROMETHEUS_URL: slow.url,
          PROMETHEUS_TIMEOUT: '120',
          SLOE_DRAIN_TIMEOUT: '2',
          SLOE_REDIS_PREFIX: `drain${Date.now()}`,
        },
        await freePort(),
      );
      ctx.processes.push(p);
      await p.waitFor('ready', (l) => l.event === 'ready');
      await sleep(2500);
      const signalled = Date.now();
      p.kill('SIGTERM');
      const exited = await Promise.race([p.exited, sleep(15_000).then(() => 'still running' as const)]);
      expect(exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(10_000);
      expect(p.lines.find((l) => l.event === 'drain-timeout')).toMatchObject({ level: 'warn' });
      expect(p.lines.some((l) => l.event === 'stopped')).toBe(true);
    } finally {
      await slow.stop();
    }
  });

  it('Redis killed while running: SIGTERM still exits 0 within SLOE_DRAIN_TIMEOUT', async () => {
    const redis = await startRedis({ port: await freePort() });
    try {
      const p = spawnSloe(
        ['run', await writeSlos(ctx.stack.dir, queueSlo())],
        {
          REDIS_URL: redis.url,
          PROMETHEUS_URL: ctx.stack.prometheus.url,
          SLOE_DRAIN_TIMEOUT: '2',
          SLOE_REDIS_PREFIX: `killed${Date.now()}`,
        },
        await freePort(),
      );
      ctx.processes.push(p);
      await p.waitFor('ready', (l) => l.event === 'ready');
      await p.waitFor('an evaluation', (l) => l.event === 'evaluated');
      await redis.kill();
      await sleep(1000);
      const signalled = Date.now();
      p.kill('SIGTERM');
      const exited = await Promise.race([p.exited, sleep(15_000).then(() => 'still running' as const)]);
      expect(exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(10_000);
      expect(p.lines.some((l) => l.event === 'stopped')).toBe(true);
    } finally {
      await redis.stop();
    }
  });

  it('Prometheus down: evaluations fail visibly, readiness says so, and a no-data ticket opens after noDataFor', async () => {
    const paths = [await writeSlos(ctx.stack.dir, queueSlo({ noDataFor: '3s' }))];
    const { engine, capture } = await startEngine(ctx.stack, paths, { env: { PROMETHEUS_URL: 'http://127.0.0.1:9' } });
    ctx.engines.push(engine);
    const incident = await eventually(
      'a no-data incident',
      async () => (await engine.store.list({ open: true }))[0],
      30_000,
    );
    expect(incident).toMatchObject({ severity: 'ticket', reason: 'nodata' });
    expect(incident.message).toMatch(
      /^evaluation failed: could not evaluate slo "demo\/queue-depth": Prometheus at http:\/\/127\.0\.0\.1:9 is unreachable/,
    );
    expect(capture.events('evaluation-failed').length).toBeGreaterThan(0);
    const ready = await fetch(`http://127.0.0.1:${engine.port}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as Record<string, string>).prometheus).toMatch(/^unreachable/);
    const metrics = await (await fetch(`http://127.0.0.1:${engine.port}/metrics`)).text();
    expect(metrics).toMatch(/^sloe_evaluations_total\{slo="demo\/queue-depth",result="error"\} [1-9]/m);
  });
});

describe('configuration and signals', () => {
  it('an invalid reload is reported and the last good configuration kept; a valid one applies', async () => {
    const paths = [await writeSlos(ctx.stack.dir, queueSlo())];
    const { engine, capture } = await startEngine(ctx.stack, paths);
    ctx.engines.push(engine);
    await writeFile(join(paths[0]!, 'demo.yaml'), queueSlo().replace('signal: queue_depth', 'signal: queue_lenght'));
    const bad = await engine.reload();
    expect(bad.ok).toBe(false);
    expect(bad.problems.map((p) => p.message)).toEqual([expect.stringContaining('"signal" must be one of')]);
    expect(capture.events('config-reload-failed')).toHaveLength(1);
    expect(engine.config().slos.map((s) => s.id)).toEqual(['demo/queue-depth']);
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    await eventually(
      'an incident under the last good configuration',
      async () => (await engine.store.list({ open: true }))[0],
    );

    await writeFile(join(paths[0]!, 'demo.yaml'), queueSlo().replace('name: queue-depth', 'name: approval-queue'));
    expect((await engine.reload()).ok).toBe(true);
    expect(engine.config().slos.map((s) => s.id)).toEqual(['demo/approval-queue']);
  });

  it('sloe run reloads on SIGHUP and on file change, and drains and exits 0 on SIGTERM', async () => {
    const paths = [await writeSlos(ctx.stack.dir, queueSlo())];
    const port = await freePort();
    const p = spawnSloe(
      ['run', paths[0]!],
      {
        REDIS_URL: ctx.stack.redis.url,
        PROMETHEUS_URL: ctx.stack.prometheus.url,
        SLOE_REDIS_PREFIX: `sig${Date.now()}`,
      },
      port,
    );
    ctx.processes.push(p);
    await p.waitFor('ready', (l) => l.event === 'ready');
    await writeFile(join(paths[0]!, 'demo.yaml'), 'apiVersion: sloe/v1\nkind: ServiceLevels\n');
    await p.waitFor('a failed reload on file change', (l) => l.event === 'config-reload-failed');
    p.kill('SIGHUP');
    await eventually(
      'a second failed reload',
      async () => p.lines.filter((l) => l.event === 'config-reload-failed').length >= 2,
    );
    expect(
      p.lines.some(
        (l) => l.event === 'config-invalid' && String(l.problem).includes('missing required field "service"'),
      ),
    ).toBe(true);
    await writeFile(join(paths[0]!, 'demo.yaml'), queueSlo());
    await p.waitFor('a good reload', (l) => l.event === 'config-reloaded');
    p.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.lines.some((l) => l.event === 'stopped')).toBe(true);
  });

  it('a SIGHUP while sloe run starts neither ends it nor is lost: it reloads once the engine runs', async () => {
    const paths = [await writeSlos(ctx.stack.dir, queueSlo())];
    // A module imported before sloe's own code says when Node has booted (before that no process can catch a signal).
    const BOOTED = '7355608';
    const env = {
      REDIS_URL: ctx.stack.redis.url,
      PROMETHEUS_URL: ctx.stack.prometheus.url,
      SLOE_REDIS_PREFIX: `hup${Date.now()}`,
      NODE_OPTIONS: `--import=data:text/javascript,console.error(${BOOTED})`,
    };
    const p = spawnSloe(['run', paths[0]!], env, await freePort());
    ctx.processes.push(p);
    await eventually('Node booted', async () => p.stderr.join('').includes(BOOTED) || p.child.exitCode !== null);
    // From when sloe's code runs: it catches SIGHUP (/proc says so), or it has logged its first line, whichever is first.
    const catches = async () =>
      /^SigCgt:\s*[0-9a-f]*[13579bdf]$/im.test(await readFile(`/proc/${p.child.pid}/status`, 'utf8').catch(() => ''));
    await eventually(
      'sloe code running',
      async () => p.lines.length > 0 || (await catches()) || p.child.exitCode !== null,
    );
    // SIGHUP after SIGHUP through the start-up: loading the code, reading the files, connecting.
    let sent = 0;
    while (
      !p.lines.some((l) => l.event === 'ready') &&
      p.child.exitCode === null &&
      p.child.signalCode === null &&
      sent < 1000
    ) {
      p.child.kill('SIGHUP');
      sent++;
      await sleep(10);
    }
    expect(p.child.signalCode, `${sent} SIGHUP(s) sent; stderr: ${p.stderr.join('')}`).toBeNull();
    expect(p.child.exitCode).toBeNull();
    expect(p.lines.some((l) => l.event === 'ready')).toBe(true);
    await p.waitFor('a reload asked for by SIGHUP', (l) => l.event === 'config-reload' && l.trigger === 'SIGHUP');
    p.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it('an invalid configuration at start-up exits 1 with the problems', async () => {
    const paths = [await writeSlos(ctx.stack.dir, queueSlo().replace('when: "> 200"', 'when: "above 200"'))];
    const p = spawnSloe(['run', paths[0]!], { REDIS_URL: ctx.stack.redis.url }, await freePort());
    ctx.processes.push(p);
    expect(await p.exited).toBe(1);
    expect(p.stderr.join('')).toContain('invalid condition');
  });
});
