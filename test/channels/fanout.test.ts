/**
 * Updates fan out to the channels side by side: a Slack update that hangs does not hold up PagerDuty's acknowledge.
 */
import { describe, expect, it } from 'vitest';
import { eventually, useStack } from '../support/engine.js';
import { engineWithChannels, resetStandIns, useChannels } from './support.js';

const ctx = useStack();
const channels = useChannels();

describe('updates to channels', () => {
  it("a Slack update held in flight does not delay PagerDuty's acknowledge", async () => {
    resetStandIns(channels);
    const { engine } = await engineWithChannels(ctx, channels);
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);
    await eventually('the Slack message', () =>
      channels.slack.of('chat.postMessage').find((c) => c.args.channel === '#ai-alerts'),
    );
    await eventually('the PagerDuty trigger', () =>
      channels.pagerduty.events.find((e) => e.event_action === 'trigger'),
    );

    // Slack takes the message update but does not answer; its client gives up after 10 s.
    channels.slack.hold('chat.update', { mode: 'answer' });
    expect(await engine.acknowledge(incident.id, 'alice', 'test')).toBe('done');
    const held = await eventually(
      'the Slack update held',
      () => channels.slack.holds.held.find((h) => h.what === 'chat.update'),
      8000,
    );
    // Told one after the other, PagerDuty would wait for Slack's answer (10 s at least); side by side it does not.
    const ack = await eventually(
      'the PagerDuty acknowledge while Slack is held',
      () => channels.pagerduty.events.find((e) => e.event_action === 'acknowledge'),
      8000,
    );
    expect(ack.dedup_key).toBe(`sloe-${incident.id}`);
    held.release();
    const sent = async (channel: string) =>
      (await engine.metrics.notifications.get()).values.find(
        (v) => v.labels.channel === channel && v.labels.kind === 'update' && v.labels.outcome === 'sent',
      )?.value;
    // The stand-ins see a request before sloe records its answer: wait for both records.
    await eventually(
      'both updates recorded as sent',
      async () => (await sent('slack')) === 1 && (await sent('pagerduty')) === 1,
    );
    expect((await engine.store.audit(incident.id)).filter((a) => a.type === 'failed')).toEqual([]);
  });
});
