/**
 * `repeat`: an unacknowledged page re-notifies until someone acknowledges it (or it resolves); the Ack click stops
 * the repetitions.
 */
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { eventually, useStack } from '../support/engine.js';
import { click } from '../support/stand-ins/slack.js';
import { SIGNING_SECRET, channelSlo, engineWithChannels, resetStandIns, useChannels } from './support.js';

const ctx = useStack();
const channels = useChannels();

/** `repeat` may go down to 1s here (SLOE_MIN_REPEAT), so that a test sees several repetitions in seconds. */
const FAST_REPEAT = { SLOE_MIN_REPEAT: '1s' };

const slo = (policy: string) => channelSlo(undefined, '', policy);

async function firing(engine: Engine) {
  return eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);
}

const dms = () => channels.slack.of('chat.postMessage').filter((c) => c.args.channel === 'DU01ALICE');

describe('repeat until acknowledged', () => {
  it("the last step's repeat: the on-call member is paged again every 2s until the Ack click, and not after", async () => {
    resetStandIns(channels);
    const { engine, url } = await engineWithChannels(
      ctx,
      channels,
      slo(`page:
  - notify: slack
    channel: "#ai-alerts"
  - after: 1s
    notify: oncall
    schedule: ai-primary
    repeat: 2s`),
      { env: FAST_REPEAT },
    );
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await firing(engine);
    await eventually('three pages of alice', () => dms().length >= 3, 15_000);
    // Slack has the DM before sloe has written the step to the audit trail.
    const pages = await eventually('three pages in the audit trail', async () => {
      const entries = (await engine.store.audit(incident.id)).filter((a) => a.type === 'step' && a.step === 'page.1');
      return entries.length >= 3 ? entries : undefined;
    });
    expect(pages.slice(0, 3).map((a) => a.round)).toEqual([undefined, 1, 2]);
    expect(pages[1]!.detail).toMatch(/^oncall ai-primary \(repeat 1\): paged alice/);
    // Repetition n is due 1s + n × 2s after the incident fired, and never runs before that (it may run later on a
    // busy machine, which does not move the next one: each is due at a fixed time).
    pages.slice(0, 3).forEach((page, n) => expect(page.at - incident.firedAt).toBeGreaterThanOrEqual(1000 + n * 2000));

    expect((await click(url, { action: 'sloe_ack', incidentId: incident.id, secret: SIGNING_SECRET })).status).toBe(
      200,
    );
    await eventually(
      'the acknowledgement',
      async () => (await engine.store.get(incident.id))?.status === 'acknowledged',
    );
    // A repetition already past its check when the Ack landed may still arrive; the next one finds the incident
    // acknowledged, records that it skipped, and ends the repetitions. Once every DM is a recorded step, nothing of
    // page.1 comes after the skip.
    const after = await eventually(
      'the repetition skipped and every DM recorded',
      async () => {
        const entries = await engine.store.audit(incident.id);
        const ofStep = entries.filter((a) => a.step === 'page.1');
        const skipped = ofStep.some((a) => a.type === 'skipped');
        return skipped && dms().length === ofStep.filter((a) => a.type === 'step').length ? entries : undefined;
      },
      15_000,
    );
    const ofStep = after.filter((a) => a.step === 'page.1');
    const skipped = ofStep.filter((a) => a.type === 'skipped');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]!.detail).toBe('acknowledged by alice (U01ALICE)');
    expect(ofStep.at(-1)).toBe(skipped[0]);
    // The Slack message was posted once; nothing else went out at the top level.
    expect(
      channels.slack.of('chat.postMessage').filter((c) => c.args.channel === '#ai-alerts' && !c.args.thread_ts),
    ).toHaveLength(1);
  });

  it("the policy's repeat: Slack reminds in the incident's thread and PagerDuty is triggered again on its one incident, until the Ack", async () => {
    resetStandIns(channels);
    const { engine, url } = await engineWithChannels(
      ctx,
      channels,
      slo(`repeat: 2s
page:
  - notify: slack
    channel: "#ai-alerts"
  - after: 1s
    notify: pagerduty`),
      { env: FAST_REPEAT },
    );
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await firing(engine);
    // Rounds start 2s after the last step ran: Slack at 0s, 3s, 6s; PagerDuty at 1s, 4s, 7s (from the firing).
    const reminders = () =>
      channels.slack.of('chat.postMessage').filter((c) => c.args.thread_ts && c.args.reply_broadcast === 'true');
    await eventually('two reminders in the thread', () => reminders().length >= 2, 15_000);
    expect(JSON.stringify(reminders()[0]!.args.blocks)).toContain('Still firing and not acknowledged (reminder 1)');
    expect(JSON.stringify(reminders()[0]!.args.blocks)).toContain('sloe_ack');
    await eventually(
      'PagerDuty triggered in three rounds',
      () => channels.pagerduty.events.filter((e) => e.event_action === 'trigger').length >= 3,
      10_000,
    );
    expect(channels.pagerduty.incidents.size).toBe(1);

    expect((await click(url, { action: 'sloe_ack', incidentId: incident.id, secret: SIGNING_SECRET })).status).toBe(
      200,
    );
    await eventually(
      'the acknowledgement',
      async () => (await engine.store.get(incident.id))?.status === 'acknowledged',
    );
    // The next round finds the incident acknowledged and skips. Once every reminder and trigger is a recorded step,
    // no step is recorded as sent after the skip.
    const triggers = () => channels.pagerduty.events.filter((e) => e.event_action === 'trigger').length;
    const after = await eventually(
      'the next round skipped and every delivery recorded',
      async () => {
        const entries = await engine.store.audit(incident.id);
        const sent = (step: string) => entries.filter((a) => a.type === 'step' && a.step === step);
        const recorded =
          reminders().length === sent('page.0').filter((a) => a.round !== undefined).length &&
          triggers() === sent('page.1').length;
        return recorded && entries.some((a) => a.type === 'skipped') ? entries : undefined;
      },
      15_000,
    );
    for (const step of ['page.0', 'page.1']) {
      const ofStep = after.filter((a) => a.step === step);
      const skip = ofStep.findIndex((a) => a.type === 'skipped');
      if (skip >= 0) expect(ofStep.slice(skip + 1), step).toEqual([]);
    }
    expect(
      channels.slack.of('chat.postMessage').filter((c) => c.args.channel === '#ai-alerts' && !c.args.thread_ts),
    ).toHaveLength(1);
  });
});
