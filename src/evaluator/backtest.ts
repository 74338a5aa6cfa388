/**
 * Replays the alert state machine over history: the frames of each step time (`loadFrames` in evaluate.ts fetches
 * everything once and judges each step with the same frame code `run` uses) go through the same transition
 * function as `run`'s, and each incident's escalation steps are laid on the timeline.
 */
import { RANDOM_IDS } from '../incident/events.js';
import type { IncidentReason } from '../incident/model.js';
import type { EscalationPolicy, Severity, Slo } from '../rules/model.js';
import { planEscalations } from '../rules/plan.js';
import { type Hold, type Holds, NO_HOLDS, type SilenceTarget } from '../rules/silence.js';
import type { FrameSource, SloFrame } from './frame.js';
import { type Labels, labelsKey } from './labels.js';
import type { InstanceState } from './state.js';
import { transition } from './transition.js';

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
  /**
   * Each new escalation after the firing, as `run` makes it: a raise to a higher severity, or a change of reason at
   * the same severity (no data, then a breach). Either starts the steps of its severity over.
   */
  escalations: Array<{ at: number; severity: Severity; reason: IncidentReason; raised: boolean; held?: Hold }>;
  /** A silence held the firing's steps: they start from the first when it ends. */
  held?: Hold;
  steps: BacktestStep[];
  /** The group it leads or follows (its policy's `group:`; see backtest-groups.ts). */
  group?: BacktestGroup;
}

/** An incident's group in a backtest: its leader's steps are the group's; a member runs none of its own. */
export interface BacktestGroup {
  role: 'leader' | 'member';
  leader: { sloId: string; labels: Labels; firedAt: number };
  /** How many incidents the group has, the leader among them. */
  size: number;
  /** A member raised to a severity its group does not carry leaves it then and escalates on its own. */
  leftAt?: number;
}

export interface BacktestInstance {
  labels: Labels;
  incidents: BacktestIncident[];
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
  holds: Holds = NO_HOLDS,
): BacktestInstance[] {
  let states: Record<string, InstanceState> = {};
  const incidents = new Map<string, { labels: Labels; list: BacktestIncident[] }>();
  const open = new Map<string, BacktestIncident>();
  // What silences are matched against (labels: the SLO's and the instance's).
  const targets = new Map<BacktestIncident, Omit<SilenceTarget, 'severity'>>();
  // The keys of the instances while every one is ok with data (undefined otherwise), and the calm label sets last
  // found to be those instances: a calm step with the same instances changes nothing.
  let okKeys: Set<string> | undefined;
  let sameAsOk: readonly Labels[] | undefined;
  const calm = onFrame ? undefined : frameAt.calm;
  for (const t of times) {
    const quiet = calm?.(t);
    if (quiet !== undefined && okKeys !== undefined) {
      if (quiet === sameAsOk) continue;
      if (quiet.length === okKeys.size && quiet.every((l) => okKeys!.has(labelsKey(l)))) {
        sameAsOk = quiet;
        continue;
      }
    }
    const frame = frameAt(t);
    onFrame?.(t, frame);
    if (steady(frame, states)) continue;
    const { instances, events } = transition(slo, states, frame, t, RANDOM_IDS, [], holds);
    states = instances;
    okKeys = allOk(states);
    sameAsOk = undefined;
    for (const e of events) {
      if (e.type === 'opened') {
        const target = {
          service: slo.service,
          slo: slo.name,
          signal: slo.signal,
          labels: { ...slo.labels, ...e.labels },
        };
        const incident: BacktestIncident = {
          severity: e.severity,
          reason: e.reason,
          firedAt: t,
          resolvedAt: null,
          message: e.message,
          escalations: [],
          steps: [],
          ...(e.held ? { held: e.held } : {}),
        };
        targets.set(incident, target);
        open.set(e.key, incident);
        const entry = incidents.get(e.key) ?? { labels: e.labels, list: [] };
        entry.list.push(incident);
        incidents.set(e.key, entry);
      } else if (e.type === 'raised' || e.type === 'reason-changed') {
        const incident = open.get(e.key);
        if (!incident) continue;
        incident.escalations.push({
          at: t,
          severity: e.severity,
          reason: e.reason,
          raised: e.type === 'raised',
          ...(e.held ? { held: e.held } : {}),
        });
        incident.severity = e.severity;
        incident.reason = e.reason;
      } else {
        const incident = open.get(e.key);
        if (incident) incident.resolvedAt = t;
        open.delete(e.key);
      }
    }
  }
  const until = times[times.length - 1] ?? 0;
  for (const { list } of incidents.values())
    for (const incident of list) incident.steps = incidentSteps(incident, policy, until, holds, targets.get(incident)!);
  return [...incidents.values()].map(({ labels, list }) => ({ labels, incidents: list }));
}

/** The keys of the instances when every one is ok and has data, else undefined. */
function allOk(states: Readonly<Record<string, InstanceState>>): Set<string> | undefined {
  const keys = new Set<string>();
  for (const key in states) {
    const s = states[key]!;
    if (s.phase !== 'ok' || s.noDataSince !== undefined) return undefined;
    keys.add(key);
  }
  return keys;
}

/** True when every instance is healthy now and was healthy before: the step changes nothing. */
function steady(frame: SloFrame, states: Readonly<Record<string, InstanceState>>): boolean {
  if (frame.status !== 'data') return false;
  let n = 0;
  for (const _ in states) n++;
  if (frame.instances.length !== n) return false;
  for (const r of frame.instances) {
    if (r.state !== 'ok') return false;
    const s = states[labelsKey(r.labels)];
    if (s?.phase !== 'ok' || s.noDataSince !== undefined) return false;
  }
  return true;
}

/**
 * The steps an incident runs until it resolves (or `end`, when it leads a group whose last member resolves later),
 * or the timeline ends at `until`.
 */
export function incidentSteps(
  incident: BacktestIncident,
  policy: EscalationPolicy | undefined,
  until: number,
  holds: Holds,
  target: Omit<SilenceTarget, 'severity'>,
  end = incident.resolvedAt ?? Infinity,
): BacktestStep[] {
  if (!policy) return [];
  // Severity only rises, and there are two: an incident raised since fired as a ticket.
  const fired: Severity = incident.escalations.some((e) => e.raised) ? 'ticket' : incident.severity;
  // A held escalation's steps count from the end of its hold, as `run` stores it (escalatedAt).
  const escalations = [
    { severity: fired, from: incident.held?.until ?? incident.firedAt, start: incident.firedAt },
    ...incident.escalations.map((e) => ({ severity: e.severity, from: e.held?.until ?? e.at, start: e.at })),
  ];
  return planEscalations(policy, escalations, Math.min(end, until + 1), (s, at) =>
    holds({ ...target, severity: s }, at),
  ).map((s) => ({
    notify: s.step.notify,
    at: s.at,
    severity: s.severity,
    index: s.index,
    target: s.step.notify === 'slack' ? s.step.channel : s.step.notify === 'oncall' ? s.step.schedule : s.step.severity,
    round: s.round,
  }));
}
