/**
 * On random frame sequences, what `run` does and what `backtest` reports agree step for step: the same incidents
 * (instance, firing, resolution, severity, reason) and the same escalation steps at the same times.
 *
 * `run`'s side is decide() — the operations the APPLY script receives — applied as that script applies them, and
 * the step jobs the engine schedules from the stored incidents (planSteps from `escalatedAt` under a new token),
 * each guarded as the escalator guards it (a stale token or a resolved incident skips it; a step that runs
 * schedules its repetitions; a step due while a silence covers the incident is postponed to its end). Evaluations
 * at an instant come before the steps due then. Random silences (fixed windows, matchers on labels, severity and
 * SLO) join the frames.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SloState, StoreOp } from '../../src/engine/store.js';
import { decide } from '../../src/engine/decide.js';
import { replay } from '../../src/evaluator/backtest.js';
import type { InstanceResult, SloFrame } from '../../src/evaluator/frame.js';
import type { IncidentIds } from '../../src/incident/events.js';
import type { EscalationPolicy, Severity, Slo } from '../../src/rules/model.js';
import { type PlannedStep, planSteps, repeatsAfter } from '../../src/rules/plan.js';
import { type Holds, type Matcher, type Silence, parseMatcher, silencer } from '../../src/rules/silence.js';
import { configFromText } from '../support/rules.js';

const MIN = 60_000;
const T = Date.parse('2026-09-01T00:00:00Z');

const SLOS = `apiVersion: sloe/v1
kind: EscalationPolicy
name: both
repeat: 5m
page:
  - notify: slack
    channel: "#page"
  - after: 3m
    notify: pagerduty
ticket:
  - notify: slack
    channel: "#ticket"
  - after: 4m
    notify: slack
    channel: "#ticket-later"
    repeat: 6m
---
apiVersion: sloe/v1
kind: ServiceLevels
service: svc
owner: team
interval: 1m
escalation: both
dashboards: [{ id: d, title: D, owner: bob }]
slos:
  - name: latency
    signal: latency
    dashboard: d
    query: max by (route) (latency)
    objective: "< 1"
    noDataFor: 3m
    alert: { when: "> 2", for: 2m, resolveAfter: 3m }
`;

let slo: Slo;
let policy: EscalationPolicy;

beforeAll(async () => {
  const config = await configFromText(SLOS);
  slo = config.slos[0]!;
  policy = config.policies.get('both')!;
});

interface Summary {
  instance: string;
  firedAt: number;
  resolvedAt: number | null;
  severity: Severity;
  reason: string;
  steps: string[];
}

const stepText = (s: { at: number; severity: Severity; index: number; round: number }) =>
  `${(s.at - T) / MIN}m ${s.severity}.${s.index}${s.round ? ` r${s.round}` : ''}`;
const byTime = (a: string, b: string) => parseFloat(a) - parseFloat(b) || (a < b ? -1 : a > b ? 1 : 0);

/** What `run` does over the frames, as summaries of its incidents. */
function runSide(frames: SloFrame[], times: number[], holds: Holds = () => undefined): Summary[] {
  let n = 0;
  const ids: IncidentIds = { token: () => `t${++n}`, traceId: () => `trace${++n}` };
  let state: SloState = { rev: 0, evaluatedAt: 0, instances: {}, resets: [] };
  const ops: Array<{ op: StoreOp; at: number }> = [];
  frames.forEach((frame, i) => {
    const d = decide(slo, policy, state, frame, times[i]!, ids, holds);
    state = { ...state, rev: state.rev + 1, evaluatedAt: times[i]!, instances: d.instances };
    for (const op of d.ops) ops.push({ op, at: times[i]! });
  });
  // The APPLY script's effect: incidents, each with its escalations (token, severity, when it began, and when its
  // steps count from: later when a silence held it).
  interface RunIncident {
    summary: Summary;
    labels: Record<string, string>;
    escalations: Array<{ token: string; severity: Severity; from: number; start: number }>;
  }
  const open = new Map<string, RunIncident>();
  const all: RunIncident[] = [];
  for (const { op, at } of ops) {
    if (op.op === 'open') {
      if (open.has(op.instanceKey)) continue;
      const severity = op.fields.severity as Severity;
      const incident: RunIncident = {
        summary: {
          instance: op.instanceKey,
          firedAt: Number(op.firedAt),
          resolvedAt: null,
          severity,
          reason: op.fields.reason!,
          steps: [],
        },
        labels: (JSON.parse(op.fields.doc!) as { labels: Record<string, string> }).labels,
        escalations: [{ token: op.fields.token!, severity, from: Number(op.fields.escalatedAt), start: at }],
      };
      open.set(op.instanceKey, incident);
      all.push(incident);
    } else {
      const incident = open.get(op.instanceKey);
      if (!incident) continue;
      if (op.op === 'escalate') {
        incident.summary.severity = op.fields.severity as Severity;
        incident.summary.reason = op.fields.reason!;
        incident.escalations.push({
          token: op.fields.token!,
          severity: op.fields.severity as Severity,
          from: Number(op.fields.escalatedAt),
          start: at,
        });
      } else {
        incident.summary.resolvedAt = Number(op.resolvedAt);
        open.delete(op.instanceKey);
      }
    }
  }
  const until = times[times.length - 1]!;
  for (const incident of all) {
    // The token in force at `at`, after the evaluations of that instant.
    const tokenAt = (at: number) => incident.escalations.filter((e) => e.start <= at).at(-1)?.token;
    const resolvedBy = (at: number) => incident.summary.resolvedAt !== null && incident.summary.resolvedAt <= at;
    const queue: Array<PlannedStep & { token: string }> = incident.escalations.flatMap((e) =>
      planSteps(policy, e.severity, e.from).map((s) => ({ ...s, token: e.token })),
    );
    for (queue.sort((a, b) => a.at - b.at); queue.length > 0; queue.sort((a, b) => a.at - b.at)) {
      const job = queue.shift()!;
      // A job due after the timeline has not run yet; the escalator skips a stale or resolved one.
      if (job.at > until || tokenAt(job.at) !== job.token || resolvedBy(job.at)) continue;
      const hold = holds(
        { service: slo.service, slo: slo.name, signal: slo.signal, severity: job.severity, labels: incident.labels },
        job.at,
      );
      if (hold) {
        queue.push({ ...job, at: hold.until });
        continue;
      }
      incident.summary.steps.push(stepText(job));
      queue.push(...repeatsAfter(policy, job).map((r) => ({ ...r, token: job.token })));
    }
    incident.summary.steps.sort(byTime);
  }
  return all.map((i) => i.summary);
}

/** What `backtest` reports over the same frames. */
function backtestSide(frames: SloFrame[], times: number[], holds: Holds = () => undefined): Summary[] {
  const instances = replay(slo, policy, times, (t) => frames[(t - T) / MIN]!, undefined, holds);
  return instances
    .flatMap((i) =>
      i.incidents.map((inc) => ({
        instance: `${slo.id}${JSON.stringify(i.labels) === '{}' ? '{}' : `{route=${JSON.stringify(i.labels.route)}}`}`,
        firedAt: inc.firedAt,
        resolvedAt: inc.resolvedAt,
        severity: inc.severity,
        reason: inc.reason,
        steps: inc.steps.map(stepText).sort(byTime),
      })),
    )
    .sort((a, b) => a.firedAt - b.firedAt || (a.instance < b.instance ? -1 : 1));
}

const result = (route: string) =>
  fc
    .record({
      state: fc.constantFrom('ok', 'breach', 'nodata'),
      severity: fc.constantFrom<Severity>('page', 'ticket'),
    })
    .map(
      ({ state, severity }): InstanceResult => ({
        labels: { route },
        value: state === 'breach' ? 3 : 0.5,
        state: state as InstanceResult['state'],
        severity,
        message: `${route} ${state}`,
      }),
    );

const frame: fc.Arbitrary<SloFrame> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<SloFrame>({ status: 'nodata', message: 'no data' }) },
  { weight: 1, arbitrary: fc.constant<SloFrame>({ status: 'error', message: 'too many series' }) },
  {
    weight: 8,
    arbitrary: fc
      .subarray(['a', 'b'], { minLength: 1 })
      .chain((routes) => fc.tuple(...routes.map(result)))
      .map((instances): SloFrame => ({ status: 'data', instances })),
  },
);

/** Runs of the same frame, as real histories have: a breach or an outage lasts. */
const history = fc
  .array(fc.tuple(frame, fc.integer({ min: 1, max: 8 })), { minLength: 1, maxLength: 12 })
  .map((runs) => runs.flatMap(([f, k]) => Array.from({ length: k }, () => f)));

const MATCHERS = [
  'route = a',
  'route =~ b',
  'severity = page',
  'severity != page',
  'slo = latency',
  'service = other',
].map((t) => parseMatcher(t) as Matcher);

/** Fixed silences over the first 80 minutes of the timeline. */
const silences = fc.array(
  fc
    .record({
      from: fc.integer({ min: 0, max: 80 }),
      length: fc.integer({ min: 1, max: 30 }),
      matcher: fc.constantFrom(...MATCHERS),
    })
    .map(
      ({ from, length, matcher }): Silence => ({
        name: `s${from}-${length}`,
        owner: 'o',
        reason: 'r',
        matchers: [matcher],
        window: { kind: 'fixed', startsAt: T + from * MIN, endsAt: T + (from + length) * MIN },
      }),
    ),
  { maxLength: 3 },
);

describe('run and backtest', () => {
  it('agree step for step on random frame sequences', () => {
    fc.assert(
      fc.property(history, (frames) => {
        const times = frames.map((_, i) => T + i * MIN);
        const run = runSide(frames, times).sort((a, b) => a.firedAt - b.firedAt || (a.instance < b.instance ? -1 : 1));
        expect(backtestSide(frames, times)).toEqual(run);
      }),
      { numRuns: 300 },
    );
  });

  it('agree step for step with random silences', () => {
    fc.assert(
      fc.property(history, silences, (frames, list) => {
        const times = frames.map((_, i) => T + i * MIN);
        const holds = silencer(list);
        const run = runSide(frames, times, holds).sort(
          (a, b) => a.firedAt - b.firedAt || (a.instance < b.instance ? -1 : 1),
        );
        expect(backtestSide(frames, times, holds)).toEqual(run);
      }),
      { numRuns: 300 },
    );
  });

  it('see silences hold steps in the generated histories (the property with silences is not vacuous)', () => {
    const sample = fc.sample(fc.tuple(history, silences), { numRuns: 200, seed: 42 });
    let moved = 0;
    for (const [frames, list] of sample) {
      const times = frames.map((_, i) => T + i * MIN);
      const plain = runSide(frames, times);
      const silenced = runSide(frames, times, silencer(list));
      if (JSON.stringify(plain) !== JSON.stringify(silenced)) moved++;
    }
    expect(moved).toBeGreaterThan(10);
  });

  it('see incidents and steps in the generated histories (the property is not vacuous)', () => {
    const sample = fc.sample(history, { numRuns: 200, seed: 42 });
    const summaries = sample.flatMap((frames) =>
      runSide(
        frames,
        frames.map((_, i) => T + i * MIN),
      ),
    );
    expect(summaries.some((s) => s.reason === 'nodata')).toBe(true);
    expect(summaries.some((s) => s.resolvedAt !== null)).toBe(true);
    expect(summaries.some((s) => s.steps.some((x) => x.includes(' r')))).toBe(true);
    expect(summaries.some((s) => s.severity === 'page' && s.steps.some((x) => x.includes('ticket.')))).toBe(true);
  });
});
