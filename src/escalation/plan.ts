/** Which escalation steps an incident runs, and when: `after` counts from the moment the incident fires. */
import type { EscalationPolicy, Severity, Step } from '../rules/model.js';

export interface PlannedStep {
  /** Position of the step in the policy's list for `severity`. */
  index: number;
  severity: Severity;
  step: Step;
  /** When the step runs (unix ms). */
  at: number;
}

/** The steps of a policy for a severity, each at `from + after`, in the order they run. */
export function planSteps(policy: EscalationPolicy, severity: Severity, from: number): PlannedStep[] {
  return policy[severity]
    .map((step, index) => ({ index, severity, step, at: from + step.afterMs }))
    .sort((a, b) => a.at - b.at || a.index - b.index);
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
