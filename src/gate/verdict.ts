/**
 * The verdict of a rollout gate: a candidate variant (a prompt or model) against the baseline variant, SLO by SLO,
 * over one window. Pure: the measurements come in, the verdict and its reasons go out, so the same decision serves
 * a CI step, an Argo Rollouts analysis Job and tests.
 */
import { type Change, holds } from '../rules/condition.js';

/** One side of a comparison: the SLI over the window and how many events it rests on. */
export interface Side {
  value: number;
  events: number;
}

/** One SLO compared: `when` is how far the candidate may move from the baseline (`rise > 20%`, `drop > 2`). */
export interface Comparison {
  slo: string;
  when: Change;
  /** The fewest events each side needs before the comparison counts. */
  minEvents: number;
  baseline: Side;
  candidate: Side;
}

export type Outcome = 'promote' | 'rollback' | 'insufficient';

export interface CheckResult {
  slo: string;
  outcome: Outcome;
  baseline: Side;
  candidate: Side;
  condition: string;
  reason: string;
}

export interface Verdict {
  outcome: Outcome;
  /** 0 promote, 1 roll back, 3 not enough data yet. */
  exitCode: 0 | 1 | 3;
  checks: CheckResult[];
}

const EXIT: Record<Outcome, 0 | 1 | 3> = { promote: 0, rollback: 1, insufficient: 3 };

const num = (n: number) => (Number.isFinite(n) ? String(Number(n.toPrecision(4))) : String(n));

/** Judges one comparison. */
export function judge(c: Comparison): CheckResult {
  const base = { slo: c.slo, baseline: c.baseline, candidate: c.candidate, condition: c.when.text };
  const short = [
    c.baseline.events < c.minEvents ? `baseline has ${c.baseline.events}` : '',
    c.candidate.events < c.minEvents ? `candidate has ${c.candidate.events}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  if (short)
    return { ...base, outcome: 'insufficient', reason: `${short} of the ${c.minEvents} events needed (minEvents)` };
  if (Number.isNaN(c.baseline.value) || Number.isNaN(c.candidate.value))
    return { ...base, outcome: 'insufficient', reason: 'no value for one side' };
  const breached = holds(c.when, c.candidate.value, c.baseline.value);
  return {
    ...base,
    outcome: breached ? 'rollback' : 'promote',
    reason: `${num(c.candidate.value)} against baseline ${num(c.baseline.value)}: ${breached ? '' : 'not '}${c.when.text}`,
  };
}

/**
 * The gate's verdict: roll back when any SLO regressed beyond its condition (a clear regression needs no more data);
 * otherwise not enough data while any SLO lacks events; otherwise promote.
 */
export function verdict(comparisons: readonly Comparison[]): Verdict {
  const checks = comparisons.map(judge);
  const outcome: Outcome = checks.some((c) => c.outcome === 'rollback')
    ? 'rollback'
    : checks.length === 0 || checks.some((c) => c.outcome === 'insufficient')
      ? 'insufficient'
      : 'promote';
  return { outcome, exitCode: EXIT[outcome], checks };
}

const WORDS: Record<Outcome, string> = {
  promote: 'promote',
  rollback: 'roll back',
  insufficient: 'not enough data yet',
};

/** The verdict as a markdown table, for a pull request or a deployment log. */
export function verdictMarkdown(v: Verdict, variant: string, baseline: string, window: string): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const rows = v.checks.map(
    (c) =>
      `| ${cell(c.slo)} | ${num(c.baseline.value)} (${c.baseline.events}) | ${num(c.candidate.value)} (${c.candidate.events}) | ${cell(c.condition)} | ${WORDS[c.outcome]} | ${cell(c.reason)} |`,
  );
  return [
    `### ${cell(variant)} against ${cell(baseline)} over ${cell(window)}: **${WORDS[v.outcome]}**`,
    '',
    '| SLO | baseline (events) | candidate (events) | regression when | outcome | why |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
