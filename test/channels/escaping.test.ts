/**
 * Values that reach Slack from label values (the monitored application, and so its users) and from specs (any team
 * with merge rights) are text, never markup: no mention, no disguised link, in any message sloe posts or updates.
 */
import { describe, expect, it } from 'vitest';
import { eventually, useStack } from '../support/engine.js';
import { click } from '../support/stand-ins/slack.js';
import { SIGNING_SECRET, engineWithChannels, useChannels } from './support.js';

const ctx = useStack();
const channels = useChannels();

/** A label value as an attacker would set it: channel-wide mention, user mention, a link disguised as a button. */
const HOSTILE_LABEL = '<!channel> <@U123> <https://evil.example|Ack here>';
const RAW = ['<!channel>', '<@U123>', '<https://evil.example', '<!here>', '<!everyone>', '<!subteam'];

const SPEC = `apiVersion: sloe/v1
kind: EscalationPolicy
name: hostile
page:
  - notify: slack
    channel: "#ai-alerts"
  - after: 1s
    notify: oncall
    schedule: hostile-rota
---
apiVersion: sloe/v1
kind: OnCallSchedule
name: hostile-rota
timezone: Europe/Berlin
rotation: { every: 1w, start: "2026-01-05T09:00" }
members:
  - { name: "<!everyone> carol", slack: U01CAROL }
---
apiVersion: sloe/v1
kind: ServiceLevels
service: tenant-queues
owner: "queues & <!subteam^S123> team"
escalation: hostile
interval: 1s
dashboards:
  - { id: queues, title: "Queues <!here> & more", url: "https://grafana.example.com/d/queues?a=1&b=2", owner: "<!channel> bob" }
slos:
  - name: tenant-queue-depth
    signal: queue_depth
    dashboard: queues
    runbook: https://wiki.example.com/runbooks/queues
    query: max by (tenant) (hostile_queue_depth)
    objective: "< 50"
    alert: { when: "> 200", for: 1s, resolveAfter: 1s }
`;

describe('Slack messages escape every interpolated value', () => {
  it('label values from Prometheus and values from specs reach Slack only in escaped form', async () => {
    const { engine, url } = await engineWithChannels(ctx, channels, SPEC);
    ctx.stack.exporter.gauge('hostile_queue_depth', ['tenant']).set({ tenant: HOSTILE_LABEL }, 350);
    const incident = await eventually('an incident', async () => (await engine.store.list({ open: true }))[0], 30_000);
    expect(incident.labels).toEqual({ tenant: HOSTILE_LABEL });

    const post = await eventually('the Slack message', () =>
      channels.slack.of('chat.postMessage').find((c) => c.args.channel === '#ai-alerts' && !c.args.thread_ts),
    );
    const posted = JSON.stringify({ text: post.args.text, blocks: post.args.blocks });
    expect(
      (post.args.blocks as Array<{ type: string; text?: unknown }>).find((b) => b.type === 'header')!.text,
    ).toMatchObject({
      type: 'plain_text',
      text: expect.stringContaining(`tenant=${JSON.stringify(HOSTILE_LABEL)}`.slice(0, 60)),
    });
    expect(String(post.args.text)).toContain(
      'tenant="&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|Ack here&gt;"',
    );
    expect(posted).toContain('Queues &lt;!here&gt; &amp; more');
    expect(posted).toContain('owner *&lt;!channel&gt; bob*');
    expect(posted).toContain('queues &amp; &lt;!subteam^S123&gt; team');
    // sloe's own markup stays: the dashboard link (its & escaped as Slack expects), the runbook link, the date.
    expect(posted).toContain('<https://grafana.example.com/d/queues?a=1&amp;b=2|Queues &lt;!here&gt; &amp; more>');
    expect(posted).toContain('<https://wiki.example.com/runbooks/queues|runbook>');
    expect(posted).toContain('<!date^');

    // The on-call DM and the thread note naming who was paged.
    const dm = await eventually('the on-call DM', () =>
      channels.slack.of('chat.postMessage').find((c) => c.args.channel === 'DU01CAROL'),
    );
    expect(JSON.stringify(dm.args.blocks)).toContain('<@U01CAROL>, you are on call for hostile-rota');
    await eventually('the note about the page', () =>
      channels.slack
        .of('chat.postMessage')
        .find((c) => c.args.thread_ts && String(c.args.text).startsWith('paged &lt;!everyone&gt; carol')),
    );

    // Acknowledged by someone whose name is markup: the update and its note escape it too.
    await click(url, {
      action: 'sloe_ack',
      incidentId: incident.id,
      secret: SIGNING_SECRET,
      user: { id: 'U0HOSTILE', username: '<!here>' },
    });
    await eventually('the message updated', () =>
      channels.slack.of('chat.update').find((c) => JSON.stringify(c.args.blocks).includes('Acknowledged')),
    );
    await eventually('the acknowledgement note', () =>
      channels.slack.of('chat.postMessage').find((c) => String(c.args.text).startsWith(':eyes: Acknowledged by')),
    );

    // A header is plain_text: Slack shows it as written and parses no mention or link in it, so it is left as is.
    const mrkdwn = (blocks: unknown) =>
      Array.isArray(blocks) ? blocks.filter((b: { type?: string }) => b.type !== 'header') : blocks;
    const everything = [...channels.slack.of('chat.postMessage'), ...channels.slack.of('chat.update')].map((c) =>
      JSON.stringify({ text: c.args.text, blocks: mrkdwn(c.args.blocks) }),
    );
    for (const message of everything) for (const raw of RAW) expect(message).not.toContain(raw);
    expect(everything.join('\n')).toContain('Acknowledged* by &lt;!here&gt; (U0HOSTILE)');
  });
});
