import { describe, expect, it } from 'vitest';
import { type Change, parseCondition } from '../../src/rules/condition.js';
import { type Comparison, verdict, verdictMarkdown } from '../../src/gate/verdict.js';

const when = (text: string) => parseCondition(text) as Change;
const latency = (base: number, cand: number, events = [500, 500]): Comparison => ({
  slo: 'latency-p95',
  when: when('rise > 20%'),
  minEvents: 100,
  baseline: { value: base, events: events[0]! },
  candidate: { value: cand, events: events[1]! },
});
const evalScore = (base: number, cand: number, events = [500, 500]): Comparison => ({
  slo: 'eval-score',
  when: when('drop > 2'),
  minEvents: 100,
  baseline: { value: base, events: events[0]! },
  candidate: { value: cand, events: events[1]! },
});

describe('the rollout gate verdict', () => {
  it.each([
    ['a candidate within every condition is promoted', [latency(2, 2.3), evalScore(80, 79)], 'promote', 0],
    ['latency 25% over the baseline rolls back', [latency(2, 2.5), evalScore(80, 80)], 'rollback', 1],
    ['an eval score 3 points down rolls back', [latency(2, 2), evalScore(80, 77)], 'rollback', 1],
    ['too few candidate events is not enough data', [latency(2, 2, [500, 40]), evalScore(80, 80)], 'insufficient', 3],
    [
      'a clear regression rolls back even while another SLO lacks data',
      [latency(2, 3), evalScore(80, 80, [500, 10])],
      'rollback',
      1,
    ],
    ['nothing to compare is not enough data', [], 'insufficient', 3],
  ] as const)('%s', (_name, comparisons, outcome, exitCode) => {
    const v = verdict(comparisons);
    expect(v.outcome).toBe(outcome);
    expect(v.exitCode).toBe(exitCode);
    expect(v.checks).toHaveLength(comparisons.length);
  });

  it('says why, per SLO, and renders markdown with every check', () => {
    const v = verdict([latency(2, 2.5), evalScore(80, 80, [500, 10])]);
    expect(v.checks.map((c) => [c.outcome, c.reason])).toEqual([
      ['rollback', '2.5 against baseline 2: rise > 20%'],
      ['insufficient', 'candidate has 10 of the 100 events needed (minEvents)'],
    ]);
    const md = verdictMarkdown(v, 'answer_v2', 'answer_v1', '30m');
    expect(md.split('\n')[0]).toBe('### answer_v2 against answer_v1 over 30m: **roll back**');
    expect(md).toContain(
      '| latency-p95 | 2 (500) | 2.5 (500) | rise > 20% | roll back | 2.5 against baseline 2: rise > 20% |',
    );
  });
});
