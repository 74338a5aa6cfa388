/**
 * Label values come from the monitored application: any length, any number. What reaches Slack stays within Slack's
 * block limits, what reaches PagerDuty within its 512 KB, and a PagerDuty 400 gets one minimal event (never lost).
 */
import { globalAgent } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../src/incident/model.js';
import { createLogger } from '../../src/observability/log.js';
import { PagerDutyChannel } from '../../src/escalation/pagerduty/pagerduty-channel.js';
import { SLACK_LIMITS, incidentMessage } from '../../src/escalation/slack/blocks.js';
import { fitMrkdwn } from '../../src/escalation/slack/mrkdwn.js';
import { MAX_LABEL_VALUE, MAX_LABELS } from '../../src/util/bounds.js';
import { PagerDutyStandIn } from '../support/stand-ins/pagerduty.js';
import { type TestCa, makeTestCa } from '../support/tls.js';

const log = createLogger({ LOG_LEVEL: 'silent' });

/** An incident whose labels are hostile in size: 200 labels, each value 1 MB of `&<` (5 characters each escaped). */
function hugeIncident(): Incident {
  const labels = Object.fromEntries(
    Array.from({ length: 200 }, (_, n) => [`l${String(n).padStart(3, '0')}`, `<!channel>&😀${'&<'.repeat(500_000)}`]),
  );
  return {
    id: 'big1',
    sloId: 'svc/slo',
    service: 'svc',
    slo: 'slo',
    signal: 'latency',
    labels,
    instanceKey: 'svc/slo{…}',
    rearms: 0,
    owner: 'team',
    dashboard: { id: 'd', title: 'D', owner: 'alice', url: `https://grafana.example.com/d/x?q=${'a'.repeat(2000)}` },
    objective: '< 1',
    condition: '> 2',
    firedAt: Date.parse('2026-11-27T10:00:00Z'),
    traceId: 't',
    policy: {
      name: 'p',
      page: [{ notify: 'pagerduty', afterMs: 0, severity: 'critical' }],
      ticket: [],
      source: { file: 'f', line: 1, col: 1 },
    },
    status: 'firing',
    severity: 'page',
    reason: 'breach',
    message: `3 > 2 ${'&'.repeat(100_000)}`,
    token: 'tok',
    escalatedAt: 0,
    refs: {},
  } as Incident;
}

describe('the Slack message of an incident with huge labels', () => {
  it('stays within Slack limits: 150 per header, 3000 per section text, 2000 per field, at most 50 blocks', () => {
    const { text, blocks } = incidentMessage(hugeIncident(), ':wave: intro');
    expect(blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    expect(text.length).toBeLessThanOrEqual(SLACK_LIMITS.section);
    for (const block of blocks as Array<{
      type: string;
      text?: { type: string; text: string };
      fields?: Array<{ text: string }>;
      elements?: Array<{ text?: string }>;
    }>) {
      if (block.type === 'header') expect(block.text!.text.length).toBeLessThanOrEqual(SLACK_LIMITS.header);
      if (block.text) expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.section);
      for (const f of block.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(SLACK_LIMITS.field);
      for (const e of block.elements ?? [])
        if (typeof e.text === 'string') expect(e.text.length).toBeLessThanOrEqual(SLACK_LIMITS.section);
    }
    // Cut where nothing breaks: no half entity before the ellipsis, no lone surrogate, no raw markup from labels.
    const all = JSON.stringify({ text, blocks });
    expect(all).not.toMatch(/&[a-z]{0,3}…/);
    // (The header is plain_text, shown as written: see below.)
    expect(JSON.stringify({ text, blocks: blocks.filter((b) => b.type !== 'header') })).not.toContain('<!channel>');
    // The dashboard link of over 1500 characters is shown as its title only.
    expect(all).not.toContain('https://grafana.example.com/d/x');
  });

  it('shows the header (plain_text) as written: Slack parses no markup there, so escaping would show &lt;', () => {
    const incident = { ...hugeIncident(), labels: { tenant: 'a&b <c>' }, service: 'svc&co' };
    const header = (incidentMessage(incident).blocks[0] as { text: { type: string; text: string } }).text;
    expect(header).toEqual({
      type: 'plain_text',
      text: ':rotating_light: PAGE svc&co / slo{tenant="a&b <c>"}',
      emoji: true,
    });
    expect(incidentMessage(incident).text).toContain('tenant="a&amp;b &lt;c&gt;"');
  });

  it('fitMrkdwn never cuts an entity, a link or a surrogate pair', () => {
    expect(fitMrkdwn('ab&amp;cd', 5)).toBe('ab…');
    expect(fitMrkdwn('x <https://a|b> y', 8)).toBe('x …');
    expect(fitMrkdwn('ab😀cd', 4)).toBe('ab…');
    expect(fitMrkdwn('short', 10)).toBe('short');
  });
});

describe('the PagerDuty event of an incident with huge labels', () => {
  let ca: TestCa;
  let pagerduty: PagerDutyStandIn;
  let channel: PagerDutyChannel;
  beforeAll(async () => {
    ca = makeTestCa();
    globalAgent.options.ca = [ca.ca];
    pagerduty = new PagerDutyStandIn(ca, 'RK');
    await pagerduty.start();
    channel = new PagerDutyChannel(
      { eventsServer: pagerduty.server_, apiServer: pagerduty.server_, routingKey: 'RK', timeoutMs: 10_000 },
      {},
    );
  });
  afterAll(() => pagerduty?.stop());

  const step = { notify: 'pagerduty' as const, afterMs: 0, severity: 'critical' as const };
  const send = (incident: Incident) =>
    channel.step({ incident, step, stepKey: 'page.0', round: 0, log, now: Date.now });

  it('stays under 512 KB with label values cut to 256 characters and at most 32 labels', async () => {
    pagerduty.requests.length = 0;
    const result = await send(hugeIncident());
    expect(result).toMatchObject({ ok: true, detail: 'PagerDuty incident triggered (critical)' });
    const [request] = pagerduty.requests;
    expect(request!.status).toBe(202);
    const event = request!.event as unknown as {
      payload: {
        summary: string;
        custom_details: { labels: Record<string, string>; labels_omitted: string; value: string };
      };
    };
    expect(Buffer.byteLength(JSON.stringify(event))).toBeLessThan(512 * 1024);
    const labels = event.payload.custom_details.labels;
    expect(Object.keys(labels)).toHaveLength(MAX_LABELS);
    for (const v of Object.values(labels)) expect(v.length).toBeLessThanOrEqual(MAX_LABEL_VALUE);
    expect(labels.l000).toMatch(/^<!channel>&😀(&<)+&?…$/);
    expect(event.payload.custom_details.labels_omitted).toBe('168 more labels (at most 32 are sent)');
    expect(event.payload.summary.length).toBeLessThanOrEqual(1024);
  });

  it('a 400 for the full event is answered by one minimal event (summary, source, severity, dedup_key); the step says so', async () => {
    pagerduty.requests.length = 0;
    pagerduty.answer(400);
    const result = await send({ ...hugeIncident(), labels: { tenant: 'a' } });
    expect(result).toMatchObject({ ok: true });
    expect((result as { detail: string }).detail).toMatch(
      /^PagerDuty incident triggered \(critical\) \(the full event was refused — .* answered 400: .* — and a minimal one sent\)$/,
    );
    expect(pagerduty.requests.map((r) => r.status)).toEqual([400, 202]);
    expect(pagerduty.requests[1]!.event).toEqual({
      routing_key: 'RK',
      event_action: 'trigger',
      dedup_key: 'sloe-big1',
      payload: {
        summary: expect.stringContaining('[page] svc/slo{tenant="a"}: 3 > 2'),
        source: 'svc',
        severity: 'critical',
      },
    });
  });

  it('a second 400 fails the step visibly, without retrying forever', async () => {
    pagerduty.requests.length = 0;
    pagerduty.answer(400, 400);
    const result = await send(hugeIncident());
    expect(result).toMatchObject({ ok: false, retry: false, error: expect.stringContaining('answered 400') });
    expect(pagerduty.requests.map((r) => r.status)).toEqual([400, 400]);
  });
});
