import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/process.js';
import { type LogCapture, eventually, queueSlo, startEngine, useStack, writeSlos } from '../support/engine.js';
import { spawnSloe } from '../support/process.js';
import { sleep } from '../support/time.js';

const ctx = useStack();

describe('replicas sharing one Redis', () => {
  it('evaluate each tick once and send each step once', async () => {
    const paths = [await writeSlos(ctx.stack.dir, queueSlo())];
    const a = await startEngine(ctx.stack, paths);
    const b = await startEngine(ctx.stack, paths, { prefix: a.prefix });
    ctx.engines.push(a.engine, b.engine);
    const captures: LogCapture[] = [a.capture, b.capture];
    const started = Date.now();
    await sleep(4000);
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await eventually('an incident', async () => (await a.engine.store.list({ open: true }))[0]);
    await eventually(
      'three steps',
      async () => (await a.engine.store.audit(incident.id)).filter((x) => x.type === 'step').length === 3,
    );
    const elapsed = (Date.now() - started) / 1000;

    const ticks = captures.flatMap((c) => c.events('evaluated').map((l) => l.at as number));
    expect(new Set(ticks).size).toBe(ticks.length);
    // One evaluation a second between the two of them, not two.
    expect(ticks.length).toBeGreaterThanOrEqual(Math.floor(elapsed) - 2);
    expect(ticks.length).toBeLessThanOrEqual(Math.ceil(elapsed) + 1);

    const sent = captures.flatMap((c) => c.events('notification'));
    expect(sent.map((l) => l.step).sort()).toEqual(['page.0', 'page.1', 'page.2']);
    expect(captures.flatMap((c) => c.events('incident-fired'))).toHaveLength(1);
  });

  it('a replica killed (SIGKILL) in the middle of an escalation loses no step and repeats none', async () => {
    const paths = [await writeSlos(ctx.stack.dir, queueSlo({ after: ['4s', '8s'] }))];
    const env = {
      REDIS_URL: ctx.stack.redis.url,
      PROMETHEUS_URL: ctx.stack.prometheus.url,
      SLOE_REDIS_PREFIX: `kill${Date.now()}`,
      SLOE_LOCK_DURATION_MS: '2000',
      SLOE_STALLED_INTERVAL_MS: '1000',
    };
    const [pa, pb] = await Promise.all([freePort(), freePort()]);
    const a = spawnSloe(['run', paths[0]!], env, pa);
    const b = spawnSloe(['run', paths[0]!], env, pb);
    ctx.processes.push(a, b);
    await Promise.all([a.waitFor('ready', (l) => l.event === 'ready'), b.waitFor('ready', (l) => l.event === 'ready')]);
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const first = await Promise.race(
      [a, b].map((p) =>
        p
          .waitFor('the first step', (l) => l.event === 'notification' && l.step === 'page.0')
          .then((line) => ({ p, line })),
      ),
    );
    const fired = [a, b].flatMap((p) => p.lines).find((l) => l.event === 'incident-fired')!;
    first.p.kill('SIGKILL');
    const survivor = first.p === a ? b : a;
    await survivor.waitFor('the last step', (l) => l.event === 'notification' && l.step === 'page.2', 20_000);
    await sleep(1500);
    const sent = [a, b].flatMap((p) => p.lines.filter((l) => l.event === 'notification'));
    expect(sent.map((l) => l.step).sort()).toEqual(['page.0', 'page.1', 'page.2']);
    const firedAt = Date.parse(fired.time as string);
    const stepTime = (step: string) => Date.parse(sent.find((l) => l.step === step)!.time as string) - firedAt;
    expect(stepTime('page.1')).toBeGreaterThanOrEqual(3900);
    expect(stepTime('page.1')).toBeLessThan(5000);
    expect(stepTime('page.2')).toBeGreaterThanOrEqual(7900);
    expect(stepTime('page.2')).toBeLessThan(9000);
    expect(first.line.incidentId).toBe(fired.incidentId);
  });
});
