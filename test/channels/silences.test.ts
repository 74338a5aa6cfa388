/**
 * Silences against the real engine (Redis, Prometheus, the Slack and PagerDuty stand-ins): an incident a silence
 * covers is opened and recorded but sends nothing while the silence lasts; still breaching when it ends, it
 * escalates from its first step.
 */
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { eventually, useStack } from '../support/engine.js';
import { createHmac } from 'node:crypto';
import { click } from '../support/stand-ins/slack.js';
import { SIGNING_SECRET, channelSlo, engineWithChannels, resetStandIns, useChannels } from './support.js';

const ctx = useStack();
const channels = useChannels();
const TOKEN = 'silence-test-token';

/** A page policy: Slack at once, PagerDuty `after` later. */
const steps = (after: string) => `page:
  - notify: slack
    channel: "#ai-alerts"
  - after: ${after}
    notify: pagerduty
    routingKey: \${PAGERDUTY_ROUTING_KEY}`;
const STEPS = steps('1s');

async function firing(engine: Engine) {
  return eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);
}

const topLevel = () =>
  channels.slack.of('chat.postMessage').filter((c) => c.args.channel === '#ai-alerts' && !c.args.thread_ts);

/** The incident is held: audited, nothing sent until `until`; then Slack and PagerDuty, in the policy's order. */
async function heldThenEscalated(engine: Engine, until: number, by: RegExp) {
  const incident = await firing(engine);
  expect(incident.heldUntil).toBe(until);
  expect(incident.escalatedAt).toBe(until);
  const audit = await engine.store.audit(incident.id);
  expect(audit.find((a) => a.type === 'note')?.detail).toMatch(by);
  expect(topLevel()).toHaveLength(0);
  expect(channels.pagerduty.requests).toHaveLength(0);
  await eventually('the Slack post after the silence', () => topLevel().length === 1, 20_000);
  await eventually('the PagerDuty trigger after the silence', () => channels.pagerduty.requests.length >= 1, 20_000);
  // The stand-in has the request before sloe has written the step to the audit trail.
  const steps = await eventually('both steps in the audit trail', async () => {
    const entries = (await engine.store.audit(incident.id)).filter((a) => a.type === 'step');
    return entries.length >= 2 ? entries : undefined;
  });
  expect(steps.map((s) => s.step)).toEqual(['page.0', 'page.1']);
  expect(steps[0]!.at).toBeGreaterThanOrEqual(until);
  expect(steps[1]!.at).toBeGreaterThanOrEqual(until + 1000);
}

describe('silences', () => {
  it('as code: a Silence in the SLO files holds the page until it ends', async () => {
    resetStandIns(channels);
    const endsAt = Math.ceil((Date.now() + 9000) / 1000) * 1000;
    const silence = `---
apiVersion: sloe/v1
kind: Silence
name: approvals-migration
owner: alice
reason: approvals database migration
matchers: ["service = it-support-assistant", "slo =~ approval-.*"]
startsAt: "${new Date(Date.now() - 60_000).toISOString()}"
endsAt: "${new Date(endsAt).toISOString()}"
`;
    const { engine } = await engineWithChannels(ctx, channels, channelSlo(undefined, silence, STEPS));
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    await heldThenEscalated(
      engine,
      endsAt,
      /^silenced by silence approvals-migration \(alice\): approvals database migration; steps start /,
    );
    ctx.stack.exporter.gauge('demo_queue_depth').set(20);
  }, 60_000);

  it('at run time: POST /api/silences (token, reason, expiry) holds the page, and GET lists it', async () => {
    resetStandIns(channels);
    const { engine, url } = await engineWithChannels(ctx, channels, channelSlo(undefined, '', STEPS), {
      env: { SLOE_API_TOKEN: TOKEN },
    });
    const post = (body: unknown, token = TOKEN) =>
      fetch(`${url}/api/silences`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const matchers = ['slo = approval-queue-depth'];
    expect((await post({ matchers, reason: 'x', by: 'bob', duration: '2h' }, 'wrong')).status).toBe(401);
    const noReason = await post({ matchers, reason: ' ', by: 'bob', duration: '2h' });
    expect(noReason.status).toBe(400);
    expect(await noReason.text()).toContain('reason');
    const tooLong = await post({ matchers, reason: 'long one', by: 'bob', duration: '8d' });
    expect(tooLong.status).toBe(400);
    expect(await tooLong.text()).toContain('at most 7d');
    expect((await post({ matchers, reason: 'forever', by: 'bob' })).status).toBe(400);
    expect((await post({ matchers: ['slo =~ ('], reason: 'bad regex', by: 'bob', duration: '1h' })).status).toBe(400);

    const created = await post({ matchers, reason: 'restarting the approvals worker', by: 'bob', duration: '8s' });
    expect(created.status).toBe(201);
    const { silence } = (await created.json()) as { silence: { id: string; endsAt: string } };
    const listed = (await (
      await fetch(`${url}/api/silences`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { silences: Array<{ id: string; reason: string; owner: string }> };
    expect(listed.silences).toEqual([
      expect.objectContaining({
        id: silence.id,
        origin: 'runtime',
        owner: 'bob',
        reason: 'restarting the approvals worker',
        matchers,
      }),
    ]);

    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    await heldThenEscalated(
      engine,
      Date.parse(silence.endsAt),
      /^silenced by silence .* \(bob\): restarting the approvals worker; steps start /,
    );
    ctx.stack.exporter.gauge('demo_queue_depth').set(20);
  }, 60_000);

  it('from Slack: `/sloe silence` makes a silence for a responder only, with a reason, at most 7d, answering escaped', async () => {
    resetStandIns(channels);
    const policy = `responders: [U02BOB]
page:
  - notify: slack
    channel: "#ai-alerts"
  - after: 3s
    notify: pagerduty
    routingKey: \${PAGERDUTY_ROUTING_KEY}`;
    const { url } = await engineWithChannels(ctx, channels, channelSlo(undefined, '', policy), {
      env: { SLOE_API_TOKEN: TOKEN },
    });
    const command = async (text: string, user = { id: 'U02BOB', name: 'bob' }) => {
      const body = new URLSearchParams({
        command: '/sloe',
        text,
        user_id: user.id,
        user_name: user.name,
        team_id: 'T1',
        channel_id: 'C1',
        response_url: 'https://hooks.slack.com/commands/T1/1/x',
      }).toString();
      const timestamp = String(Math.floor(Date.now() / 1000));
      const signature = `v0=${createHmac('sha256', SIGNING_SECRET).update(`v0:${timestamp}:${body}`).digest('hex')}`;
      const res = await fetch(`${url}/slack/events`, {
        method: 'POST',
        headers: {
          'x-slack-request-timestamp': timestamp,
          'x-slack-signature': signature,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body,
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { response_type: string; text: string }).text;
    };
    expect(await command('silence 2h slo=approval-queue-depth')).toMatch(/^A silence needs a reason/);
    expect(await command('silence 2h slo=payments <b>reason</b>')).toBe(
      'The silence would match no SLO (slo=payments): nothing was silenced.',
    );
    expect(await command('silence 8d slo=approval-queue-depth long')).toMatch(/at most 7d/);
    expect(await command('silence 2h slo=approval-queue-depth nope', { id: 'U03EVE', name: 'eve' })).toBe(
      'Only responders of policy ai-default may silence its SLOs: nothing was silenced.',
    );
    const made = await command(
      'silence 1h service=it-support-assistant signal=queue_depth rolling <restart> & reindex',
    );
    expect(made).toMatch(
      /^Silence \S+ until \S+ \(1 SLO\(s\): it-support-assistant\/approval-queue-depth\): rolling &lt;restart&gt; &amp; reindex$/,
    );
    const listed = (await (
      await fetch(`${url}/api/silences`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { silences: Array<{ owner: string; reason: string; matchers: string[] }> };
    expect(listed.silences).toEqual([
      expect.objectContaining({
        owner: 'bob (U02BOB)',
        reason: 'rolling <restart> & reindex',
        matchers: ['service=it-support-assistant', 'signal=queue_depth'],
      }),
    ]);
  }, 60_000);

  it('from Slack: the Silence 2h button on a firing incident holds its next steps', async () => {
    resetStandIns(channels);
    const policy = steps('4s');
    const { engine, url } = await engineWithChannels(ctx, channels, channelSlo(undefined, '', policy));
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await firing(engine);
    await eventually('the Slack post', () => topLevel().length === 1, 20_000);
    expect(JSON.stringify(topLevel()[0]!.args.blocks)).toContain('sloe_silence');
    expect(
      (
        await click(url, {
          action: 'sloe_silence',
          incidentId: incident.id,
          user: { id: 'U02BOB', username: 'bob' },
          secret: SIGNING_SECRET,
        })
      ).status,
    ).toBe(200);
    const held = await eventually(
      'the PagerDuty step held',
      async () => (await engine.store.audit(incident.id)).find((a) => a.type === 'note' && a.step === 'page.1'),
      20_000,
    );
    expect(held.detail).toMatch(
      /^held until \S+: silenced by silence \S+ \(bob \(U02BOB\)\): Silence 2h from Slack on incident /,
    );
    expect((await engine.store.audit(incident.id)).some((a) => a.detail.startsWith('silenced for 2h via slack'))).toBe(
      true,
    );
    expect(channels.pagerduty.requests).toHaveLength(0);
    ctx.stack.exporter.gauge('demo_queue_depth').set(20);
  }, 60_000);
});
