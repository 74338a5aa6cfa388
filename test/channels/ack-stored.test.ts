/**
 * A Slack click is answered once its change is stored. When Redis cannot store it in time (paused here), Slack
 * still gets its answer within its 3 seconds, the user is told in an ephemeral message that nothing was recorded,
 * and the change is not made when Redis comes back: never a silent success.
 */
import { describe, expect, it } from 'vitest';
import { eventually, useStack } from '../support/engine.js';
import { click } from '../support/stand-ins/slack.js';
import { SIGNING_SECRET, engineWithChannels, resetStandIns, useChannels } from './support.js';

const ctx = useStack();
const channels = useChannels();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function firing() {
  resetStandIns(channels);
  const started = await engineWithChannels(ctx, channels);
  ctx.stack.exporter.gauge('demo_queue_depth').set(350);
  const incident = await eventually(
    'an incident',
    async () => (await started.engine.store.list({ open: true }))[0],
    20_000,
  );
  await eventually(
    'its Slack message',
    () => channels.slack.of('chat.postMessage').find((c) => c.args.channel === '#ai-alerts' && !c.args.thread_ts),
    20_000,
  );
  return { ...started, incident };
}

describe('a Slack click is answered once it is stored', () => {
  it('Ack: by the time Slack has its answer, the incident is acknowledged', async () => {
    const { engine, url, incident } = await firing();
    const res = await click(url, { action: 'sloe_ack', incidentId: incident.id, secret: SIGNING_SECRET });
    expect(res.status).toBe(200);
    expect((await engine.store.get(incident.id))?.status).toBe('acknowledged');
    expect(channels.slack.of('chat.postEphemeral')).toEqual([]);
  });

  it('Redis not answering: Slack is answered in time, the user is told the Ack was NOT recorded, and it is not made later', async () => {
    const { engine, url, incident } = await firing();
    ctx.stack.redis.pause();
    let res: Awaited<ReturnType<typeof click>>;
    try {
      res = await click(url, { action: 'sloe_ack', incidentId: incident.id, secret: SIGNING_SECRET });
      await eventually('the ephemeral answer', () => channels.slack.of('chat.postEphemeral')[0], 10_000);
    } finally {
      ctx.stack.redis.resume();
    }
    expect(res.status).toBe(200);
    expect(res.ms).toBeGreaterThanOrEqual(2000);
    expect(res.ms).toBeLessThan(3000);
    const told = channels.slack.of('chat.postEphemeral');
    expect(told).toHaveLength(1);
    expect(String(told[0]!.args.text)).toContain(`Your Ack of incident ${incident.id} was NOT recorded`);
    expect(told[0]!.args.user).toBe('U01ALICE');
    // The command reached Redis once it ran again, past its deadline: nothing changed, nothing said otherwise.
    await sleep(1500);
    expect((await engine.store.get(incident.id))?.status).toBe('firing');
    expect((await engine.store.audit(incident.id)).some((a) => a.type === 'acknowledged')).toBe(false);
    expect(channels.slack.of('chat.postEphemeral')).toHaveLength(1);
    // Clicked again with Redis back: recorded, and answered without an ephemeral message.
    expect((await click(url, { action: 'sloe_ack', incidentId: incident.id, secret: SIGNING_SECRET })).status).toBe(
      200,
    );
    expect((await engine.store.get(incident.id))?.status).toBe('acknowledged');
    expect(channels.slack.of('chat.postEphemeral')).toHaveLength(1);
  });
});
