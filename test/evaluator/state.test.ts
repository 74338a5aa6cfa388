import { describe, expect, it } from 'vitest';
import { type InstanceState, type Observation, type StatePolicy, advance } from '../../src/evaluator/state.js';

const MIN = 60_000;
const policy: StatePolicy = { forMs: 5 * MIN, resolveAfterMs: 5 * MIN, noData: 'alert', noDataForMs: 10 * MIN };
const breach: Observation = { kind: 'value', breach: true, severity: 'page', message: 'breach' };
const healthy: Observation = { kind: 'value', breach: false, severity: 'page', message: 'ok' };
const nodata: Observation = { kind: 'nodata', message: 'no data' };

/** Feeds one observation a minute and returns the transitions as "minute:type[:severity:reason]". */
function run(observations: Observation[], p: Partial<StatePolicy> = {}): string[] {
  let state: InstanceState | undefined;
  const out: string[] = [];
  observations.forEach((obs, minute) => {
    const r = advance(state, {}, obs, { ...policy, ...p }, minute * MIN);
    state = r.state;
    for (const t of r.transitions)
      out.push(t.type === 'resolved' ? `${minute}:resolved` : `${minute}:${t.type}:${t.severity}:${t.reason}`);
  });
  return out;
}

const repeat = (obs: Observation, n: number) => Array.from({ length: n }, () => obs);

describe('the alert state machine', () => {
  it.each([
    [
      'a breach held for `for` fires once, and resolves after resolveAfter of health',
      [...repeat(breach, 8), ...repeat(healthy, 7)],
      {},
      ['5:fired:page:breach', '13:resolved'],
    ],
    ['a breach shorter than `for` does not fire', [...repeat(breach, 5), ...repeat(healthy, 3)], {}, []],
    [
      'without `for` a breach fires at once',
      [breach, healthy],
      { forMs: 0, resolveAfterMs: 0 },
      ['0:fired:page:breach', '1:resolved'],
    ],
    [
      'health shorter than resolveAfter keeps the incident open',
      [...repeat(breach, 6), ...repeat(healthy, 4), ...repeat(breach, 2), ...repeat(healthy, 6)],
      {},
      ['5:fired:page:breach', '17:resolved'],
    ],
    ['missing data opens a ticket after noDataFor', repeat(nodata, 12), {}, ['10:fired:ticket:nodata']],
    ['missing data shorter than noDataFor does nothing', [...repeat(nodata, 9), healthy], {}, []],
    [
      'no data with noData: ok reads as healthy',
      [...repeat(breach, 6), ...repeat(nodata, 6)],
      { noData: 'ok' as const },
      ['5:fired:page:breach', '11:resolved'],
    ],
    [
      'no data with noData: keep changes nothing',
      [...repeat(breach, 6), ...repeat(nodata, 30)],
      { noData: 'keep' as const },
      ['5:fired:page:breach'],
    ],
    [
      'no data during an incident keeps it open',
      [...repeat(breach, 6), ...repeat(nodata, 30)],
      {},
      ['5:fired:page:breach'],
    ],
    [
      'a breach after a no-data ticket raises it to page',
      [...repeat(nodata, 11), breach],
      {},
      ['10:fired:ticket:nodata', '11:escalated:page:breach'],
    ],
    [
      'a too-many-series error fires a ticket at once',
      [{ kind: 'error', message: 'too many series' }],
      {},
      ['0:fired:ticket:error'],
    ],
    [
      'a ticket breach raised to page escalates',
      [...repeat({ ...breach, severity: 'ticket' }, 6), breach],
      {},
      ['5:fired:ticket:breach', '6:escalated:page:breach'],
    ],
  ] as const)('%s', (_name, observations, p, expected) => {
    expect(run([...observations], p)).toEqual(expected);
  });

  it('forgets an instance that went away while healthy', () => {
    const r = advance({ labels: { model: 'a' }, phase: 'ok' }, { model: 'a' }, { kind: 'gone' }, policy, 0);
    expect(r.state).toBeUndefined();
  });

  it('resolves an incident whose instance went away, after resolveAfter', () => {
    let state: InstanceState | undefined = {
      labels: {},
      phase: 'firing',
      firedAt: 0,
      severity: 'page',
      reason: 'breach',
    };
    const types: string[] = [];
    for (let m = 1; m <= 6; m++) {
      const r = advance(state, {}, { kind: 'gone' }, policy, m * MIN);
      state = r.state;
      types.push(...r.transitions.map((t) => `${m}:${t.type}`));
    }
    expect(types).toEqual(['6:resolved']);
    expect(state).toBeUndefined();
  });
});
