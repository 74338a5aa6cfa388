/**
 * Delivery claims: a worker keeps its claim for as long as it delivers, so a delivery held up for longer than the
 * claim lasts is not sent again by another worker; and a step job that fails for good is reported like a delivery
 * that failed, not dropped.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/log.js';
import { Escalator } from '../../src/escalation/escalator.js';
import type { StepJob } from '../../src/incident/jobs.js';
import { LogChannel } from '../../src/escalation/log-channel.js';
import type { Channel, StepContext } from '../../src/escalation/notifier.js';
import { RunLater } from '../../src/scheduler/run-later.js';
import { EngineMetrics } from '../../src/observability/metrics.js';
import { LogCapture, eventually, queueSlo, startEngine, useStack, writeSlos } from '../support/engine.js';
import { channelSlo, engineWithChannels, resetStandIns, useChannels } from './support.js';
import { sleep } from '../support/time.js';

const ctx = useStack();
const channels = useChannels();

/** A channel whose deliveries take `ms` (a Retry-After, a slow API), counting them. */
class SlowChannel implements Channel {
  readonly name = 'pagerduty';
  delivered = 0;
  constructor(private readonly ms: number) {}
  async step(_ctx: StepContext) {
    await sleep(this.ms);
    this.delivered++;
    return { ok: true as const, detail: 'sent slowly' };
  }
  async update() {
    return undefined;
  }
}

describe('delivery claims', () => {
  it('a delivery held up three times as long as a claim lasts stays with its worker: a second worker waits, then finds it done', async () => {
    // An incident whose PagerDuty step is due in a minute; two workers of our own take that step now.
    const { engine } = await startEngine(ctx.stack, [
      await writeSlos(ctx.stack.dir, queueSlo({ after: ['60s', '90s'] })),
    ]);
    ctx.engines.push(engine);
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);
    const slow = new SlowChannel(1800);
    const worker = (owner: string) =>
      new Escalator({
        store: engine.store,
        channels: {
          slack: new LogChannel('slack', true, 'test'),
          pagerduty: slow,
          oncall: new LogChannel('oncall', false, 'test'),
        },
        log: createLogger({ LOG_LEVEL: 'silent' }, new LogCapture()),
        metrics: new EngineMetrics(async () => ({})),
        now: Date.now,
        owner,
        claimTtlMs: 600,
        postpone: async () => undefined,
        scheduleSteps: async () => undefined,
        queueUpdate: async () => undefined,
      });
    const [a, b] = [worker('a'), worker('b')];
    const job: StepJob = { incidentId: incident.id, token: incident.token, severity: 'page', index: 1, at: Date.now() };
    const first = a.runStep(job);
    await sleep(1200);
    const second = await b.runStep(job).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(RunLater);
    expect((second as RunLater).waitMs).toBeGreaterThan(0);
    expect((second as RunLater).waitMs).toBeLessThanOrEqual(700);
    expect(await first).toBe('sent');
    expect(await b.runStep(job)).toBe('skipped');
    expect(slow.delivered).toBe(1);
  });

  it('a step job that fails on every attempt is reported in the audit trail, the log, the metrics and the Slack thread', async () => {
    resetStandIns(channels);
    const { engine, capture, prefix, url } = await engineWithChannels(ctx, channels, channelSlo(), {
      tuning: { deliverAttempts: 2, deliverBackoffMs: 100 },
    });
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);
    await eventually('the Slack message', () =>
      channels.slack.of('chat.postMessage').some((c) => c.args.channel === '#ai-alerts'),
    );
    // Corrupted state in Redis: the delivery record of the PagerDuty step (due after 2s) is of the wrong type, so
    // every attempt of the step fails with a Redis error.
    const redis = new Redis(ctx.stack.redis.url);
    try {
      await redis.hset(`${prefix}:delivery:${incident.id}:page.1@${incident.token}`, 'corrupt', '1');
    } finally {
      redis.disconnect();
    }
    const failed = await eventually(
      'the failure in the audit trail',
      async () => (await engine.store.audit(incident.id)).find((a) => a.type === 'failed' && a.step === 'page.1'),
      20_000,
    );
    expect(failed.detail).toMatch(
      /^pagerduty \(critical\) failed for good: the step job failed on every attempt \(.*WRONGTYPE/,
    );
    expect(capture.events('step-failed').map((l) => l.step)).toEqual(['page.1']);
    expect(capture.events('job-failed').filter((l) => l.final).length).toBe(1);
    await eventually('a note in the Slack thread', () =>
      channels.slack
        .of('chat.postMessage')
        .find(
          (c) =>
            c.args.thread_ts &&
            String(c.args.text).startsWith('Escalation step failed: pagerduty (critical) failed for good'),
        ),
    );
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^sloe_notifications_total\{channel="pagerduty",kind="step",outcome="failed"\} 1$/m);
    expect(channels.pagerduty.events).toEqual([]);
  });
});
