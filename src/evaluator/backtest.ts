/**
 * Replays the alert state machine over history: range queries fetch everything once, then each step is judged by
 * the same frame and state code that `run` uses, and each incident's escalation steps are laid on the timeline.
 */
import { planSteps, repeatsAfter } from '../rules/plan.js';
import type { EscalationPolicy, Severity, Slo } from '../rules/model.js';
import { gcd } from '../util/async.js';
import { ratioGrids } from './evaluate.js';
import { EvaluationError } from './evaluate.js';
import { type SloFrame, observe, ratioFrame, thresholdFrame } from './frame.js';
import { type Labels, labelsKey } from './labels.js';
import type { PrometheusPort, RangeSeries } from './prometheus.js';
import { type IncidentReason, type InstanceState, advance } from './state.js';
import { ratioPlan } from './windows.js';

export interface BacktestStep {
  notify: 'slack' | 'pagerduty' | 'oncall';
  at: number;
  severity: Severity;
  index: number;
  target: string;
  /** 0 for the step's first run, n for its n-th repetition (a policy's `repeat`). */
  round: number;
}

export interface BacktestIncident {
  severity: Severity;
  reason: IncidentReason;
  firedAt: number;
  resolvedAt: number | null;
  message: string;
  escalations: Array<{ at: number; severity: Severity }>;
  steps: BacktestStep[];
}

export interface BacktestInstance {
  labels: Labels;
  incidents: BacktestIncident[];
}

/** A function giving the frame of an SLO at each step time. */
export type FrameSource = (at: number) => SloFrame;

/** Fetches an SLO's history over [from, to] with range queries and returns the frame at any step time. */
export async function loadFrames(port: PrometheusPort, slo: Slo, from: number, to: number, stepMs: number): Promise<FrameSource> {
  if (slo.kind === 'threshold') {
    const fetch = async (q: string) => {
      try {
        return await port.range(q, from, to, stepMs);
      } catch (e) {
        throw new EvaluationError(slo.id, q, e);
      }
    };
    const [values, baselines] = await Promise.all([fetch(slo.query), slo.baseline !== undefined ? fetch(slo.baseline) : undefined]);
    const at = pointsAt(values, from, to, stepMs);
    const baseAt = baselines ? pointsAt(baselines, from, to, stepMs) : undefined;
    return (t) => thresholdFrame(slo, at(t), baseAt?.(t), 'problems');
  }
  const plan = ratioPlan(slo);
  const grid = gcd(stepMs, plan.resMs);
  const start = from - plan.longestMs + plan.resMs;
  const grids = await ratioGrids(port, slo, start, to, grid);
  return (t) => ratioFrame(slo, grids, t, plan.longestMs, 'problems');
}

/** Indexes range series by step so that the samples present at a step time are found directly. */
function pointsAt(series: RangeSeries[], from: number, to: number, stepMs: number) {
  const n = Math.floor((to - from) / stepMs) + 1;
  const columns = series.map((s) => {
    const values = new Float64Array(n).fill(NaN);
    const present = new Uint8Array(n);
    for (let k = 0; k < s.times.length; k++) {
      const i = Math.round((s.times[k]! - from) / stepMs);
      if (i >= 0 && i < n) {
        values[i] = s.values[k]!;
        present[i] = 1;
      }
    }
    return { labels: s.labels, values, present };
  });
  return (t: number) => {
    const i = Math.round((t - from) / stepMs);
    return columns.filter((c) => c.present[i] === 1).map((c) => ({ labels: c.labels, value: c.values[i]! }));
  };
}

/**
 * Runs the state machine over `times` and returns each instance's incidents with the steps its policy would have
 * run: every step at `firedAt + after` (a severity raised to page adds the page steps from then on), with the
 * repetitions of a `repeat` (acknowledgements are not simulated: they repeat until resolution), dropped when the
 * incident resolved first or the step falls after `until`.
 */
export function replay(
  slo: Slo,
  policy: EscalationPolicy | undefined,
  times: readonly number[],
  frameAt: FrameSource,
  onFrame?: (at: number, frame: SloFrame) => void,
): BacktestInstance[] {
  const states = new Map<string, InstanceState>();
  const known = new Map<string, Labels>();
  const incidents = new Map<string, { labels: Labels; list: BacktestIncident[] }>();
  const open = new Map<string, BacktestIncident>();
  for (const t of times) {
    const frame = frameAt(t);
    onFrame?.(t, frame);
    if (steady(frame, states)) continue;
    for (const { key, labels, obs } of observe(frame, known)) {
      const { state, transitions } = advance(states.get(key), labels, obs, slo, t);
      if (state) {
        states.set(key, state);
        known.set(key, labels);
      } else {
        states.delete(key);
        known.delete(key);
      }
      for (const tr of transitions) {
        if (tr.type === 'fired') {
          const incident: BacktestIncident = { severity: tr.severity, reason: tr.reason, firedAt: t, resolvedAt: null, message: tr.message, escalations: [], steps: [] };
          open.set(key, incident);
          const entry = incidents.get(key) ?? { labels, list: [] };
          entry.list.push(incident);
          incidents.set(key, entry);
        } else if (tr.type === 'escalated') {
          const incident = open.get(key);
          if (incident && tr.severity !== incident.severity) {
            incident.escalations.push({ at: t, severity: tr.severity });
            incident.severity = tr.severity;
          }
          if (incident) incident.reason = tr.reason;
        } else {
          const incident = open.get(key);
          if (incident) incident.resolvedAt = t;
          open.delete(key);
        }
      }
    }
  }
  const until = times[times.length - 1] ?? 0;
  for (const { list } of incidents.values()) for (const incident of list) incident.steps = steps(incident, policy, until);
  return [...incidents.values()].map(({ labels, list }) => ({ labels, incidents: list }));
}

/** True when every instance is healthy now and was healthy before: the step changes nothing. */
function steady(frame: SloFrame, states: ReadonlyMap<string, InstanceState>): boolean {
  if (frame.status !== 'data' || frame.instances.length !== states.size) return false;
  for (const r of frame.instances) {
    if (r.state !== 'ok') return false;
    const s = states.get(labelsKey(r.labels));
    if (s?.phase !== 'ok' || s.noDataSince !== undefined) return false;
  }
  return true;
}

function steps(incident: BacktestIncident, policy: EscalationPolicy | undefined, until: number): BacktestStep[] {
  if (!policy) return [];
  // Severity only rises, and there are two: an escalated incident fired as a ticket.
  const fired: Severity = incident.escalations.length > 0 ? 'ticket' : incident.severity;
  const phases = [{ severity: fired, from: incident.firedAt }, ...incident.escalations.map((e) => ({ severity: e.severity, from: e.at }))];
  const end = Math.min(incident.resolvedAt ?? Infinity, until + 1);
  return phases.flatMap((phase, i) => {
    const stop = Math.min(end, phases[i + 1]?.from ?? Infinity);
    const out: BacktestStep[] = [];
    // Steps in time order; each that runs may bring its repetitions, which join the queue (it never holds more
    // than one round of the policy).
    const queue = planSteps(policy, phase.severity, phase.from);
    for (let s = queue.shift(); s !== undefined && s.at < stop; s = queue.shift()) {
      out.push({
        notify: s.step.notify,
        at: s.at,
        severity: s.severity,
        index: s.index,
        target: s.step.notify === 'slack' ? s.step.channel : s.step.notify === 'oncall' ? s.step.schedule : s.step.severity,
        round: s.round,
      });
      queue.push(...repeatsAfter(policy, s));
      queue.sort((a, b) => a.at - b.at || a.index - b.index);
    }
    return out;
  });
}
