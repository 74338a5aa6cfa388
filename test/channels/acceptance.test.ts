import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/process.js';
import { eventually, useStack, writeSlos } from '../support/engine.js';
import { spawnSloe } from '../support/process.js';
import { click } from '../support/stand-ins/slack.js';
import { SIGNING_SECRET, channelSlo, useChannels } from './support.js';
import { sleep } from '../support/time.js';

const ctx = useStack();
const channels = useChannels();

describe('sloe run with Slack and PagerDuty configured by the environment', () => {
  it('carries one breach through every step, the Ack click and the resolution; each channel sees exactly its requests', async () => {
    const paths = [await writeSlos(ctx.stack.dir, channelSlo())];
    const port = await freePort();
    const sloe = spawnSloe(
      ['run', paths[0]!],
      {
        ...channels.env,
        REDIS_URL: ctx.stack.redis.url,
        PROMETHEUS_URL: ctx.stack.prometheus.url,
        SLOE_REDIS_PREFIX: `acceptance${Date.now()}`,
        // The PagerDuty stand-in's certificate is signed by a test CA.
        NODE_EXTRA_CA_CERTS: channels.ca.caFile,
      },
      port,
    );
    ctx.processes.push(sloe);
    await sloe.waitFor('ready', (l) => l.event === 'ready');
    await sloe.waitFor('Slack connected', (l) => l.event === 'slack-connected');
    expect(sloe.lines.filter((l) => l.event === 'channel-log-only')).toEqual([]);

    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const fired = await sloe.waitFor('the incident', (l) => l.event === 'incident-fired');
    const id = fired.incidentId!;
    await eventually(
      'the on-call DM',
      () => channels.slack.of('chat.postMessage').some((c) => c.args.channel === 'DU01ALICE'),
      15_000,
    );
    await eventually('the note naming who was paged', () =>
      channels.slack.of('chat.postMessage').some((c) => String(c.args.text).startsWith('paged alice')),
    );

    const ack = await click(`http://127.0.0.1:${port}`, { action: 'sloe_ack', incidentId: id, secret: SIGNING_SECRET });
    expect(ack.status).toBe(200);
    await eventually('PagerDuty acknowledged', () =>
      channels.pagerduty.events.some((e) => e.event_action === 'acknowledge'),
    );
    await eventually('the acknowledgement in Slack', () => channels.slack.of('chat.update').length >= 2);

    ctx.stack.exporter.gauge('demo_queue_depth').set(20);
    await eventually(
      'PagerDuty resolved',
      () => channels.pagerduty.events.some((e) => e.event_action === 'resolve'),
      20_000,
    );
    await eventually(
      'the resolution in Slack',
      () =>
        channels.slack.of('chat.update').length >= 4 &&
        channels.slack.of('chat.postMessage').some((c) => String(c.args.text).includes('Resolved')),
    );
    // Past the last step's time (10s after firing), which the acknowledgement cancelled.
    await sleep(Math.max(0, Date.parse(String(fired.time)) + 11_000 - Date.now()));
    sloe.kill('SIGTERM');
    expect(await sloe.exited).toBe(0);

    // PagerDuty: trigger, acknowledge, resolve; the incident looked up and reassigned to the person on call.
    expect(channels.pagerduty.requests.map((r) => [r.status, r.event.event_action, r.event.dedup_key])).toEqual([
      [202, 'trigger', `sloe-${id}`],
      [202, 'acknowledge', `sloe-${id}`],
      [202, 'resolve', `sloe-${id}`],
    ]);
    expect(channels.pagerduty.rest.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /incidents?incident_key=sloe-${id}`,
      'PUT /incidents/Q1',
    ]);

    // Slack: exactly these calls (auth.test twice: sloe's start-up check, and Bolt authorizing the first click).
    const count = (method: string) => channels.slack.calls.filter((c) => c.method === method).length;
    expect({
      'auth.test': count('auth.test'),
      'chat.getPermalink': count('chat.getPermalink'),
      'conversations.open': count('conversations.open'),
      'chat.postMessage': count('chat.postMessage'),
      'chat.update': count('chat.update'),
    }).toEqual({
      'auth.test': 2,
      'chat.getPermalink': 1,
      'conversations.open': 1,
      'chat.postMessage': 6,
      'chat.update': 4,
    });
    const posts = channels.slack.of('chat.postMessage');
    const main = posts.find((c) => c.args.channel === '#ai-alerts')!;
    const threadTexts = posts.filter((c) => c.args.thread_ts).map((c) => String(c.args.text));
    expect(threadTexts).toEqual([
      'PagerDuty incident triggered (critical)',
      'paged alice (Slack user U01ALICE, on call for ai-primary) by Slack DM; PagerDuty incident reassigned to alice',
      ':eyes: Acknowledged by alice (U01ALICE): remaining escalation steps cancelled.',
      ':white_check_mark: Resolved: healthy again.',
    ]);
    expect(posts.map((c) => c.args.channel)).not.toContain('#ai-escalations');
    expect(main.args.thread_ts).toBeUndefined();
    expect(
      channels.slack
        .of('chat.update')
        .map((c) => c.args.channel)
        .sort(),
    ).toEqual(['CAIALERTS', 'CAIALERTS', 'DU01ALICE', 'DU01ALICE']);
    expect(sloe.lines.some((l) => l.event === 'slack-action' && l.by === 'alice (U01ALICE)')).toBe(true);
  });
});
