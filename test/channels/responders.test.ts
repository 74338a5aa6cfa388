import { WebClient } from '@slack/web-api';
import { describe, expect, it } from 'vitest';
import { GROUP_CACHE_MS, Responders } from '../../src/escalation/slack/responders.js';
import type { EscalationPolicy } from '../../src/rules/model.js';
import { eventually, useStack } from '../support/engine.js';
import { click } from '../support/stand-ins/slack.js';
import { SIGNING_SECRET, SLACK_TOKEN, channelSlo, engineWithChannels, useChannels } from './support.js';

const ctx = useStack();
const channels = useChannels();

const BOB = { id: 'U02BOB', username: 'bob' };
const CAROL = { id: 'U03CAROL', username: 'carol' };
/** A guest from another organisation in a Slack Connect channel: sees the message and its buttons. */
const MALLORY = { id: 'W09MALLORY', username: 'mallory', teamId: 'T9EXTERNAL' };

/** The channel SLO of the Slack tests, its policy listing `responders` (a YAML flow sequence). */
function withResponders(responders: string): string {
  return channelSlo().replace('name: ai-default\n', `name: ai-default\nresponders: ${responders}\n`);
}

/** An engine with real channels on the stand-ins (their records cleared) and one firing incident. */
async function firing(slo: string) {
  channels.slack.reset();
  channels.pagerduty.requests.length = 0;
  channels.pagerduty.rest.length = 0;
  channels.pagerduty.incidents.clear();
  const started = await engineWithChannels(ctx, channels, slo);
  ctx.stack.exporter.gauge('demo_queue_depth').set(350);
  const incident = await eventually('an incident', async () => (await started.engine.store.list({ open: true }))[0]);
  return { ...started, incident };
}

/** Waits for `n` ephemeral answers and returns them. */
function ephemerals(n: number) {
  return eventually(`${n} ephemeral answer(s)`, () => {
    const calls = channels.slack.of('chat.postEphemeral');
    return calls.length >= n ? calls : undefined;
  });
}

describe('who may act on an incident from Slack', () => {
  it("a responder's click acknowledges, and nobody is told off", async () => {
    const { engine, url, incident } = await firing(withResponders('[U02BOB]'));
    const r = await click(url, { action: 'sloe_ack', incidentId: incident.id, user: BOB, secret: SIGNING_SECRET });
    expect(r.status).toBe(200);
    await eventually(
      'the acknowledgement',
      async () => (await engine.store.get(incident.id))?.status === 'acknowledged',
    );
    expect((await engine.store.get(incident.id))!.acknowledgedBy).toBe('bob (U02BOB)');
    expect((await engine.store.audit(incident.id)).find((a) => a.type === 'acknowledged')).toMatchObject({
      by: 'bob (U02BOB)',
      detail: 'acknowledged via slack',
    });
    expect(channels.slack.of('chat.postEphemeral')).toEqual([]);
  });

  it("a stranger's signed click is refused with an ephemeral answer, changes nothing, and is in the audit trail", async () => {
    const { engine, url, incident, capture } = await firing(withResponders('[U02BOB]'));
    for (const action of ['sloe_ack', 'sloe_resolve', 'sloe_snooze'] as const) {
      const r = await click(url, { action, incidentId: incident.id, user: MALLORY, secret: SIGNING_SECRET });
      expect(r.status).toBe(200);
    }
    await eventually(
      'the clicks handled',
      async () =>
        channels.slack.of('chat.postEphemeral').length >= 3 ||
        (await engine.store.get(incident.id))?.status !== 'firing',
    );
    await eventually(
      'the refusals recorded',
      async () => (await engine.store.audit(incident.id)).filter((a) => a.type === 'refused').length >= 3,
    );
    const after = (await engine.store.get(incident.id))!;
    expect(after.status).toBe('firing');
    expect(after.snoozedUntil).toBeUndefined();
    const answers = channels.slack.of('chat.postEphemeral');
    expect(answers).toHaveLength(3);
    for (const answer of answers) {
      expect(answer.args).toMatchObject({ channel: 'C1', user: 'W09MALLORY' });
      expect(String(answer.args.text)).toContain(
        `You are not a responder for ai-default/${incident.id} (it-support-assistant/approval-queue-depth)`,
      );
    }
    expect(answers.map((a) => /your (\w+) was not applied/.exec(String(a.args.text))?.[1]).sort()).toEqual([
      'Ack',
      'Resolve',
      'Snooze',
    ]);
    const audit = await engine.store.audit(incident.id);
    expect(audit.map((a) => a.type)).not.toContain('acknowledged');
    expect(audit.map((a) => a.type)).not.toContain('resolved');
    expect(audit.map((a) => a.type)).not.toContain('snoozed');
    const refused = audit.filter((a) => a.type === 'refused');
    expect(refused.map((a) => a.by)).toEqual(['mallory (W09MALLORY)', 'mallory (W09MALLORY)', 'mallory (W09MALLORY)']);
    expect(refused.map((a) => a.detail).sort()).toEqual([
      'Ack from Slack refused: not a responder of policy ai-default',
      'Resolve from Slack refused: not a responder of policy ai-default',
      'Snooze from Slack refused: not a responder of policy ai-default',
    ]);
    expect(capture.events('slack-action-refused').map((l) => l.incidentId)).toEqual([
      incident.id,
      incident.id,
      incident.id,
    ]);
  });

  it('a member of an on-call schedule of the policy may act without being listed', async () => {
    const { engine, url, incident } = await firing(withResponders('[U02BOB]'));
    // alice (U01ALICE) is a member of ai-primary, which the policy's oncall step pages.
    await click(url, {
      action: 'sloe_ack',
      incidentId: incident.id,
      user: { id: 'U01ALICE', username: 'alice' },
      secret: SIGNING_SECRET,
    });
    await eventually(
      'the acknowledgement',
      async () => (await engine.store.get(incident.id))?.status === 'acknowledged',
    );
    expect((await engine.store.get(incident.id))!.acknowledgedBy).toBe('alice (U01ALICE)');
  });

  it('a member of a responder user group may act; the group is looked up in Slack once and cached', async () => {
    const { engine, url, incident } = await firing(withResponders('["@ai-oncall"]'));
    const groupId = channels.slack.userGroup('ai-oncall', ['U03CAROL', 'U04DAVE']);
    await click(url, { action: 'sloe_ack', incidentId: incident.id, user: MALLORY, secret: SIGNING_SECRET });
    const [refusal] = await ephemerals(1);
    expect(String(refusal!.args.text)).toContain('You are not a responder for ai-default/');
    expect((await engine.store.get(incident.id))!.status).toBe('firing');

    await click(url, { action: 'sloe_ack', incidentId: incident.id, user: CAROL, secret: SIGNING_SECRET });
    await eventually(
      'the acknowledgement',
      async () => (await engine.store.get(incident.id))?.status === 'acknowledged',
    );
    expect((await engine.store.get(incident.id))!.acknowledgedBy).toBe('carol (U03CAROL)');
    expect(channels.slack.of('usergroups.list')).toHaveLength(1);
    expect(channels.slack.of('usergroups.users.list').map((c) => c.args.usergroup)).toEqual([groupId]);
    expect(channels.slack.of('chat.postEphemeral')).toHaveLength(1);
  });

  it.each([
    [
      'the bot lacks the usergroups:read scope',
      () => (channels.slack.userGroup('ai-oncall', ['U03CAROL']), channels.slack.withoutScope('usergroups:read')),
      'Slack said missing_scope (needs usergroups:read)',
    ],
    [
      'no group has the handle',
      () => channels.slack.userGroup('ai-other', ['U03CAROL']),
      'no user group @ai-oncall in this workspace',
    ],
    [
      'Slack fails while listing the members',
      () => (
        channels.slack.userGroup('ai-oncall', ['U03CAROL']),
        channels.slack.platformError('usergroups.users.list', 'internal_error')
      ),
      'Slack said internal_error',
    ],
  ])(
    'a user group Slack cannot resolve (%s) refuses, and the log and the answer say why',
    async (_name, arrange, why) => {
      const { engine, url, incident, capture } = await firing(withResponders('["@ai-oncall"]'));
      arrange();
      await click(url, { action: 'sloe_ack', incidentId: incident.id, user: CAROL, secret: SIGNING_SECRET });
      const [answer] = await ephemerals(1);
      const text = String(answer!.args.text);
      expect(text).toContain(`You are not a responder for ai-default/${incident.id}`);
      expect(text).toContain(`sloe could not check user group @ai-oncall: ${why}`);
      await eventually('the refusal recorded', async () =>
        (await engine.store.audit(incident.id)).some((a) => a.type === 'refused'),
      );
      expect((await engine.store.get(incident.id))!.status).toBe('firing');
      const refused = (await engine.store.audit(incident.id)).filter((a) => a.type === 'refused');
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatchObject({ by: 'carol (U03CAROL)' });
      expect(refused[0]!.detail).toContain(`user group @ai-oncall could not be checked: ${why}`);
      const logged = capture.events('slack-responders-unresolved');
      expect(logged.length).toBeGreaterThanOrEqual(1);
      expect(logged[0]).toMatchObject({ level: 'error', group: '@ai-oncall' });
      expect(String(logged[0]!.error)).toContain(why);
    },
  );

  it('Snooze from Slack takes a chosen duration of at most 24 hours', async () => {
    const { engine, url, incident } = await firing(withResponders('[U02BOB]'));
    const post = await eventually('the Slack message', () =>
      channels.slack.of('chat.postMessage').find((c) => c.args.channel === '#ai-alerts'),
    );
    const actions = (post.args.blocks as Array<{ type: string; elements?: Array<Record<string, unknown>> }>).find(
      (b) => b.type === 'actions',
    )!;
    const menu = actions.elements!.find((e) => e.action_id === 'sloe_snooze')!;
    expect(menu.type).toBe('static_select');
    expect((menu.options as Array<{ value: string }>).map((o) => o.value)).toEqual([
      `${incident.id}:30m`,
      `${incident.id}:1h`,
      `${incident.id}:4h`,
      `${incident.id}:24h`,
    ]);

    // A value sloe never offered (25 hours) is refused.
    await click(url, {
      action: 'sloe_snooze',
      incidentId: incident.id,
      user: BOB,
      secret: SIGNING_SECRET,
      option: `${incident.id}:25h`,
    });
    const [answer] = await ephemerals(1);
    expect(String(answer!.args.text)).toBe('Snooze: you asked for "25h", the range is 1m–24h; nothing was changed.');
    expect((await engine.store.get(incident.id))!.snoozedUntil).toBeUndefined();

    const before = Date.now();
    await click(url, {
      action: 'sloe_snooze',
      incidentId: incident.id,
      user: BOB,
      secret: SIGNING_SECRET,
      option: `${incident.id}:4h`,
    });
    const snoozed = await eventually('the snooze', async () => (await engine.store.get(incident.id))?.snoozedUntil);
    expect(snoozed).toBeGreaterThanOrEqual(before + 4 * 3600_000 - 1000);
    expect(snoozed).toBeLessThanOrEqual(Date.now() + 4 * 3600_000);
    expect((await engine.store.audit(incident.id)).find((a) => a.type === 'snoozed')).toMatchObject({
      by: 'bob (U02BOB)',
    });
  });

  it("the refusal goes to the click's response_url when Slack will not take an ephemeral message", async () => {
    const { engine, url, incident, capture } = await firing(withResponders('[U02BOB]'));
    channels.slack.platformError('chat.postEphemeral', 'not_in_channel');
    await click(url, {
      action: 'sloe_resolve',
      incidentId: incident.id,
      user: MALLORY,
      secret: SIGNING_SECRET,
      responseUrl: channels.slack.responseUrl,
    });
    const answer = await eventually('the answer at the response_url', () => channels.slack.of('response_url')[0]);
    expect(answer.args).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(String(answer.args.text)).toContain(`You are not a responder for ai-default/${incident.id}`);
    expect(capture.events('slack-ephemeral-failed')[0]).toMatchObject({
      error: expect.stringContaining('not_in_channel'),
    });
    expect((await engine.store.get(incident.id))!.status).toBe('firing');
  });

  it('without responders, anyone who sees the message may act (as before)', async () => {
    const { engine, url, incident } = await firing(channelSlo());
    await click(url, { action: 'sloe_ack', incidentId: incident.id, user: CAROL, secret: SIGNING_SECRET });
    await eventually(
      'the acknowledgement',
      async () => (await engine.store.get(incident.id))?.status === 'acknowledged',
    );
    expect(channels.slack.of('usergroups.list')).toEqual([]);
    expect(channels.slack.of('chat.postEphemeral')).toEqual([]);
  });
});

describe('user groups of responders, looked up in Slack', () => {
  const policy: EscalationPolicy = {
    name: 'p',
    page: [],
    ticket: [],
    responders: ['@ai-oncall'],
    source: { file: 'f', line: 1, col: 1 },
  };
  const client = () => new WebClient(SLACK_TOKEN, { slackApiUrl: channels.slack.url, retryConfig: { retries: 0 } });

  it('keeps a group and its members for a minute, then asks Slack again', async () => {
    channels.slack.reset();
    channels.slack.userGroup('ai-oncall', ['U03CAROL']);
    let clock = 1_000_000;
    const responders = new Responders(client(), () => clock);
    const none = new Map();
    expect(await responders.check(policy, none, 'U03CAROL')).toEqual({ allowed: true, as: 'a member of @ai-oncall' });
    expect(await responders.check(policy, none, 'U09OTHER')).toEqual({ allowed: false, unresolved: [] });
    expect(channels.slack.of('usergroups.list')).toHaveLength(1);
    expect(channels.slack.of('usergroups.users.list')).toHaveLength(1);
    clock += GROUP_CACHE_MS;
    expect(await responders.check(policy, none, 'U03CAROL')).toMatchObject({ allowed: true });
    expect(channels.slack.of('usergroups.list')).toHaveLength(2);
    expect(channels.slack.of('usergroups.users.list')).toHaveLength(2);
  });

  it('does not keep a failure: the next click asks Slack again', async () => {
    channels.slack.reset();
    channels.slack.userGroup('ai-oncall', ['U03CAROL']);
    channels.slack.platformError('usergroups.list', 'fatal_error');
    const responders = new Responders(client(), () => 0);
    expect(await responders.check(policy, new Map(), 'U03CAROL')).toEqual({
      allowed: false,
      unresolved: [{ group: '@ai-oncall', error: 'Slack said fatal_error' }],
    });
    expect(await responders.check(policy, new Map(), 'U03CAROL')).toMatchObject({ allowed: true });
  });

  it('shares one lookup between clicks arriving together', async () => {
    channels.slack.reset();
    channels.slack.userGroup('ai-oncall', ['U03CAROL']);
    const responders = new Responders(client(), () => 0);
    const verdicts = await Promise.all(
      ['U03CAROL', 'U09OTHER', 'U03CAROL'].map((u) => responders.check(policy, new Map(), u)),
    );
    expect(verdicts.map((v) => v.allowed)).toEqual([true, false, true]);
    expect(channels.slack.of('usergroups.list')).toHaveLength(1);
    expect(channels.slack.of('usergroups.users.list')).toHaveLength(1);
  });
});
