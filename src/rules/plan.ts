/**
 * Which escalation steps an incident runs, and when: `after` counts from the moment the incident fires; a `repeat`
 * runs the last step (or, on the policy, all page steps) again until the incident is acknowledged or resolved.
 * `run` and `backtest` both plan with these functions: `run` one escalation at a time (a job per step, each run
 * scheduling its repetitions), `backtest` all of an incident's escalations at once (planEscalations).
 */
import type { EscalationPolicy, Severity, Step } from './model.js';
import type { Hold } from './silence.js';

export interface PlannedStep {
  /** Position of the step in the policy's list for `severity`. */
  index: number;
  severity: Severity;
  step: Step;
  /** When the step runs (unix ms). */
  at: number;
  /** 0 for the first run of the step, n for its n-th repetition. */
  round: number;
}

/** The steps of a policy for a severity, each at `from + after`, in the order they run. */
export function planSteps(policy: EscalationPolicy, severity: Severity, from: number, round = 0): PlannedStep[] {
  return policy[severity]
    .map((step, index) => ({ index, severity, step, at: from + step.afterMs, round }))
    .sort((a, b) => a.at - b.at || a.index - b.index);
}

/**
 * The steps a run of `ran` brings about when the policy repeats: the step itself again `repeat` later (a step's
 * own `repeat`), or, after the last page step, all page steps over again, the first of them `repeat` later (the
 * policy's `repeat`). Each repetition is scheduled when the one before it runs, so an acknowledgement stops them.
 */
export function repeatsAfter(policy: EscalationPolicy, ran: Omit<PlannedStep, 'step'>): PlannedStep[] {
  const step = policy[ran.severity][ran.index];
  if (!step) return [];
  if (step.repeatMs) return [{ ...ran, step, at: ran.at + step.repeatMs, round: ran.round + 1 }];
  if (ran.severity !== 'page' || !policy.repeatMs) return [];
  const order = planSteps(policy, 'page', 0);
  if (order[order.length - 1]?.index !== ran.index) return [];
  const first = order[0]!.step.afterMs;
  return planSteps(policy, 'page', ran.at + policy.repeatMs - first, ran.round + 1);
}

/** One escalation of an incident: from its firing, or from a raise or change of reason, until the next one. */
export interface Escalation {
  severity: Severity;
  /** What its steps' `after` counts from: when it started, or when the silence that held it ended. */
  from: number;
  /** When it started (default `from`): the escalation before it ends then. */
  start?: number;
}

/**
 * The steps an incident runs through its escalations, in time order: each escalation's steps from its start, with
 * their repetitions, until the next escalation starts (its steps are stale then) or `end` (resolution, or the end of
 * the timeline), both exclusive. Acknowledgements are not known here: repetitions go on until then. `holdAt` says
 * which silence holds a step due at a time.
 */
export function planEscalations(
  policy: EscalationPolicy,
  escalations: readonly Escalation[],
  end: number,
  holdAt: (severity: Severity, at: number) => Pick<Hold, 'until' | 'cause'> | undefined = () => undefined,
): PlannedStep[] {
  return escalations.flatMap((escalation, i) => {
    const next = escalations[i + 1];
    const stop = Math.min(end, next ? (next.start ?? next.from) : Infinity);
    const out: PlannedStep[] = [];
    // Steps in time order; each that runs may bring its repetitions, which join the queue (it never holds more
    // than one round of the policy).
    const queue = planSteps(policy, escalation.severity, escalation.from);
    for (let s = queue.shift(); s !== undefined && s.at < stop; s = queue.shift()) {
      // A step due while a silence covers the incident waits for its end, as the escalator postpones it (its
      // repetitions then count from when it ran).
      const hold = holdAt(s.severity, s.at);
      if (hold && hold.until > s.at) {
        queue.push({ ...s, at: releasedAt(policy, s, hold) });
        queue.sort((a, b) => a.at - b.at || a.index - b.index);
        continue;
      }
      out.push(s);
      queue.push(...repeatsAfter(policy, s));
      queue.sort((a, b) => a.at - b.at || a.index - b.index);
    }
    return out;
  });
}

/**
 * When a step held until `hold.until` is due again. A silence's end releases it then; a dependency's hold keeps the
 * steps' spacing, so that a released escalation starts from its first step (Slack, then PagerDuty `after` later)
 * rather than sending everything at once.
 */
export function releasedAt(
  policy: EscalationPolicy,
  step: Pick<PlannedStep, 'severity' | 'index'>,
  hold: Pick<Hold, 'until' | 'cause'>,
): number {
  if (!hold.cause) return hold.until;
  const steps = policy[step.severity];
  const first = Math.min(...steps.map((s) => s.afterMs));
  return hold.until + ((steps[step.index]?.afterMs ?? first) - first);
}

/** What a step sends to, for people: `slack #ai-alerts`, `pagerduty (critical)`, `oncall ai-primary`. */
export function describeStep(step: Step): string {
  switch (step.notify) {
    case 'slack':
      return `slack ${step.channel}`;
    case 'pagerduty':
      return `pagerduty (${step.severity})`;
    case 'oncall':
      return `oncall ${step.schedule}`;
  }
}
