/**
 * The alert state machine of one SLO instance: pure, so that `backtest` replays exactly what `run` decides.
 * ok → pending (breach, waiting out `for`) → firing (incident open) → resolving (healthy, waiting out
 * `resolveAfter`) → ok. Missing data follows the SLO's `noData` policy; it never reads as healthy unless the SLO
 * says `noData: ok`.
 */
import type { IncidentReason } from '../incident/model.js';
import type { Severity } from '../rules/model.js';
import type { Labels } from './labels.js';

export type { IncidentReason };

export interface InstanceState {
  labels: Labels;
  phase: 'ok' | 'pending' | 'firing';
  /** pending: when the breach began. */
  pendingSince?: number;
  /** firing: when the incident fired. */
  firedAt?: number;
  severity?: Severity;
  reason?: IncidentReason;
  /** firing: healthy since (resolving). */
  healthySince?: number;
  /** Data missing since. */
  noDataSince?: number;
}

/** What one evaluation saw for an instance. */
export type Observation =
  | { kind: 'value'; breach: boolean; severity: Severity; message: string }
  /** The query returned nothing for the SLO, or failed. */
  | { kind: 'nodata'; message: string }
  /** The evaluation is broken in a way that needs a human now (too many series). */
  | { kind: 'error'; message: string }
  /** The query returned other series but not this one: the instance went away. */
  | { kind: 'gone' };

export type Transition =
  | { type: 'fired'; at: number; severity: Severity; reason: IncidentReason; message: string }
  | { type: 'escalated'; at: number; severity: Severity; reason: IncidentReason; message: string }
  | { type: 'resolved'; at: number };

export interface StatePolicy {
  forMs: number;
  resolveAfterMs: number;
  noData: 'alert' | 'ok' | 'keep';
  noDataForMs: number;
}

const RANK: Record<Severity, number> = { ticket: 1, page: 2 };
const NONE: Transition[] = [];

/** The more severe of two severities. */
export function maxSeverity(a: Severity | undefined, b: Severity): Severity {
  return a !== undefined && RANK[a] >= RANK[b] ? a : b;
}

/**
 * Advances one instance by one evaluation at `now`. Returns the new state (undefined when the instance can be
 * forgotten) and what happened.
 */
export function advance(
  previous: InstanceState | undefined,
  labels: Labels,
  obs: Observation,
  policy: StatePolicy,
  now: number,
): { state: InstanceState | undefined; transitions: Transition[] } {
  // The common case, healthy and staying so, changes nothing.
  if (previous?.phase === 'ok' && previous.noDataSince === undefined && obs.kind === 'value' && !obs.breach) {
    return { state: previous, transitions: NONE };
  }
  const s: InstanceState = previous ? { ...previous } : { labels, phase: 'ok' };
  const transitions: Transition[] = [];
  const fire = (severity: Severity, reason: IncidentReason, message: string) => {
    Object.assign(s, {
      phase: 'firing',
      firedAt: now,
      severity,
      reason,
      pendingSince: undefined,
      healthySince: undefined,
    });
    transitions.push({ type: 'fired', at: now, severity, reason, message });
  };
  const healthy = () => {
    if (s.phase === 'pending') {
      s.phase = 'ok';
      s.pendingSince = undefined;
    } else if (s.phase === 'firing') {
      s.healthySince ??= now;
      if (now - s.healthySince >= policy.resolveAfterMs) {
        transitions.push({ type: 'resolved', at: now });
        return { state: { labels: s.labels, phase: 'ok' } as InstanceState, transitions };
      }
    }
    return undefined;
  };

  if (obs.kind === 'nodata' && policy.noData === 'keep') return { state: previous, transitions };
  if (obs.kind === 'nodata' && policy.noData === 'ok')
    obs = { kind: 'value', breach: false, severity: 'ticket', message: obs.message };

  switch (obs.kind) {
    case 'gone':
    case 'value': {
      s.noDataSince = undefined;
      if (obs.kind === 'value' && obs.breach) {
        s.healthySince = undefined;
        if (s.phase === 'firing') {
          if (s.severity === undefined || RANK[obs.severity] > RANK[s.severity] || s.reason !== 'breach') {
            s.severity = maxSeverity(s.severity, obs.severity);
            s.reason = 'breach';
            transitions.push({
              type: 'escalated',
              at: now,
              severity: s.severity,
              reason: 'breach',
              message: obs.message,
            });
          }
        } else if (s.phase === 'pending' && now - s.pendingSince! >= policy.forMs) {
          fire(obs.severity, 'breach', obs.message);
        } else if (s.phase === 'ok') {
          if (policy.forMs <= 0) fire(obs.severity, 'breach', obs.message);
          else Object.assign(s, { phase: 'pending', pendingSince: now });
        }
        return { state: s, transitions };
      }
      const resolved = healthy();
      if (resolved) return obs.kind === 'gone' ? { state: undefined, transitions } : resolved;
      if (obs.kind === 'gone' && s.phase === 'ok') return { state: undefined, transitions };
      return { state: s, transitions };
    }
    case 'nodata': {
      s.noDataSince ??= now;
      if (s.phase === 'pending') {
        s.phase = 'ok';
        s.pendingSince = undefined;
      }
      if (s.phase === 'firing') s.healthySince = undefined;
      else if (now - s.noDataSince >= policy.noDataForMs) fire('ticket', 'nodata', obs.message);
      return { state: s, transitions };
    }
    case 'error':
      if (s.phase !== 'firing') fire('ticket', 'error', obs.message);
      else s.healthySince = undefined;
      return { state: s, transitions };
  }
}
