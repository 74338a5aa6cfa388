/**
 * Grouping in backtests (a policy's `group:`), as `run` groups: the members of a group run no steps of their own, a
 * leader's steps go on while its group fires, and the group shows in the output.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { replay } from '../../src/evaluator/backtest.js';
import { groupReplays } from '../../src/evaluator/backtest-groups.js';
import type { SloFrame } from '../../src/evaluator/frame.js';
import type { Config } from '../../src/rules/model.js';
import { NO_HOLDS } from '../../src/rules/silence.js';
import { configFromText } from '../support/rules.js';

const MIN = 60_000;
const T0 = Date.parse('2026-12-01T00:00:00Z');

const specs = (group: string) => `apiVersion: sloe/v1
kind: EscalationPolicy
name: default
${group}
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
  - name: errors
    signal: error_rate
    dashboard: main
    query: max(errors)
    objective: "< 3"
    alert: { when: "> 5", for: 0s, resolveAfter: 0s, severity: page }
`;

/** Which models breach at `t` (minutes after T0): [model, from, to) in minutes. */
const breaching =
  (windows: Array<[string, number, number]>) =>
  (t: number): SloFrame => ({
    status: 'data',
    instances: windows.map(([model, from, to]) => {
      const on = t >= T0 + from * MIN && t < T0 + to * MIN;
      return {
        labels: { model },
        value: on ? 9 : 1,
        state: on ? 'breach' : 'ok',
        severity: 'page',
        message: on ? '9 > 5' : '1',
      };
    }),
  });
const times = Array.from({ length: 61 }, (_, i) => T0 + i * MIN);

async function backtest(group: string, windows: Array<[string, number, number]>, errors?: [number, number]) {
  const config: Config = await configFromText(specs(group));
  const policy = config.policies.get('default')!;
  const [latency, errorRate] = config.slos;
  const replayed = [{ slo: latency!, instances: replay(latency!, policy, times, breaching(windows)) }];
  if (errors) {
    const frame = breaching([['-', ...errors]]);
    const stripped = (t: number): SloFrame => {
      const f = frame(t);
      return f.status === 'data' ? { ...f, instances: f.instances.map((i) => ({ ...i, labels: {} })) } : f;
    };
    replayed.push({ slo: errorRate!, instances: replay(errorRate!, policy, times, stripped) });
  }
  const grouped = groupReplays(replayed, config.policies, times.at(-1)!, NO_HOLDS);
  return {
    replayed,
    grouped,
    incidents: grouped.flatMap((r) =>
      r.instances.flatMap((i) => i.incidents.map((inc) => ({ slo: r.slo.name, labels: i.labels, inc }))),
    ),
  };
}

const stepsOf = (inc: { steps: Array<{ notify: string; at: number }> }) =>
  inc.steps.map((s) => `${s.notify}@${(s.at - T0) / MIN}m`);

describe('backtest grouping', () => {
  let none: Awaited<ReturnType<typeof backtest>>;
  beforeAll(async () => {
    none = await backtest('', [
      ['opus', 5, 40],
      ['haiku', 6, 40],
      ['sonnet', 7, 40],
    ]);
  });

  it('without group: each of three models breaching together runs its own steps (three pages)', () => {
    expect(none.incidents.map((i) => stepsOf(i.inc))).toEqual([
      ['slack@5m', 'pagerduty@15m'],
      ['slack@6m', 'pagerduty@16m'],
      ['slack@7m', 'pagerduty@17m'],
    ]);
    expect(none.incidents.every((i) => i.inc.group === undefined)).toBe(true);
  });

  it('with group: the three models are one page: the first leads, the others follow its steps', async () => {
    const { incidents, replayed } = await backtest('group: { by: [service, slo], wait: 5m }', [
      ['opus', 5, 40],
      ['haiku', 6, 40],
      ['sonnet', 7, 40],
    ]);
    const byModel = Object.fromEntries(incidents.map((i) => [i.labels.model, i.inc]));
    expect(stepsOf(byModel.opus!)).toEqual(['slack@5m', 'pagerduty@15m']);
    expect(byModel.opus!.group).toEqual({
      role: 'leader',
      leader: { sloId: 'checkout/latency-p95', labels: { model: 'opus' }, firedAt: T0 + 5 * MIN },
      size: 3,
    });
    for (const model of ['haiku', 'sonnet']) {
      expect(byModel[model]!.steps).toEqual([]);
      expect(byModel[model]!.group).toMatchObject({ role: 'member', leader: { labels: { model: 'opus' } }, size: 3 });
    }
    // The replays given are left as they were (backtest --base shares them between its two sides).
    expect(
      replayed[0]!.instances.every((i) =>
        i.incidents.every((inc) => inc.group === undefined && inc.steps.length === 2),
      ),
    ).toBe(true);
  });

  it('an incident firing after the wait leads a group of its own', async () => {
    const { incidents } = await backtest('group: { wait: 2m }', [
      ['opus', 5, 40],
      ['haiku', 6, 40],
      ['sonnet', 9, 40],
    ]);
    const byModel = Object.fromEntries(incidents.map((i) => [i.labels.model, i.inc]));
    expect(byModel.haiku!.group?.role).toBe('member');
    expect(stepsOf(byModel.sonnet!)).toEqual(['slack@9m', 'pagerduty@19m']);
    expect(byModel.sonnet!.group).toBeUndefined();
  });

  it("the leader resolving first: the group's steps go on while a member fires", async () => {
    const { incidents } = await backtest('group: { wait: 5m }', [
      ['opus', 5, 8],
      ['haiku', 6, 40],
    ]);
    const byModel = Object.fromEntries(incidents.map((i) => [i.labels.model, i.inc]));
    expect(byModel.opus!.resolvedAt).toBe(T0 + 8 * MIN);
    expect(stepsOf(byModel.opus!)).toEqual(['slack@5m', 'pagerduty@15m']);
    expect(byModel.haiku!.steps).toEqual([]);
  });

  it('by: [service] groups the SLOs of a service; by [service, slo] does not', async () => {
    const service = await backtest('group: { by: [service], wait: 5m }', [['opus', 5, 40]], [6, 40]);
    expect(service.incidents.map((i) => [i.slo, i.inc.group?.role, i.inc.steps.length])).toEqual([
      ['latency-p95', 'leader', 2],
      ['errors', 'member', 0],
    ]);
    const slo = await backtest('group: { wait: 5m }', [['opus', 5, 40]], [6, 40]);
    expect(slo.incidents.map((i) => [i.slo, i.inc.group?.role, i.inc.steps.length])).toEqual([
      ['latency-p95', undefined, 2],
      ['errors', undefined, 2],
    ]);
  });
});
