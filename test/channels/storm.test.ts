/**
 * A storm against the real engine (Redis, Prometheus, the Slack and PagerDuty stand-ins): 20 incidents opening at
 * once on one Slack channel make a bounded number of top-level posts (the first STORM.admit, then one summary
 * listing the rest), keep Slack's pace of about a message a second per channel, retry a 429 after its Retry-After,
 * and do not hold up PagerDuty. The escalation benchmark runs the 150-incident version (bench/escalation.ts).
 */
import { describe, expect, it } from 'vitest';
import { STORM } from '../../src/escalation/slack/storm.js';
import { eventually, useStack } from '../support/engine.js';
import { channelSlo, engineWithChannels, resetStandIns, slackThenPagerDuty, useChannels } from './support.js';

const ctx = useStack();
const channels = useChannels();
const LANES = 20;

const STEPS = slackThenPagerDuty('1s');

describe('a storm on one Slack channel', () => {
  it(`${LANES} incidents at once: at most ${STORM.admit} posts and one summary, at Slack's pace, a 429 retried, PagerDuty on time`, async () => {
    resetStandIns(channels);
    channels.slack.reset();
    const lanes = ctx.stack.exporter.gauge('demo_storm_depth', ['lane']);
    for (let i = 0; i < LANES; i++) lanes.set({ lane: `l${i}` }, 20);
    const { engine } = await engineWithChannels(
      ctx,
      channels,
      channelSlo('max by (lane) (demo_storm_depth)', '', STEPS),
    );
    // Slack answers the first message 429 with Retry-After: 1.
    channels.slack.rateLimit('chat.postMessage', 1, 1);
    for (let i = 0; i < LANES; i++) lanes.set({ lane: `l${i}` }, 350);

    const incidents = await eventually(
      `${LANES} incidents`,
      async () => {
        const open = await engine.store.list({ open: true });
        return open.length === LANES ? open : undefined;
      },
      30_000,
    );
    await eventually(
      'every PagerDuty trigger',
      () => channels.pagerduty.events.filter((e) => e.event_action === 'trigger').length === LANES,
      30_000,
    );
    const inChannel = (c: { args: Record<string, unknown> }) =>
      c.args.channel === '#ai-alerts' || c.args.channel === 'CAIALERTS';
    const topLevel = () => channels.slack.of('chat.postMessage').filter((c) => inChannel(c) && !c.args.thread_ts);
    const summary = () =>
      [...topLevel(), ...channels.slack.of('chat.update')].filter((c) =>
        String(c.args.text).includes('more incidents'),
      );
    const others = LANES - STORM.admit;
    await eventually(
      'the summary counting the incidents not posted',
      () => summary().some((c) => String(c.args.text).startsWith(`${others} more incidents`)),
      30_000,
    );
    // Every step ran: each incident's Slack step was posted or joined the summary, the 429 retried.
    await eventually(
      'every Slack step recorded',
      async () => {
        const audits = await Promise.all(incidents.map((i) => engine.store.audit(i.id)));
        return audits.every((a) => a.some((e) => e.type === 'step' && e.step === 'page.0'));
      },
      30_000,
    );

    const posts = topLevel();
    expect(posts).toHaveLength(STORM.admit + 1);
    expect(posts.filter((c) => String(c.args.text).includes('more incidents'))).toHaveLength(1);
    expect(channels.slack.calls.filter((c) => c.method === 'chat.postMessage (429)')).toHaveLength(1);
    // Slack's pace: at most postBurst messages at once, one a second after that (thread replies count too).
    const times = channels.slack
      .of('chat.postMessage')
      .filter(inChannel)
      .map((c) => c.at)
      .sort((a, b) => a - b);
    for (let i = STORM.postBurst; i < times.length; i++)
      expect(times[i]! - times[i - STORM.postBurst]!).toBeGreaterThanOrEqual(STORM.postIntervalMs - 50);
    // PagerDuty is another channel: each trigger went out within a second of its step's time.
    const due = new Map(incidents.map((i) => [i.id, i.firedAt + 1000]));
    const late = channels.pagerduty.requests
      .filter((r) => r.event.event_action === 'trigger')
      .map((r) => r.at - due.get(String(r.event.payload.custom_details?.sloe_incident))!);
    expect(Math.max(...late)).toBeLessThan(1000);
    for (let i = 0; i < LANES; i++) lanes.set({ lane: `l${i}` }, 20);
  }, 90_000);
});
