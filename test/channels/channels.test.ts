import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { eventually, useStack } from '../support/engine.js';
import { pagerDutyWebhook } from '../support/stand-ins/pagerduty.js';
import { click } from '../support/stand-ins/slack.js';
import {
  API_TOKEN,
  ROUTING_KEY,
  SIGNING_SECRET,
  WEBHOOK_SECRET,
  channelSlo,
  engineWithChannels,
  resetStandIns,
  useChannels,
} from './support.js';
import { sleep } from '../support/time.js';

const ctx = useStack();
const channels = useChannels();

const fresh = () => resetStandIns(channels);

describe('Slack, PagerDuty and on-call, end to end', () => {
  it('fire → Slack post → PagerDuty trigger → on-call DM → signed Ack click → PagerDuty acknowledge; resolve closes both', async () => {
    fresh();
    const { engine, url } = await engineWithChannels(ctx, channels);
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);

    // Slack: the incident's message, with the value, condition, objective, owner, dashboard, runbook and buttons.
    const post = await eventually('the Slack message', () =>
      channels.slack.of('chat.postMessage').find((c) => c.args.channel === '#ai-alerts'),
    );
    const blocks = JSON.stringify(post.args.blocks);
    // < and > in the value and condition texts are escaped as Slack asks (&lt; &gt;), and shown as < and >.
    for (const text of [
      'PAGE it-support-assistant / approval-queue-depth',
      '350 &gt; 200 (objective &lt; 50)',
      '*Alert when*\\n&gt; 200',
      '*Objective*\\n&lt; 50',
      'owner *alice*',
      'https://grafana.example.com/d/golden',
      'https://wiki.example.com/runbooks/approvals',
      'sloe_ack',
      'sloe_resolve',
      'sloe_snooze',
      '<!date^',
    ]) {
      expect(blocks).toContain(text);
    }

    // PagerDuty: one trigger with a stable dedup key, details and links.
    const trigger = await eventually('the PagerDuty trigger', () =>
      channels.pagerduty.events.find((e) => e.event_action === 'trigger'),
    );
    expect(trigger).toMatchObject({
      routing_key: ROUTING_KEY,
      dedup_key: `sloe-${incident.id}`,
      payload: { severity: 'critical', source: 'it-support-assistant' },
    });
    expect(trigger.payload.custom_details).toMatchObject({
      slo: 'it-support-assistant/approval-queue-depth',
      value: '350 > 200 (objective < 50)',
      condition: '> 200',
      objective: '< 50',
      owner: 'alice',
      dashboard: 'https://grafana.example.com/d/golden',
    });
    expect(trigger.links!.map((l) => l.href)).toEqual([
      'https://grafana.example.com/d/golden',
      'https://wiki.example.com/runbooks/approvals',
      expect.stringMatching(/^https:\/\/example\.slack\.com\/archives\//),
    ]);
    const thread =
      post.at &&
      (await eventually('a thread note about PagerDuty', () =>
        channels.slack
          .of('chat.postMessage')
          .find((c) => c.args.thread_ts && String(c.args.text).includes('PagerDuty incident triggered')),
      ));
    expect(thread).toBeTruthy();

    // On-call: alice gets a DM with the Ack button; the PagerDuty incident is reassigned to her.
    const dm = await eventually('the on-call DM', () =>
      channels.slack.of('chat.postMessage').find((c) => c.args.channel === 'DU01ALICE'),
    );
    expect(channels.slack.of('conversations.open').map((c) => c.args.users)).toEqual(['U01ALICE']);
    expect(JSON.stringify(dm.args.blocks)).toContain('sloe_ack');
    expect(JSON.stringify(dm.args.blocks)).toContain('you are on call for ai-primary');
    await eventually('the reassignment', () => channels.pagerduty.rest.find((r) => r.method === 'PUT'));
    const put = channels.pagerduty.rest.find((r) => r.method === 'PUT')!;
    expect(put.body).toEqual({
      incident: { type: 'incident_reference', assignments: [{ assignee: { id: 'PALICE1', type: 'user_reference' } }] },
    });
    expect(put.headers.from).toBe('alice@example.com');
    expect(put.headers.authorization).toBe(`Token token=${API_TOKEN}`);
    expect(channels.pagerduty.incidents.get(`sloe-${incident.id}`)?.assignee).toBe('PALICE1');
    await eventually('a note naming who was paged', () =>
      channels.slack
        .of('chat.postMessage')
        .find((c) => c.args.thread_ts && String(c.args.text).startsWith('paged alice')),
    );

    // Ack in Slack: answered at once; remaining steps cancelled; PagerDuty acknowledged; the message updated.
    const ack = await click(url, { action: 'sloe_ack', incidentId: incident.id, secret: SIGNING_SECRET });
    expect(ack.status).toBe(200);
    expect(ack.ms).toBeLessThan(1000);
    await eventually(
      'the acknowledgement',
      async () => (await engine.store.get(incident.id))?.status === 'acknowledged',
    );
    expect((await engine.store.get(incident.id))!.acknowledgedBy).toBe('alice (U01ALICE)');
    await eventually('PagerDuty acknowledged', () =>
      channels.pagerduty.events.some((e) => e.event_action === 'acknowledge'),
    );
    expect(channels.pagerduty.incidents.get(`sloe-${incident.id}`)?.status).toBe('acknowledged');
    const updated = await eventually('the message updated', () =>
      channels.slack
        .of('chat.update')
        .find(
          (c) =>
            c.args.ts === (post as { args: { ts?: string } }).args.ts ||
            JSON.stringify(c.args.blocks).includes('Acknowledged'),
        ),
    );
    expect(JSON.stringify(updated.args.blocks)).toContain('Acknowledged* by alice (U01ALICE)');
    expect(JSON.stringify(updated.args.blocks)).not.toContain('sloe_ack');
    await eventually(
      'the last step skipped',
      async () => (await engine.store.audit(incident.id)).some((a) => a.type === 'skipped' && a.step === 'page.3'),
      15_000,
    );
    expect(channels.slack.of('chat.postMessage').some((c) => c.args.channel === '#ai-escalations')).toBe(false);
    const audit = await engine.store.audit(incident.id);
    expect(audit.find((a) => a.type === 'acknowledged')).toMatchObject({
      by: 'alice (U01ALICE)',
      detail: 'acknowledged via slack',
    });
    expect(audit.filter((a) => a.type === 'step').map((a) => a.step)).toEqual(['page.0', 'page.1', 'page.2']);
    expect(audit.find((a) => a.step === 'page.2')!.detail).toContain('paged alice');

    // Recovery resolves everything that was opened.
    ctx.stack.exporter.gauge('demo_queue_depth').set(20);
    await eventually(
      'PagerDuty resolved',
      () => channels.pagerduty.events.some((e) => e.event_action === 'resolve'),
      20_000,
    );
    expect(channels.pagerduty.incidents.get(`sloe-${incident.id}`)?.status).toBe('resolved');
    await eventually('the message shows the resolution', () =>
      channels.slack.of('chat.update').some((c) => JSON.stringify(c.args.blocks).includes('Resolved')),
    );
    expect(channels.pagerduty.events.map((e) => e.event_action)).toEqual(['trigger', 'acknowledge', 'resolve']);
    expect(channels.pagerduty.incidents.size).toBe(1);
  });

  it('PagerDuty answering 500 then 202 gives exactly one incident', async () => {
    fresh();
    channels.pagerduty.answer(500);
    const { engine } = await engineWithChannels(ctx, channels);
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);
    await eventually('the trigger accepted', () => channels.pagerduty.events.length === 1);
    expect(channels.pagerduty.requests.map((r) => [r.status, r.event.event_action])).toEqual([
      [500, 'trigger'],
      [202, 'trigger'],
    ]);
    expect(channels.pagerduty.incidents.size).toBe(1);
    // PagerDuty has the event before sloe has written the step to the audit trail.
    expect(
      await eventually('the step in the audit trail', async () =>
        (await engine.store.audit(incident.id)).find((a) => a.step === 'page.1'),
      ),
    ).toMatchObject({ type: 'step' });
  });

  it('a 400 from PagerDuty (for the full event and the minimal one) is not retried, and is reported in the audit trail, the log, the metrics and the Slack thread', async () => {
    fresh();
    channels.pagerduty.answer(400, 400);
    const { engine, capture, url } = await engineWithChannels(ctx, channels);
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);
    const failed = await eventually('the failure', async () =>
      (await engine.store.audit(incident.id)).find((a) => a.type === 'failed'),
    );
    expect(failed.step).toBe('page.1');
    expect(failed.detail).toContain('answered 400: Event object is invalid; Invalid routing key');
    // The note in the thread is written after the step is recorded as failed: nothing of it can still be retrying (the full event,
    // then the minimal one a 400 gets).
    await eventually('a Slack note about the failure', () =>
      channels.slack
        .of('chat.postMessage')
        .find((c) => c.args.thread_ts && String(c.args.text).startsWith('Escalation step failed: pagerduty')),
    );
    expect(channels.pagerduty.requests.map((r) => Object.keys(r.event.payload ?? {}).length > 3)).toEqual([
      true,
      false,
    ]);
    expect(capture.events('step-failed')).toHaveLength(1);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^sloe_notifications_total\{channel="pagerduty",kind="step",outcome="failed"\} 1$/m);
  });

  // Timestamps are taken when the click is sent: a table's own `Date.now()` is read when the file is collected,
  // and a minute later "60 s ahead" is no longer in the future.
  it.each([
    ['a forged signature', () => ({ forge: true }), 'signature mismatch'],
    [
      'a request older than 5 minutes',
      () => ({ timestamp: Math.floor(Date.now() / 1000) - 301 }),
      'request is older than 5 minutes',
    ],
    [
      'a request dated in the future',
      () => ({ timestamp: Math.floor(Date.now() / 1000) + 60 }),
      'request is dated in the future',
    ],
  ])('a Slack click with %s gets 401 and changes nothing', async (_name, signed, error) => {
    fresh();
    const { engine, url } = await engineWithChannels(ctx, channels);
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);
    const before = await engine.store.audit(incident.id);
    const r = await click(url, { action: 'sloe_ack', incidentId: incident.id, secret: SIGNING_SECRET, ...signed() });
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body)).toEqual({ error });
    await sleep(300);
    expect((await engine.store.get(incident.id))!.status).toBe('firing');
    expect((await engine.store.audit(incident.id)).filter((a) => a.type === 'acknowledged')).toEqual(
      before.filter((a) => a.type === 'acknowledged'),
    );
  });

  it('a captured, validly signed Slack request replayed within the 5 minutes gets 401 and changes nothing', async () => {
    fresh();
    const { engine, url } = await engineWithChannels(ctx, channels);
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);
    // The same timestamp and body: the same signature, as an attacker who captured the request would send it.
    const timestamp = Math.floor(Date.now() / 1000);
    const first = await click(url, {
      action: 'sloe_resolve',
      incidentId: incident.id,
      secret: SIGNING_SECRET,
      timestamp,
    });
    expect(first.status).toBe(200);
    await eventually('resolved', async () => (await engine.store.get(incident.id))!.status === 'resolved');
    const replayed = await click(url, {
      action: 'sloe_resolve',
      incidentId: incident.id,
      secret: SIGNING_SECRET,
      timestamp,
    });
    expect(replayed.status).toBe(401);
    expect(JSON.parse(replayed.body)).toEqual({ error: 'request replayed' });
    // The signature is remembered in Redis for Slack's window, by every replica.
    const redis = new Redis(ctx.stack.redis.url);
    try {
      const keys = await redis.keys(`${engine.store.prefix}:seen:slack:*`);
      expect(keys).toHaveLength(1);
      const ttl = await redis.pttl(keys[0]!);
      expect(ttl).toBeGreaterThan(290_000);
      expect(ttl).toBeLessThanOrEqual(305_000);
    } finally {
      redis.disconnect();
    }
    await sleep(300);
    expect((await engine.store.audit(incident.id)).filter((a) => a.type === 'resolved')).toHaveLength(1);
  });

  it('PagerDuty webhooks: a bad signature is refused; a good acknowledgement is mirrored into sloe and Slack, not echoed back', async () => {
    fresh();
    const { engine, url } = await engineWithChannels(ctx, channels);
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);
    await eventually('the PagerDuty trigger', () => channels.pagerduty.events.length === 1);
    const forged = await pagerDutyWebhook(url, {
      type: 'incident.acknowledged',
      dedupKey: `sloe-${incident.id}`,
      secret: WEBHOOK_SECRET,
      forge: true,
    });
    expect(forged.status).toBe(401);
    expect((await engine.store.get(incident.id))!.status).toBe('firing');
    const ok = await pagerDutyWebhook(url, {
      type: 'incident.acknowledged',
      dedupKey: `sloe-${incident.id}`,
      secret: WEBHOOK_SECRET,
    });
    expect(ok).toEqual({ status: 200, body: { result: 'done' } });
    expect(await engine.store.get(incident.id)).toMatchObject({
      status: 'acknowledged',
      acknowledgedBy: 'Bob Example',
    });
    await eventually('the Slack message updated', () =>
      channels.slack
        .of('chat.update')
        .some((c) => JSON.stringify(c.args.blocks).includes('Acknowledged* by Bob Example')),
    );
    await eventually('a Slack note', () =>
      channels.slack
        .of('chat.postMessage')
        .some((c) => String(c.args.text).includes('Acknowledged by Bob Example (in pagerduty)')),
    );
    await sleep(500);
    expect(channels.pagerduty.events.map((e) => e.event_action)).toEqual(['trigger']);
    const resolved = await pagerDutyWebhook(url, {
      type: 'incident.resolved',
      dedupKey: `sloe-${incident.id}`,
      secret: WEBHOOK_SECRET,
    });
    expect(resolved.body.result).toBe('done');
    expect(await engine.store.get(incident.id)).toMatchObject({ status: 'resolved', resolvedBy: 'Bob Example' });
  });

  it("Slack's rate limit (429, Retry-After) is honoured without holding up other incidents", async () => {
    fresh();
    const lanes = ctx.stack.exporter.gauge('demo_lane_depth', ['lane']);
    lanes.set({ lane: 'a' }, 20);
    lanes.set({ lane: 'b' }, 20);
    await sleep(1500);
    channels.slack.rateLimit('chat.postMessage', 1, 2);
    const { engine } = await engineWithChannels(ctx, channels, channelSlo('max by (lane) (demo_lane_depth)'));
    lanes.set({ lane: 'a' }, 350);
    lanes.set({ lane: 'b' }, 350);
    await eventually(
      'two Slack messages',
      () => channels.slack.of('chat.postMessage').filter((c) => c.args.channel === '#ai-alerts').length === 2,
      20_000,
    );
    const limited = channels.slack.calls.find((c) => c.method === 'chat.postMessage (429)')!;
    const posts = channels.slack.of('chat.postMessage').filter((c) => c.args.channel === '#ai-alerts');
    // The other incident's message went out at once; the limited one after Retry-After.
    expect(posts[0]!.at - limited.at).toBeLessThan(1000);
    expect(posts[1]!.at - limited.at).toBeGreaterThanOrEqual(2000);
    expect((await engine.store.list({ open: true })).length).toBe(2);
    lanes.set({ lane: 'a' }, 20);
    lanes.set({ lane: 'b' }, 20);
  });
});
