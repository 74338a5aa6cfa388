/**
 * An acknowledgement holds for what was acknowledged: a ticket (no data, or a burn-rate ticket tier) acknowledged
 * and later raised to a page is firing again — the page steps run, Slack says who had acknowledged what, and
 * PagerDuty gets a trigger that pages.
 */
import { describe, expect, it } from 'vitest';
import { eventually, useStack } from '../support/engine.js';
import { pagerDutyWebhook } from '../support/stand-ins/pagerduty.js';
import { click } from '../support/stand-ins/slack.js';
import { SIGNING_SECRET, WEBHOOK_SECRET, engineWithChannels, resetStandIns, useChannels } from './support.js';
import { sleep } from '../support/time.js';

const ctx = useStack();
const channels = useChannels();

const fresh = () => resetStandIns(channels);

/** A policy whose tickets go to Slack (and, with `ticketPagerDuty`, to PagerDuty as a warning) and whose pages go to Slack and PagerDuty. */
function policy(ticketPagerDuty = false): string {
  return `apiVersion: sloe/v1
kind: EscalationPolicy
name: rearm
ticket:
  - notify: slack
    channel: "#demo-tickets"
${ticketPagerDuty ? '  - notify: pagerduty\n    severity: warning\n' : ''}page:
  - notify: slack
    channel: "#ai-alerts"
  - after: 1s
    notify: pagerduty
    severity: critical
---
apiVersion: sloe/v1
kind: ServiceLevels
service: rearm
owner: platform
escalation: rearm
interval: 1s
dashboards: [{ id: rearm, title: Rearm, owner: bob }]
slos:
`;
}

const engineWith = (text: string) => engineWithChannels(ctx, channels, text);

describe('an acknowledged ticket raised to page', () => {
  it('a no-data ticket acknowledged in Slack, then breaching: firing again, page steps run, Slack says who had acknowledged it, PagerDuty triggered', async () => {
    fresh();
    const { engine, url } = await engineWith(
      policy() +
        `  - name: depth
    signal: queue_depth
    dashboard: rearm
    query: max(demo_rearm_depth)
    objective: "< 50"
    noDataFor: 2s
    alert: { when: "> 200", for: 0s, resolveAfter: 2s }
`,
    );
    const ticket = await eventually('a no-data ticket', async () => (await engine.store.list({ open: true }))[0]);
    expect(ticket).toMatchObject({ severity: 'ticket', reason: 'nodata', status: 'firing' });
    await eventually('the ticket in Slack', () =>
      channels.slack.of('chat.postMessage').find((c) => c.args.channel === '#demo-tickets'),
    );
    expect((await click(url, { action: 'sloe_ack', incidentId: ticket.id, secret: SIGNING_SECRET })).status).toBe(200);
    await eventually('the acknowledgement', async () => (await engine.store.get(ticket.id))?.status === 'acknowledged');

    ctx.stack.exporter.gauge('demo_rearm_depth').set(350);
    const raised = await eventually('the raise to page', async () => {
      const i = await engine.store.get(ticket.id);
      return i?.severity === 'page' ? i : undefined;
    });
    expect(raised.status).toBe('firing');
    expect(raised.reason).toBe('breach');
    expect(raised.acknowledgedBy).toBeUndefined();
    expect(raised.previousAck).toMatchObject({ by: 'alice (U01ALICE)', severity: 'ticket', reason: 'nodata' });

    // The page steps run from the raise.
    const trigger = await eventually('the PagerDuty trigger', () =>
      channels.pagerduty.events.find((e) => e.event_action === 'trigger'),
    );
    expect(trigger.payload.severity).toBe('critical');
    expect(trigger.dedup_key).toMatch(new RegExp(`^sloe-${ticket.id}`));
    expect(channels.pagerduty.incidents.get(trigger.dedup_key!)?.status).toBe('triggered');
    expect(channels.slack.of('chat.postMessage').some((c) => c.args.channel === '#ai-alerts')).toBe(true);
    const audit = await eventually('the page steps in the audit trail', async () => {
      const entries = await engine.store.audit(ticket.id);
      return entries.filter((a) => a.type === 'step').length === 3 ? entries : undefined;
    });
    expect(audit.filter((a) => a.type === 'step').map((a) => a.step)).toEqual(['ticket.0', 'page.0', 'page.1']);
    expect(audit.find((a) => a.type === 'escalated')!.detail).toContain(
      'was acknowledged by alice (U01ALICE) as a ticket',
    );

    // Slack: the thread says what happened, and the message is firing again, with its Ack button.
    const note = await eventually('the raise in the thread', () =>
      channels.slack
        .of('chat.postMessage')
        .find(
          (c) =>
            c.args.thread_ts &&
            /raised to page — was acknowledged by alice \(U01ALICE\) as a ticket/i.test(String(c.args.text)),
        ),
    );
    expect(String(note.args.text)).toContain('350 &gt; 200');
    const updated = await eventually('the message firing again', () =>
      channels.slack.of('chat.update').find((c) => JSON.stringify(c.args.blocks).includes('PAGE rearm / depth')),
    );
    expect(updated.args.channel).toBe('CDEMOTICKETS');
    expect(JSON.stringify(updated.args.blocks)).toContain('sloe_ack');

    // A second acknowledgement reaches PagerDuty and Slack like the first.
    expect(
      (
        await click(url, {
          action: 'sloe_ack',
          incidentId: ticket.id,
          user: { id: 'U02BOB', username: 'bob' },
          secret: SIGNING_SECRET,
        })
      ).status,
    ).toBe(200);
    await eventually('PagerDuty acknowledged', () =>
      channels.pagerduty.events.some((e) => e.event_action === 'acknowledge' && e.dedup_key === trigger.dedup_key),
    );
    await eventually('Slack told of the second acknowledgement', () =>
      channels.slack.of('chat.postMessage').some((c) => String(c.args.text).includes('Acknowledged by bob (U02BOB)')),
    );
    ctx.stack.exporter.gauge('demo_rearm_depth').set(20);
  });

  it('a burn-rate ticket acknowledged in PagerDuty, then the page tier: a new PagerDuty incident pages, the acknowledged one is closed, and its echo changes nothing', async () => {
    fresh();
    const total = ctx.stack.exporter.gauge('demo_rearm_total_rate');
    const bad = ctx.stack.exporter.gauge('demo_rearm_bad_rate');
    total.set(100);
    bad.set(0);
    const { engine, url } = await engineWith(
      policy(true) +
        `  - name: errors
    signal: error_rate
    dashboard: rearm
    ratio:
      bad: sum(avg_over_time(demo_rearm_bad_rate[$window]))
      total: sum(avg_over_time(demo_rearm_total_rate[$window]))
    objective: 90%
    window: 1m
    alert:
      resolveAfter: 2s
      burnRate:
        - { severity: page, budget: 50%, long: 20s, short: 10s }
        - { severity: ticket, budget: 10%, long: 20s, short: 10s }
`,
    );
    // 5% bad events burn the budget at 0.5: the ticket tier (0.3) fires, the page tier (1.5) does not.
    bad.set(5);
    const ticket = await eventually(
      'a burn-rate ticket',
      async () => (await engine.store.list({ open: true }))[0],
      40_000,
    );
    expect(ticket).toMatchObject({ severity: 'ticket', reason: 'breach' });
    const first = await eventually('the ticket in PagerDuty', () =>
      channels.pagerduty.events.find((e) => e.event_action === 'trigger'),
    );
    expect(first.payload.severity).toBe('warning');
    const ack = await pagerDutyWebhook(url, {
      type: 'incident.acknowledged',
      dedupKey: first.dedup_key!,
      secret: WEBHOOK_SECRET,
      agent: 'Carol Example',
    });
    expect(ack.body.result).toBe('done');
    expect(await engine.store.get(ticket.id)).toMatchObject({
      status: 'acknowledged',
      acknowledgedBy: 'Carol Example',
    });

    // 50% bad events: the page tier fires.
    bad.set(50);
    const raised = await eventually(
      'the raise to page',
      async () => {
        const i = await engine.store.get(ticket.id);
        return i?.severity === 'page' ? i : undefined;
      },
      30_000,
    );
    expect(raised.status).toBe('firing');
    const page = await eventually('a trigger that pages', () =>
      channels.pagerduty.events.find((e) => e.event_action === 'trigger' && e.payload.severity === 'critical'),
    );
    expect(page.dedup_key).not.toBe(first.dedup_key);
    expect(channels.pagerduty.incidents.get(page.dedup_key!)?.status).toBe('triggered');
    // The acknowledged PagerDuty incident of the ticket is closed; PagerDuty's webhook about that changes nothing.
    await eventually(
      'the old PagerDuty incident resolved',
      () => channels.pagerduty.incidents.get(first.dedup_key!)?.status === 'resolved',
    );
    const echo = await pagerDutyWebhook(url, {
      type: 'incident.resolved',
      dedupKey: first.dedup_key!,
      secret: WEBHOOK_SECRET,
    });
    expect(echo.body.result).toBe('ignored');
    await sleep(300);
    expect((await engine.store.get(ticket.id))!.status).toBe('firing');
    await eventually('Slack told', () =>
      channels.slack
        .of('chat.postMessage')
        .some((c) => /raised to page — was acknowledged by Carol Example as a ticket/i.test(String(c.args.text))),
    );

    // Recovery resolves the PagerDuty incident that pages.
    bad.set(0);
    await eventually(
      'PagerDuty resolved',
      () => channels.pagerduty.incidents.get(page.dedup_key!)?.status === 'resolved',
      40_000,
    );
    expect([...channels.pagerduty.incidents.values()].map((i) => i.status)).toEqual(['resolved', 'resolved']);
  }, 120_000);
});
