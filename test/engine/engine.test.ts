import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import type { Incident } from '../../src/incident/model.js';
import { type LogCapture, eventually, queueSlo, startEngine, useStack, writeSlos } from '../support/engine.js';

const ctx = useStack();

async function engineWith(slo = queueSlo(), env: NodeJS.ProcessEnv = {}) {
  const paths = [await writeSlos(ctx.stack.dir, slo)];
  const started = await startEngine(ctx.stack, paths, { env });
  ctx.engines.push(started.engine);
  return started;
}

async function firing(engine: Engine): Promise<Incident> {
  return eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);
}

async function api(engine: Engine, path: string, init?: RequestInit) {
  const res = await fetch(`http://127.0.0.1:${engine.port}${path}`, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('sloe run: one engine', () => {
  it('a sustained breach fires once, runs each step at firedAt + after, and resolves on recovery', async () => {
    const { engine, capture } = await engineWith(undefined, { PAGERDUTY_ROUTING_KEY: 'sentinel-routing-key-7f3a' });
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await firing(engine);
    expect(incident).toMatchObject({
      sloId: 'demo/queue-depth',
      severity: 'page',
      reason: 'breach',
      status: 'firing',
      labels: {},
    });
    expect(incident.message).toBe('350 > 200 (objective < 50)');
    expect(incident.dashboard).toEqual({
      id: 'queue',
      title: 'Approval queue',
      url: 'https://grafana.example.com/d/queue',
      owner: 'bob',
    });

    const sent = await eventually('three steps', async () => {
      const steps = (await engine.store.audit(incident.id)).filter((a) => a.type === 'step');
      return steps.length === 3 ? steps : undefined;
    });
    expect(sent.map((s) => s.step)).toEqual(['page.0', 'page.1', 'page.2']);
    [0, 3000, 6000].forEach((after, i) => {
      const lag = sent[i]!.at - (incident.firedAt + after);
      expect(lag, `step ${i} lag`).toBeGreaterThanOrEqual(0);
      expect(lag, `step ${i} lag`).toBeLessThan(1000);
    });

    ctx.stack.exporter.gauge('demo_queue_depth').set(20);
    const resolved = await eventually('resolution', async () => {
      const i = await engine.store.get(incident.id);
      return i?.status === 'resolved' ? i : undefined;
    });
    expect(resolved.resolvedBy).toBe('sloe');
    expect((await engine.store.list()).filter((i) => i.sloId === 'demo/queue-depth')).toHaveLength(1);
    const audit = (await engine.store.audit(incident.id)).map((a) => a.type);
    expect(audit).toEqual(['fired', 'step', 'step', 'step', 'resolved']);

    // Every line about the incident carries its id and trace id; the routing key never reaches the log.
    const incidentLines = capture.lines.filter((l) => l.incidentId === incident.id);
    expect(incidentLines.length).toBeGreaterThanOrEqual(5);
    expect(incidentLines.every((l) => l.traceId === incident.traceId)).toBe(true);
    expect(capture.raw.join('\n')).not.toContain('sentinel-routing-key-7f3a');
    expect(capture.events('notification').map((l) => l.channel)).toEqual(['slack', 'pagerduty', 'oncall']);
  });

  it('an acknowledgement stops the remaining steps', async () => {
    const { engine } = await engineWith();
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await firing(engine);
    await eventually('the first step', async () =>
      (await engine.store.audit(incident.id)).some((a) => a.step === 'page.0'),
    );
    expect(await engine.acknowledge(incident.id, 'alice', 'test')).toBe('done');
    expect(await engine.acknowledge(incident.id, 'alice', 'test')).toBe('already');
    await eventually(
      'both later steps skipped',
      async () => (await engine.store.audit(incident.id)).filter((a) => a.type === 'skipped').length === 2,
      15_000,
    );
    const audit = await engine.store.audit(incident.id);
    expect(audit.map((a) => [a.type, a.step ?? '', a.by])).toEqual([
      ['fired', '', 'sloe'],
      ['step', 'page.0', 'sloe'],
      ['acknowledged', '', 'alice'],
      ['skipped', 'page.1', 'sloe'],
      ['skipped', 'page.2', 'sloe'],
    ]);
    expect(audit[3]!.detail).toBe('acknowledged by alice');
    expect((await engine.store.get(incident.id))!.status).toBe('acknowledged');
  });

  it('serves incidents, health, readiness and metrics over HTTP', async () => {
    const { engine } = await engineWith(undefined, { SLOE_API_TOKEN: 'api-token' });
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await firing(engine);
    await eventually('the first step', async () =>
      (await engine.store.audit(incident.id)).some((a) => a.step === 'page.0'),
    );
    expect((await api(engine, '/healthz')).status).toBe(200);
    expect(await api(engine, '/readyz')).toEqual({
      status: 200,
      body: { redis: 'ok', prometheus: 'ok', config: 'ok', workers: 'ok', schedulers: 'ok' },
    });
    const read = { headers: { authorization: 'Bearer api-token' } };
    const list = await api(engine, '/api/incidents?status=open', read);
    expect((list.body.incidents as Array<{ id: string }>).map((i) => i.id)).toEqual([incident.id]);
    const one = await api(engine, `/api/incidents/${incident.id}`, read);
    expect(one.body.incident).toMatchObject({
      id: incident.id,
      status: 'firing',
      firedAt: new Date(incident.firedAt).toISOString(),
      escalation: 'demo',
    });
    expect((one.body.audit as Array<{ type: string }>)[0]!.type).toBe('fired');
    expect((await api(engine, '/api/incidents/nope', read)).status).toBe(404);

    const unauthorized = await api(engine, `/api/incidents/${incident.id}/acknowledge`, {
      method: 'POST',
      body: '{"by":"mallory"}',
    });
    expect(unauthorized.status).toBe(401);
    const ack = await api(engine, `/api/incidents/${incident.id}/acknowledge`, {
      method: 'POST',
      headers: { authorization: 'Bearer api-token' },
      body: '{"by":"alice"}',
    });
    expect(ack).toEqual({ status: 200, body: { result: 'done' } });
    const resolve = await api(engine, `/api/incidents/${incident.id}/resolve`, {
      method: 'POST',
      headers: { authorization: 'Bearer api-token' },
      body: '{"by":"alice"}',
    });
    expect(resolve).toEqual({ status: 200, body: { result: 'done' } });
    expect(await engine.store.get(incident.id)).toMatchObject({
      status: 'resolved',
      resolvedBy: 'alice',
      acknowledgedBy: 'alice',
    });

    // The acknowledgement and the resolution reach the channels through update jobs.
    const metrics = await eventually('both updates delivered', async () => {
      const text = await (await fetch(`http://127.0.0.1:${engine.port}/metrics`)).text();
      return /kind="update",outcome="sent"\} 2$/m.test(text) ? text : undefined;
    });
    expect(metrics).toMatch(/^sloe_evaluations_total\{slo="demo\/queue-depth",result="breach"\} [1-9]/m);
    expect(metrics).toMatch(/^sloe_notifications_total\{channel="slack",kind="step",outcome="sent"\} 1$/m);
    expect(metrics).toMatch(/^sloe_notifications_total\{channel="slack",kind="update",outcome="sent"\} 2$/m);
    expect(metrics).toMatch(/^sloe_escalation_step_lag_seconds_count 1$/m);
    expect(metrics).toMatch(/^sloe_open_incidents\{severity="page"\} 0$/m);
    expect(metrics).toContain('sloe_evaluation_duration_seconds_bucket');
    // Every evaluated shard is counted, and a one-SLO shard is done well within its interval.
    expect(Number(/^sloe_evaluation_completion_seconds_count (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^sloe_evaluation_completion_seconds_bucket\{le="5"\} [1-9]/m);
    // The lag histogram can tell a p99 within 2 s from one within 2.5 s.
    expect(metrics).toMatch(/^sloe_evaluation_lag_seconds_bucket\{le="1.5"\} [1-9]/m);
    expect(metrics).toMatch(/^sloe_evaluation_lag_seconds_bucket\{le="2"\} [1-9]/m);
    expect(metrics).not.toContain('alice');
  });

  it('a breach that persists after a resolution by hand fires a new incident after `for`', async () => {
    const { engine } = await engineWith();
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const first = await firing(engine);
    expect(await engine.resolve(first.id, 'bob')).toBe('done');
    const second = await eventually('a second incident', async () =>
      (await engine.store.list({ open: true })).find((i) => i.id !== first.id),
    );
    expect(second.firedAt - first.firedAt).toBeGreaterThanOrEqual(2000);
  });
});

describe('sloe run: an incident raised from ticket to page', () => {
  it('a no-data ticket becomes a page when the data returns breaching: page steps run from then, and channels are told', async () => {
    const slo = queueSlo({ noDataFor: '2s', after: ['2s', '4s'] })
      .replace('query: max(demo_queue_depth)', 'query: max(demo_lane_queue_depth)')
      .replace('page:\n', 'ticket:\n  - notify: slack\n    channel: "#demo-tickets"\npage:\n');
    const { engine, capture } = await engineWith(slo);
    const ticket = await eventually('a no-data ticket', async () => (await engine.store.list({ open: true }))[0]);
    expect(ticket).toMatchObject({ severity: 'ticket', reason: 'nodata' });
    await eventually('the ticket step', async () =>
      (await engine.store.audit(ticket.id)).some((a) => a.step === 'ticket.0'),
    );
    ctx.stack.exporter.gauge('demo_lane_queue_depth').set(350);
    const raised = await eventually('the page', async () => {
      const i = await engine.store.get(ticket.id);
      return i?.severity === 'page' ? i : undefined;
    });
    expect(raised).toMatchObject({ reason: 'breach', status: 'firing' });
    expect(raised.token).not.toBe(ticket.token);
    await eventually(
      'the page steps',
      async () => (await engine.store.audit(ticket.id)).filter((a) => a.step?.startsWith('page.')).length === 3,
      15_000,
    );
    const audit = await engine.store.audit(ticket.id);
    expect(audit.map((a) => a.type)).toEqual(['fired', 'step', 'escalated', 'step', 'step', 'step']);
    // page.1 is due 2s after the raise; it never runs before (page.0 may run late on a busy machine).
    expect(audit.find((a) => a.step === 'page.1')!.at - raised.escalatedAt).toBeGreaterThanOrEqual(2000);
    expect(
      capture.lines.some((l) => l.event === 'notification-update' && l.update === 'escalated' && l.channel === 'slack'),
    ).toBe(true);
    ctx.stack.exporter.gauge('demo_lane_queue_depth').set(20);
  });
});

export type { LogCapture };
