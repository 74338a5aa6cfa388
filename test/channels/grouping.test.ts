/**
 * Grouping against the real engine (Redis, Prometheus, the Slack and PagerDuty stand-ins driven by the real client
 * libraries): three instances of one SLO breaching within the policy's `group.wait` share one Slack message (a line
 * per instance, updated in place) and one PagerDuty incident; an Ack on the group's message acknowledges all three;
 * each resolves on its own, and PagerDuty is told the group resolved only when the last one does.
 */
import { describe, expect, it } from 'vitest';
import { eventually, useStack } from '../support/engine.js';
import { click } from '../support/stand-ins/slack.js';
import {
  SIGNING_SECRET,
  channelSlo,
  engineWithChannels,
  resetStandIns,
  slackThenPagerDuty,
  useChannels,
} from './support.js';

const ctx = useStack();
const channels = useChannels();

/** Slack now, PagerDuty 2s later; incidents of one SLO within 30s of each other are one group. */
const GROUPED = slackThenPagerDuty('2s', 'group: { by: [service, slo], wait: 30s }');

describe('grouping', () => {
  it('three instances breaching within group.wait: one Slack post, one PagerDuty incident, one Ack for all, resolved with the last', async () => {
    resetStandIns(channels);
    const latency = ctx.stack.exporter.gauge('demo_model_latency', ['model']);
    for (const model of ['haiku', 'opus', 'sonnet']) latency.set({ model }, 20);
    const { engine, url } = await engineWithChannels(
      ctx,
      channels,
      channelSlo('max by (model) (demo_model_latency)', '', GROUPED),
    );

    // One model first, the other two a little later: all within the 30s wait of the first.
    latency.set({ model: 'opus' }, 350);
    const leader = await eventually(
      'the first incident',
      async () => (await engine.store.list({ open: true }))[0],
      20_000,
    );
    expect(leader.group).toBe(leader.id);
    latency.set({ model: 'haiku' }, 350);
    latency.set({ model: 'sonnet' }, 350);
    const open = await eventually('three incidents', async () => {
      const list = await engine.store.list({ open: true });
      return list.length === 3 ? list : undefined;
    });
    expect(open.map((i) => i.group)).toEqual([leader.id, leader.id, leader.id]);

    const topLevel = () => channels.slack.of('chat.postMessage').filter((c) => !c.args.thread_ts);
    // The group's message, updated in place, lists all three.
    const shows = (args: Record<string, unknown>, n: number) => {
      const text = JSON.stringify(args.blocks);
      return (
        text.includes(`${n} incidents`) && ['haiku', 'opus', 'sonnet'].every((m) => text.includes(`{model=\\"${m}\\"}`))
      );
    };
    await eventually(
      'the message showing three instances',
      () => [...topLevel(), ...channels.slack.of('chat.update')].some((c) => shows(c.args, 3)),
      20_000,
    );
    await eventually(
      'the PagerDuty trigger',
      () => channels.pagerduty.events.find((e) => e.event_action === 'trigger'),
      20_000,
    );
    expect(topLevel()).toHaveLength(1);
    expect(topLevel()[0]!.args.channel).toBe('#ai-alerts');
    const triggers = channels.pagerduty.events.filter((e) => e.event_action === 'trigger');
    expect(triggers.map((e) => e.dedup_key)).toEqual([`sloe-${leader.id}`]);
    expect(channels.pagerduty.incidents.size).toBe(1);
    // The members ran no steps of their own: each says whose escalation it follows.
    for (const member of open.filter((i) => i.id !== leader.id)) {
      expect((await engine.store.audit(member.id)).filter((a) => a.type === 'step')).toEqual([]);
    }

    // Ack on the group's message acknowledges all three, and PagerDuty's one incident once.
    expect((await click(url, { action: 'sloe_ack', incidentId: leader.id, secret: SIGNING_SECRET })).status).toBe(200);
    await eventually('all three acknowledged', async () =>
      (await Promise.all(open.map((i) => engine.store.get(i.id)))).every((i) => i?.status === 'acknowledged'),
    );
    await eventually('PagerDuty acknowledged', () =>
      channels.pagerduty.events.some((e) => e.event_action === 'acknowledge'),
    );
    expect(channels.pagerduty.events.filter((e) => e.event_action === 'acknowledge').map((e) => e.dedup_key)).toEqual([
      `sloe-${leader.id}`,
    ]);

    // The leader resolves first: the group is still open, PagerDuty is not told.
    latency.set({ model: 'opus' }, 20);
    await eventually(
      'the leader resolved',
      async () => (await engine.store.get(leader.id))?.status === 'resolved',
      20_000,
    );
    latency.set({ model: 'haiku' }, 20);
    const haiku = open.find((i) => i.labels.model === 'haiku')!;
    await eventually('haiku resolved', async () => (await engine.store.get(haiku.id))?.status === 'resolved', 20_000);
    expect(channels.pagerduty.events.filter((e) => e.event_action === 'resolve')).toEqual([]);
    // The last one resolves the group: PagerDuty resolves its one incident, once.
    latency.set({ model: 'sonnet' }, 20);
    await eventually(
      'PagerDuty resolved',
      () => channels.pagerduty.events.some((e) => e.event_action === 'resolve'),
      20_000,
    );
    await eventually('the resolution in the thread', () =>
      channels.slack.of('chat.postMessage').some((c) => String(c.args.text).includes('Resolved')),
    );
    expect(channels.pagerduty.events.filter((e) => e.event_action === 'resolve').map((e) => e.dedup_key)).toEqual([
      `sloe-${leader.id}`,
    ]);
    expect(topLevel()).toHaveLength(1);
    expect([...channels.pagerduty.incidents.values()].map((i) => i.status)).toEqual(['resolved']);
  }, 90_000);
});
