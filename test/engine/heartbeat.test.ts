import { describe, expect, it } from 'vitest';
import { eventually, queueSlo, startEngine, useStack, writeSlos } from '../support/engine.js';
import { HeartbeatStandIn } from '../support/stand-ins/heartbeat.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { sleep } from '../support/time.js';

const ctx = useStack();

const SHARD = 'interval="1s",shard="0"';

/** `sloe_last_evaluation_success_timestamp_seconds` of an engine, by label set. */
async function successTimes(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^sloe_last_evaluation_success_timestamp_seconds\{([^}]*)\} (\S+)$/gm))
    out[m[1]!] = Number(m[2]);
  return out;
}

/** One sample of an engine's /metrics, or undefined. */
async function sample(url: string, series: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function engineOn(prometheusUrl: string, env: Record<string, string>, slos = queueSlo()) {
  const paths = [await writeSlos(ctx.stack.dir, slos)];
  const started = await startEngine(ctx.stack, paths, { env: { PROMETHEUS_URL: prometheusUrl, ...env } });
  ctx.engines.push(started.engine);
  return { ...started, url: `http://127.0.0.1:${started.engine.port}` };
}

describe("the dead man's switch", () => {
  it('pings the heartbeat URL while Prometheus answers, stops while it is down, and starts again once it is back', async () => {
    const monitor = new HeartbeatStandIn();
    await monitor.start();
    const proxy = new TcpProxy('127.0.0.1', ctx.stack.prometheus.port);
    await proxy.start();
    try {
      const { url, capture } = await engineOn(proxy.url, {
        SLOE_HEARTBEAT_URL: `http://sloe:s3cret@127.0.0.1:${monitor.port}/ping/0f3c?rid=run-1`,
      });
      await eventually('three heartbeats', () => monitor.pings.length >= 3, 20_000);
      const first = monitor.pings.slice(0, 3);
      expect(first.map((p) => [p.method, p.url, p.authorization])).toEqual(
        Array(3).fill(['GET', '/ping/0f3c?rid=run-1', `Basic ${Buffer.from('sloe:s3cret').toString('base64')}`]),
      );
      // At most one heartbeat per interval (1s) from one replica.
      expect(first[1]!.at - first[0]!.at).toBeGreaterThanOrEqual(900);
      expect(first[2]!.at - first[1]!.at).toBeGreaterThanOrEqual(900);
      // One series per shard, labelled by interval and shard only.
      const healthy = await successTimes(url);
      expect(Object.keys(healthy)).toEqual([SHARD]);
      expect(healthy[SHARD]).toBeGreaterThan(Date.now() / 1000 - 5);
      expect(await sample(url, 'sloe_heartbeats_total{outcome="sent"}')).toBeGreaterThanOrEqual(3);

      // Prometheus goes away: evaluations fail, so neither the heartbeat nor the timestamp moves.
      await proxy.stop();
      await eventually('two failed evaluations', () => capture.events('evaluation-failed').length >= 2, 20_000);
      const pings = monitor.pings.length;
      const stuck = await successTimes(url);
      await sleep(4000);
      expect(monitor.pings.length).toBe(pings);
      expect(await successTimes(url)).toEqual(stuck);

      // Back: heartbeats resume after one clean interval, and the timestamp advances.
      await proxy.start();
      await eventually('a heartbeat after the recovery', () => monitor.pings.length > pings, 20_000);
      expect((await successTimes(url))[SHARD]).toBeGreaterThan(stuck[SHARD]!);
    } finally {
      await proxy.stop();
      await monitor.stop();
    }
  });

  it('a heartbeat monitor that never answers delays no evaluation; the failure is logged with the URL origin only', async () => {
    const monitor = new HeartbeatStandIn();
    monitor.answer = 'hang';
    await monitor.start();
    try {
      const { url, capture } = await engineOn(ctx.stack.prometheus.url, {
        SLOE_HEARTBEAT_URL: `http://sloe:s3cret@127.0.0.1:${monitor.port}/ping/0f3c?rid=run-2`,
        SLOE_HEARTBEAT_TIMEOUT: '3',
      });
      await eventually('the first heartbeat', () => monitor.pings.length >= 1, 20_000);
      const pinged = Date.now();
      const atPing = (await successTimes(url))[SHARD]!;
      await sleep(Math.max(0, pinged + 2500 - Date.now()));
      // While the first heartbeat hangs, evaluation goes on at its interval and no second heartbeat is sent.
      expect((await successTimes(url))[SHARD]! - atPing).toBeGreaterThanOrEqual(1);
      expect(monitor.pings).toHaveLength(1);
      const failed = await eventually('the heartbeat failure', () => capture.events('heartbeat-failed')[0], 10_000);
      expect(failed).toMatchObject({ level: 'error', url: `http://127.0.0.1:${monitor.port}` });
      expect(failed.msg).toBe(`heartbeat to http://127.0.0.1:${monitor.port} failed: no answer within 3s`);
      expect(capture.raw.join('\n')).not.toMatch(/s3cret|rid=run-2|ping\/0f3c/);
      expect(await sample(url, 'sloe_heartbeats_total{outcome="failed"}')).toBeGreaterThanOrEqual(1);
      // No shard evaluation waited for the hanging heartbeat (one that did would have taken 3s).
      await sleep(500);
      const completed = await sample(url, 'sloe_evaluation_completion_seconds_count');
      expect(await sample(url, 'sloe_evaluation_completion_seconds_bucket{le="2"}')).toBe(completed);
      expect(completed).toBeGreaterThanOrEqual(3);
    } finally {
      await monitor.stop();
    }
  });

  it('a shard with one SLO that Prometheus cannot evaluate is not a success, even though its other SLOs are', async () => {
    const monitor = new HeartbeatStandIn();
    await monitor.start();
    try {
      // label_replace with an invalid regular expression passes the grammar but fails in Prometheus, every time.
      const broken = `${queueSlo()}  - name: broken
    signal: queue_depth
    dashboard: queue
    query: label_replace(max(demo_queue_depth), "a", "$1", "b", "(")
    objective: "< 50"
    alert: { when: "> 200" }
`;
      const { url, capture } = await engineOn(ctx.stack.prometheus.url, { SLOE_HEARTBEAT_URL: monitor.url() }, broken);
      await eventually(
        'the broken SLO failing',
        () => capture.events('evaluation-failed').some((l) => l.slo === 'demo/broken'),
        20_000,
      );
      await eventually(
        'the healthy SLO evaluated twice',
        async () => ((await sample(url, 'sloe_evaluations_total{slo="demo/queue-depth",result="ok"}')) ?? 0) >= 2,
      );
      await sleep(2000);
      expect(await successTimes(url)).toEqual({});
      expect(monitor.pings).toEqual([]);
    } finally {
      await monitor.stop();
    }
  });
});
