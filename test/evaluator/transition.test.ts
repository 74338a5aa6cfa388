/**
 * The transition function alone (frames in, incident events out, ids and time injected), and the one decision it
 * makes for both `run` and `backtest`: a no-data ticket that then breaches at ticket severity starts its ticket
 * steps over in both.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { decide } from '../../src/engine/decide.js';
import { replay } from '../../src/evaluator/backtest.js';
import type { SloFrame } from '../../src/evaluator/frame.js';
import type { InstanceState } from '../../src/evaluator/state.js';
import { transition } from '../../src/evaluator/transition.js';
import type { IncidentIds } from '../../src/incident/events.js';
import type { Config, EscalationPolicy, Slo } from '../../src/rules/model.js';
import { configFromText } from '../support/rules.js';

const MIN = 60_000;
const T = Date.parse('2026-09-01T00:00:00Z');

const SLOS = `apiVersion: sloe/v1
kind: EscalationPolicy
name: tickets
page:
  - notify: pagerduty
ticket:
  - notify: slack
    channel: "#tickets"
  - after: 10m
    notify: slack
    channel: "#tickets-later"
---
apiVersion: sloe/v1
kind: ServiceLevels
service: queue
owner: platform
interval: 1m
escalation: tickets
dashboards: [{ id: queue, title: Queue, owner: bob }]
slos:
  - name: depth
    signal: queue_depth
    dashboard: queue
    query: max(depth)
    objective: "< 50"
    noDataFor: 5m
    alert: { when: "> 200", for: 0s, resolveAfter: 5m, severity: ticket }
`;

let config: Config;
let slo: Slo;
let policy: EscalationPolicy;

beforeAll(async () => {
  config = await configFromText(SLOS);
  slo = config.slos[0]!;
  policy = config.policies.get('tickets')!;
});

/** Ids counted from 1, so that events are exactly predictable. */
function counter(): IncidentIds {
  let n = 0;
  return { token: () => `token-${++n}`, traceId: () => `trace-${++n}` };
}

const nodata: SloFrame = { status: 'nodata', message: 'the query returned no data' };
const value = (state: 'ok' | 'breach', labels: Record<string, string> = {}): SloFrame => ({
  status: 'data',
  instances: [
    {
      labels,
      value: state === 'breach' ? 300 : 10,
      state,
      severity: 'ticket',
      message: state === 'breach' ? '300 > 200' : '10',
    },
  ],
});

/** The frame at minute m: no data for 7 minutes, then a breach for 10, then healthy. */
const story = (m: number): SloFrame => (m < 7 ? nodata : m < 17 ? value('breach') : value('ok'));
const minutes = (n: number) => Array.from({ length: n }, (_, m) => T + m * MIN);

describe('the transition function', () => {
  it('turns frames into opened, reason-changed and resolved events with the ids and times it is given', () => {
    const ids = counter();
    let instances: Record<string, InstanceState> = {};
    const events = minutes(30).flatMap((t) => {
      const r = transition(slo, instances, story((t - T) / MIN), t, ids);
      instances = r.instances;
      return r.events;
    });
    expect(events).toEqual([
      expect.objectContaining({
        type: 'opened',
        at: T + 5 * MIN,
        key: '{}',
        instanceKey: 'queue/depth{}',
        severity: 'ticket',
        reason: 'nodata',
        token: 'token-1',
        traceId: 'trace-2',
      }),
      expect.objectContaining({
        type: 'reason-changed',
        at: T + 7 * MIN,
        severity: 'ticket',
        reason: 'breach',
        token: 'token-3',
        from: { severity: 'ticket', reason: 'nodata' },
      }),
      { type: 'resolved', instanceKey: 'queue/depth{}', key: '{}', at: T + 22 * MIN },
    ]);
  });

  it('says raised when the severity rises, and leaves the state it was given as it was', () => {
    const before: Record<string, InstanceState> = {
      '{}': { labels: {}, phase: 'firing', firedAt: T, severity: 'ticket', reason: 'breach' },
    };
    const frozen = structuredClone(before);
    const page: SloFrame = {
      status: 'data',
      instances: [{ labels: {}, value: 900, state: 'breach', severity: 'page', message: '900 > 800' }],
    };
    const { events, instances } = transition(slo, before, page, T + MIN, counter());
    expect(events).toEqual([
      {
        type: 'raised',
        instanceKey: 'queue/depth{}',
        key: '{}',
        at: T + MIN,
        severity: 'page',
        reason: 'breach',
        message: '900 > 800',
        token: 'token-1',
        from: { severity: 'ticket', reason: 'breach' },
      },
    ]);
    expect(before).toEqual(frozen);
    expect(instances['{}']).toMatchObject({ phase: 'firing', severity: 'page' });
  });

  it('starts an instance resolved by hand over from ok', () => {
    const before: Record<string, InstanceState> = {
      '{}': { labels: {}, phase: 'firing', firedAt: T, severity: 'ticket', reason: 'breach' },
    };
    const { events } = transition(slo, before, value('breach'), T + MIN, counter(), ['queue/depth{}']);
    expect(events.map((e) => e.type)).toEqual(['opened']);
  });

  it('is what run stores: decide encodes the same events for the APPLY script', () => {
    const state = { rev: 0, evaluatedAt: 0, instances: {}, resets: [] };
    const fired = decide(slo, policy, state, value('breach'), T, counter());
    expect(fired.ops).toEqual([
      expect.objectContaining({ op: 'open', instanceKey: 'queue/depth{}', firedAt: String(T) }),
    ]);
    const op = fired.ops[0]!;
    expect(op.op === 'open' && op.fields).toMatchObject({
      status: 'firing',
      severity: 'ticket',
      reason: 'breach',
      token: 'token-1',
      escalatedAt: String(T),
    });
    expect(op.op === 'open' && JSON.parse(op.fields.doc!)).toMatchObject({
      traceId: 'trace-2',
      firedAt: T,
      policy: { name: 'tickets' },
    });
  });
});

describe('a no-data ticket that then breaches at ticket severity', () => {
  it('starts its ticket steps over in run: decide re-arms with a new token from the breach', () => {
    const ids = counter();
    let state = { rev: 0, evaluatedAt: 0, instances: {} as Record<string, InstanceState>, resets: [] as string[] };
    const ops = minutes(10).flatMap((t) => {
      const d = decide(slo, policy, state, story((t - T) / MIN), t, ids);
      state = { ...state, instances: d.instances };
      return d.ops;
    });
    expect(ops.map((o) => o.op)).toEqual(['open', 'escalate']);
    expect(ops[1]).toMatchObject({
      op: 'escalate',
      fields: { severity: 'ticket', reason: 'breach', escalatedAt: String(T + 7 * MIN), token: 'token-3' },
    });
  });

  it('starts its ticket steps over in backtest too', () => {
    const [instance] = replay(slo, policy, minutes(60), (t) => story((t - T) / MIN));
    const [incident] = instance!.incidents;
    expect(incident).toMatchObject({
      severity: 'ticket',
      reason: 'breach',
      firedAt: T + 5 * MIN,
      resolvedAt: T + 22 * MIN,
    });
    expect(incident!.steps.map((s) => [(s.at - T) / MIN, s.target])).toEqual([
      // The no-data ticket's first step; its second (at 15m) is stale once the breach started the steps over.
      [5, '#tickets'],
      [7, '#tickets'],
      [17, '#tickets-later'],
    ]);
  });
});
