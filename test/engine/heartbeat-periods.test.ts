import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Heartbeat, heartbeatTarget } from '../../src/engine/heartbeat.js';
import { createLogger } from '../../src/observability/log.js';
import { loadRules } from '../../src/rules/index.js';
import type { Config } from '../../src/rules/model.js';
import { EngineMetrics } from '../../src/observability/metrics.js';
import { LogCapture, eventually, queueSlo, writeSlos } from '../support/engine.js';
import { HeartbeatStandIn } from '../support/stand-ins/heartbeat.js';

const monitor = new HeartbeatStandIn();
let dir = '';
beforeAll(async () => {
  await monitor.start();
  dir = await mkdtemp(join(tmpdir(), 'sloe-heartbeat-'));
});
afterAll(async () => {
  await monitor.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The configuration of queueSlo() with its interval set to `interval`. */
async function config(interval: string): Promise<Config> {
  const path = await writeSlos(join(dir, interval), queueSlo().replace('interval: 1s', `interval: ${interval}`));
  const loaded = await loadRules([path]);
  expect(loaded.problems).toEqual([]);
  return loaded.config;
}

describe('heartbeat periods (a moved clock, a real monitor)', () => {
  it('sends at most one heartbeat per period, and none for a period in which an evaluation failed', async () => {
    monitor.pings.length = 0;
    let clock = 1_000_000;
    const metrics = new EngineMetrics(async () => ({}));
    const cfg = await config('1s');
    const heartbeat = new Heartbeat({
      env: { SLOE_HEARTBEAT_URL: monitor.url() },
      log: createLogger({}, new LogCapture()),
      metrics,
      now: () => clock,
      config: () => cfg,
    });
    const shard = { intervalMs: 1000, shard: 0 };
    /**
     * Advances the clock to `at` (ms after the start) and reports an outcome; returns the pings that followed, having
     * waited for one as long as a due ping may take (`due`), or long enough for an undue one to show.
     */
    const at = async (ms: number, ok: boolean, due: boolean) => {
      const before = monitor.pings.length;
      clock = 1_000_000 + ms;
      heartbeat.shardEvaluated(shard, ok, clock);
      await eventually('a ping', () => monitor.pings.length > before, due ? 5000 : 300).catch(() => undefined);
      return monitor.pings.length - before;
    };
    expect(await at(0, true, true)).toBe(1); // the first success: nothing failed yet
    expect(await at(500, true, false)).toBe(0); // within the period
    expect(await at(1000, true, true)).toBe(1); // a clean period
    expect(await at(1500, false, false)).toBe(0); // a failure
    expect(await at(2000, true, false)).toBe(0); // ends the period that had the failure
    expect(await at(2500, true, false)).toBe(0);
    expect(await at(3000, true, true)).toBe(1); // a clean period again
    expect(await at(4200, false, false)).toBe(0); // a failed evaluation ends a period without a heartbeat
    expect(await at(4300, true, false)).toBe(0);
    expect(await at(5200, true, true)).toBe(1);
    expect(monitor.pings).toHaveLength(4);
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      `sloe_last_evaluation_success_timestamp_seconds{interval="1s",shard="0"} ${(1_000_000 + 5200) / 1000}`,
    );
    expect(text).toContain('sloe_heartbeats_total{outcome="sent"} 4');
  });

  it('drops the series of shards a reload removed, so they do not look stale', async () => {
    const metrics = new EngineMetrics(async () => ({}));
    const [fast, slow] = [await config('1s'), await config('2s')];
    let cfg = fast;
    const heartbeat = new Heartbeat({
      env: {},
      log: createLogger({}, new LogCapture()),
      metrics,
      now: () => 0,
      config: () => cfg,
    });
    heartbeat.shardEvaluated({ intervalMs: 1000, shard: 0 }, true, 5000);
    expect(await metrics.registry.getSingleMetricAsString('sloe_last_evaluation_success_timestamp_seconds')).toContain(
      '{interval="1s",shard="0"} 5',
    );
    cfg = slow;
    heartbeat.shardEvaluated({ intervalMs: 2000, shard: 0 }, true, 7000);
    const text = await metrics.registry.getSingleMetricAsString('sloe_last_evaluation_success_timestamp_seconds');
    expect(text).not.toContain('interval="1s"');
    expect(text).toContain('{interval="2s",shard="0"} 7');
  });

  it.each([
    ['not a URL', 'hc-ping', 'SLOE_HEARTBEAT_URL is not a URL'],
    ['not http(s)', 'ftp://hc-ping.example/x', 'SLOE_HEARTBEAT_URL must be an http(s) URL, not ftp:'],
  ])('refuses a URL that is %s, and says so in the log', async (_name, url, problem) => {
    expect(heartbeatTarget(url)).toEqual({ problem });
    const capture = new LogCapture();
    const metrics = new EngineMetrics(async () => ({}));
    const cfg = await config('1s');
    const heartbeat = new Heartbeat({
      env: { SLOE_HEARTBEAT_URL: url },
      log: createLogger({}, capture),
      metrics,
      now: () => 0,
      config: () => cfg,
    });
    heartbeat.shardEvaluated({ intervalMs: 1000, shard: 0 }, true, 0);
    expect(capture.events('heartbeat-disabled')).toEqual([expect.objectContaining({ level: 'error', problem })]);
    expect(await metrics.registry.getSingleMetricAsString('sloe_heartbeats_total')).not.toMatch(/outcome=/);
  });

  it('sends the credentials of a URL as basic auth, and keeps its path and query', () => {
    expect(heartbeatTarget('https://us%40r:p%3Ass@hc-ping.example/ping/abc?rid=1')).toEqual({
      url: 'https://hc-ping.example/ping/abc?rid=1',
      headers: { authorization: `Basic ${Buffer.from('us@r:p:ss').toString('base64')}` },
      origin: 'https://hc-ping.example',
    });
  });
});
