/**
 * Dependencies against the real engine (Redis, Prometheus, the Slack and PagerDuty stand-ins): while a dependency
 * pages, a dependent's page is held — recorded, and noted in the dependency's Slack thread — and released, from its
 * first step, once it still fires `inhibitFor` after the dependency resolved.
 */
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { eventually, useStack } from '../support/engine.js';
import { channelSlo, engineWithChannels, resetStandIns, useChannels } from './support.js';

const ctx = useStack();
const channels = useChannels();

const STEPS = `page:
  - notify: slack
    channel: "#ai-alerts"
  - after: 1s
    notify: pagerduty
    routingKey: \${PAGERDUTY_ROUTING_KEY}`;

/** approval-queue-depth depends on the db service, whose primary pages on demo_db_errors > 5. */
const DEPENDENCY = `    dependsOn: [db]
    inhibitFor: 3s
---
apiVersion: sloe/v1
kind: ServiceLevels
service: db
owner: data-platform
escalation: ai-default
interval: 1s
dashboards:
  - { id: db-main, title: Database, owner: dora }
slos:
  - name: primary
    signal: custom
    dashboard: db-main
    query: max(demo_db_errors)
    objective: "< 1"
    alert: { when: "> 5", for: 1s, resolveAfter: 1s }
`;

const topLevel = () =>
  channels.slack.of('chat.postMessage').filter((c) => c.args.channel === '#ai-alerts' && !c.args.thread_ts);

async function open(engine: Engine, sloId: string) {
  return eventually(`an incident of ${sloId}`, async () =>
    (await engine.store.list({ open: true })).find((i) => i.sloId === sloId),
  );
}

describe('dependencies', () => {
  it('a dependency holds a page while it pages, notes it in its thread, and releases it inhibitFor after it resolved', async () => {
    resetStandIns(channels);
    const errors = ctx.stack.exporter.gauge('demo_db_errors');
    errors.set(0);
    const { engine } = await engineWithChannels(ctx, channels, channelSlo(undefined, DEPENDENCY, STEPS));

    errors.set(10);
    const db = await open(engine, 'db/primary');
    await eventually('the database page in Slack', () => topLevel().length === 1, 20_000);
    await eventually(
      'the database page in PagerDuty',
      () => channels.pagerduty.requests.some((r) => r.event.event_action === 'trigger'),
      20_000,
    );

    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const queue = await open(engine, 'it-support-assistant/approval-queue-depth');
    expect(queue.severity).toBe('page');
    const audit = await engine.store.audit(queue.id);
    expect(audit.find((a) => a.type === 'note')?.detail).toMatch(
      /^held: caused by db\/primary\? its page is firing \(it-support-assistant\/approval-queue-depth depends on db\); released if still firing 3s after it resolves$/,
    );
    // The database's thread hears of it, once.
    const note = await eventually('the note in the database thread', () =>
      channels.slack
        .of('chat.postMessage')
        .find(
          (c) =>
            c.args.thread_ts !== undefined &&
            String(c.args.text).startsWith('held: it-support-assistant/approval-queue-depth'),
        ),
    );
    expect(note.args.thread_ts).toBe((await engine.store.get(db.id))!.refs['slack.ts']);
    expect(String(note.args.text)).toContain(`(incident ${queue.id})`);
    expect(String(note.args.text)).toContain('caused by db/primary?');

    // Held while the database pages: no Slack post, no PagerDuty trigger of its own.
    await new Promise((r) => setTimeout(r, 4000));
    expect(topLevel()).toHaveLength(1);
    expect(channels.pagerduty.requests.filter((r) => r.event.event_action === 'trigger')).toHaveLength(1);
    expect((await engine.store.audit(queue.id)).filter((a) => a.type === 'step')).toEqual([]);
    expect(channels.slack.of('chat.postMessage').filter((c) => String(c.args.text).startsWith('held: '))).toHaveLength(
      1,
    );

    // The database recovers; the queue still breaches: released 3s after the resolution, from its first step.
    errors.set(0);
    const resolved = await eventually(
      'the database resolved',
      async () => {
        const i = await engine.store.get(db.id);
        return i?.status === 'resolved' ? i : undefined;
      },
      20_000,
    );
    await eventually('the released Slack post', () => topLevel().length === 2, 30_000);
    const steps = await eventually(
      'both steps of the released page',
      async () => {
        const entries = (await engine.store.audit(queue.id)).filter((a) => a.type === 'step');
        return entries.length >= 2 ? entries : undefined;
      },
      30_000,
    );
    expect(steps.map((s) => s.step)).toEqual(['page.0', 'page.1']);
    expect(steps[0]!.at).toBeGreaterThanOrEqual(resolved.resolvedAt! + 3000);
    // Their spacing is kept (1s apart, not released together): the audit times are taken when each delivery is done,
    // so they carry the two deliveries' durations (a Slack post and a PagerDuty event) on top of the 1 s.
    expect(steps[1]!.at - steps[0]!.at).toBeGreaterThanOrEqual(500);
    expect(
      (await engine.store.audit(queue.id)).some(
        (a) =>
          a.type === 'note' && a.step === 'page.0' && /^held until \S+: held: caused by db\/primary\?/.test(a.detail),
      ),
    ).toBe(true);
    ctx.stack.exporter.gauge('demo_queue_depth').set(20);
  }, 90_000);
});
