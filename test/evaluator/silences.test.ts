/**
 * Silences as code: matchers, fixed and weekly windows in a time zone (across a DST change), and their effect on
 * escalation, the same in `run` (decide: the stored escalation) and `backtest` (replay: the steps on the timeline).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { decide } from '../../src/engine/decide.js';
import { replay } from '../../src/evaluator/backtest.js';
import type { SloFrame } from '../../src/evaluator/frame.js';
import { check } from '../../src/rules/check.js';
import type { Config, EscalationPolicy, Slo } from '../../src/rules/model.js';
import { parseMatcher, silenceMatches, silencer, windowAt } from '../../src/rules/silence.js';
import { parseSource } from '../../src/rules/source.js';
import { configFromText } from '../support/rules.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

const POLICY = `apiVersion: sloe/v1
kind: EscalationPolicy
name: default
page:
  - notify: slack
    channel: "#alerts"
  - after: 10m
    notify: pagerduty
---
apiVersion: sloe/v1
kind: ServiceLevels
service: checkout
owner: platform
escalation: default
dashboards: [{ id: main, owner: bob }]
slos:
  - name: latency-p95
    signal: latency
    dashboard: main
    query: max by (model) (latency)
    objective: "< 3"
    alert: { when: "> 5", for: 0s, resolveAfter: 0s, severity: page }
`;

const MIGRATION = `---
apiVersion: sloe/v1
kind: Silence
name: db-migration
owner: alice
reason: planned database migration
matchers: ["service = checkout", "slo =~ latency-.*", "model != sonnet"]
startsAt: "2026-12-01T02:00:00Z"
endsAt: "2026-12-01T04:00:00Z"
`;

const SUNDAYS = `---
apiVersion: sloe/v1
kind: Silence
name: sunday-maintenance
owner: alice
reason: weekly maintenance
matchers: ["service = checkout"]
every: weekly
days: [sun]
from: "02:00"
to: "04:00"
timezone: Europe/Berlin
`;

const breach = (model: string): SloFrame => ({
  status: 'data',
  instances: [{ labels: { model }, value: 9, state: 'breach', severity: 'page', message: '9 > 5' }],
});
const ok = (model: string): SloFrame => ({
  status: 'data',
  instances: [{ labels: { model }, value: 1, state: 'ok', severity: 'page', message: '1' }],
});
const every = (from: number, to: number) => Array.from({ length: (to - from) / MIN + 1 }, (_, i) => from + i * MIN);
const ids = { token: () => 't', traceId: () => 'x' };

describe('matchers', () => {
  it('parses = != =~ !~ and anchors regular expressions', () => {
    const target = {
      service: 'checkout',
      slo: 'latency-p95',
      signal: 'latency',
      severity: 'page' as const,
      labels: { model: 'opus' },
    };
    const m = (...texts: string[]) => ({
      matchers: texts.map((t) => parseMatcher(t) as Exclude<ReturnType<typeof parseMatcher>, Error>),
    });
    expect(
      silenceMatches(m('service = checkout', 'slo =~ latency-.*', 'model != sonnet', 'severity !~ tick.*'), target),
    ).toBe(true);
    expect(silenceMatches(m('slo =~ latency'), target)).toBe(false);
    expect(silenceMatches(m('model = sonnet'), target)).toBe(false);
    expect(silenceMatches(m('region = ""'), target)).toBe(true);
    expect(parseMatcher('slo =~ (')).toBeInstanceOf(Error);
    expect(parseMatcher('service checkout')).toBeInstanceOf(Error);
  });
});

describe('a weekly window in Europe/Berlin across the DST change of 2026-10-25', () => {
  let config: Config;
  beforeAll(async () => {
    config = await configFromText(POLICY + SUNDAYS);
  });

  it('covers Sunday 02:00–04:00 local time: 00:00–02:00Z in summer time, 01:00–03:00Z on and after the change', () => {
    const w = config.silences[0]!.window;
    const at = (iso: string) => windowAt(w, Date.parse(iso));
    expect(at('2026-10-18T00:30:00Z')).toEqual({
      start: Date.parse('2026-10-18T00:00:00Z'),
      end: Date.parse('2026-10-18T02:00:00Z'),
    });
    expect(at('2026-10-18T02:00:00Z')).toBeUndefined();
    // 02:00 happens twice on the 25th; the window runs from the second (CET) to 04:00 CET.
    expect(at('2026-10-25T02:30:00Z')).toEqual({
      start: Date.parse('2026-10-25T01:00:00Z'),
      end: Date.parse('2026-10-25T03:00:00Z'),
    });
    expect(at('2026-10-25T00:30:00Z')).toBeUndefined();
    expect(at('2026-11-01T01:00:00Z')).toEqual({
      start: Date.parse('2026-11-01T01:00:00Z'),
      end: Date.parse('2026-11-01T03:00:00Z'),
    });
    expect(at('2026-10-26T01:30:00Z')).toBeUndefined();
  });

  it('holds the steps in backtest until the window ends, on either side of the change', () => {
    const slo = config.slos[0]!;
    const policy = config.policies.get('default')!;
    const holds = silencer(config.silences);
    const steps = (fired: string, until: string) => {
      const from = Date.parse(fired);
      const to = Date.parse(until);
      const [instance] = replay(
        slo,
        policy,
        every(from, to),
        (t) => (t < to - 5 * MIN ? breach('opus') : ok('opus')),
        undefined,
        holds,
      );
      const [incident] = instance!.incidents;
      return {
        held: incident!.held?.until,
        steps: incident!.steps.map((s) => [new Date(s.at).toISOString(), s.notify]),
      };
    };
    expect(steps('2026-10-18T01:00:00Z', '2026-10-18T03:00:00Z')).toEqual({
      held: Date.parse('2026-10-18T02:00:00Z'),
      steps: [
        ['2026-10-18T02:00:00.000Z', 'slack'],
        ['2026-10-18T02:10:00.000Z', 'pagerduty'],
      ],
    });
    expect(steps('2026-10-25T01:30:00Z', '2026-10-25T04:00:00Z')).toEqual({
      held: Date.parse('2026-10-25T03:00:00Z'),
      steps: [
        ['2026-10-25T03:00:00.000Z', 'slack'],
        ['2026-10-25T03:10:00.000Z', 'pagerduty'],
      ],
    });
    // An hour after the change's window ended in summer time, the same local hours are still silenced.
    expect(steps('2026-10-25T02:30:00Z', '2026-10-25T04:00:00Z').held).toBe(Date.parse('2026-10-25T03:00:00Z'));
  });
});

describe('a fixed silence', () => {
  let config: Config;
  let slo: Slo;
  let policy: EscalationPolicy;
  beforeAll(async () => {
    config = await configFromText(POLICY + MIGRATION);
    slo = config.slos[0]!;
    policy = config.policies.get('default')!;
  });
  const start = Date.parse('2026-12-01T02:00:00Z');

  it('sends no step while it lasts, and none at all when the incident resolves before it ends (backtest)', () => {
    const times = every(start + 10 * MIN, start + 90 * MIN);
    const [instance] = replay(
      slo,
      policy,
      times,
      (t) => (t < start + 60 * MIN ? breach('opus') : ok('opus')),
      undefined,
      silencer(config.silences),
    );
    expect(instance!.incidents).toEqual([
      expect.objectContaining({ firedAt: start + 10 * MIN, resolvedAt: start + 60 * MIN, steps: [] }),
    ]);
    expect(instance!.incidents[0]!.held).toEqual({
      by: 'silence db-migration (alice)',
      reason: 'planned database migration',
      until: start + 2 * HOUR,
    });
  });

  it('escalates from the first step when the incident still breaches as it ends, in run and backtest alike', () => {
    const times = every(start + 100 * MIN, start + 3 * HOUR);
    const holds = silencer(config.silences);
    const [instance] = replay(slo, policy, times, () => breach('opus'), undefined, holds);
    expect(instance!.incidents[0]!.steps.map((s) => [(s.at - start) / MIN, s.notify])).toEqual([
      [120, 'slack'],
      [130, 'pagerduty'],
    ]);
    // run: the stored escalation counts its steps from the end of the silence, and the audit says who silenced it.
    const d = decide(
      slo,
      policy,
      { rev: 0, evaluatedAt: 0, instances: {}, resets: [] },
      breach('opus'),
      start + 100 * MIN,
      ids,
      holds,
    );
    expect(d.ops[0]).toMatchObject({
      op: 'open',
      fields: { escalatedAt: String(start + 2 * HOUR), heldUntil: String(start + 2 * HOUR) },
    });
    const op = d.ops[0]!;
    expect(op.op === 'open' && JSON.parse(op.held!)).toMatchObject({
      type: 'note',
      detail: expect.stringMatching(
        /^silenced by silence db-migration \(alice\): planned database migration; steps start 2026-12-01T04:00:00.000Z/,
      ),
    });
  });

  it('does not hold what its matchers exclude', () => {
    const [instance] = replay(
      slo,
      policy,
      every(start + 10 * MIN, start + 30 * MIN),
      () => breach('sonnet'),
      undefined,
      silencer(config.silences),
    );
    expect(instance!.incidents[0]!.held).toBeUndefined();
    expect(instance!.incidents[0]!.steps.map((s) => (s.at - start) / MIN)).toEqual([10, 20]);
  });

  it('holds the steps of an incident that fired before it began until it ends', () => {
    const [instance] = replay(
      slo,
      policy,
      every(start - 5 * MIN, start + 3 * HOUR),
      () => breach('opus'),
      undefined,
      silencer(config.silences),
    );
    expect(instance!.incidents[0]!.steps.map((s) => [(s.at - start) / MIN, s.notify])).toEqual([
      [-5, 'slack'],
      [120, 'pagerduty'],
    ]);
  });
});

describe('validate', () => {
  const load = (yaml: string, now = Date.parse('2026-11-28T00:00:00Z')) =>
    check(parseSource('slos.yaml', yaml).docs, { now });

  it('rejects an unbounded silence, with its position', () => {
    const r = load(POLICY + MIGRATION.replace('endsAt: "2026-12-01T04:00:00Z"\n', ''));
    expect(r.problems.map((p) => `${p.line}:${p.col}: ${p.message}`)).toEqual([
      expect.stringMatching(/^\d+:\d+: unbounded silence: endsAt is missing/),
    ]);
    const none = load(POLICY + MIGRATION.replace(/startsAt.*\nendsAt.*\n/, ''));
    expect(none.problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/^unbounded silence: give startsAt and endsAt, or a recurring window/),
    ]);
  });

  it('warns of an expired silence and of one that matches no SLO', () => {
    expect(load(POLICY + MIGRATION).warnings).toEqual([]);
    const expired = load(POLICY + MIGRATION, Date.parse('2026-12-02T00:00:00Z'));
    expect(expired.problems).toEqual([]);
    expect(expired.warnings.map((w) => w.message)).toEqual([
      'silence "db-migration" has expired (it ended 2026-12-01T04:00:00.000Z): remove it',
    ]);
    const nothing = load(POLICY + MIGRATION.replace('service = checkout', 'service = payments'));
    expect(nothing.warnings.map((w) => `${w.line}: ${w.message}`)).toEqual([
      expect.stringMatching(
        /^\d+: silence "db-migration" matches no SLO \(service = payments, slo =~ latency-\.\*, model != sonnet\)$/,
      ),
    ]);
    expect(load(POLICY + SUNDAYS.replace('service = checkout', 'severity = info')).warnings).toHaveLength(1);
  });
});
