/**
 * What one evaluation does to incidents, as data: an incident opened, raised to a higher severity, changed its
 * reason at the same severity (missing data that turned into a breach), or resolved. `run` encodes these for the
 * store; `backtest` folds them into its timeline. Both get them from the same transition function.
 */
import type { Severity } from '../rules/model.js';
import type { Hold } from '../rules/silence.js';
import { type IncidentReason, newToken, newTraceId } from './model.js';

interface EventBase {
  /** The SLO id and the instance's labels: identifies the instance across SLOs. */
  instanceKey: string;
  /** The instance's labels key within its SLO. */
  key: string;
  at: number;
}

/** A new escalation of an open incident: a new token, its steps planned from `at`. */
interface Escalation extends EventBase {
  severity: Severity;
  reason: IncidentReason;
  message: string;
  token: string;
  /** What the incident was before. */
  from: { severity: Severity; reason: IncidentReason };
  /** A silence holds the escalation: its steps start from the first when the hold ends. */
  held?: Hold;
}

export type IncidentEvent =
  | (EventBase & {
      type: 'opened';
      id: string;
      /** The instance's own labels (without the SLO's). */
      labels: Record<string, string>;
      severity: Severity;
      reason: IncidentReason;
      message: string;
      token: string;
      traceId: string;
      /** A silence holds the escalation: its steps start from the first when the hold ends. */
      held?: Hold;
    })
  /** The severity rose (ticket to page). */
  | (Escalation & { type: 'raised' })
  /** Same severity, another reason (no data, then a breach at that severity): the steps start over. */
  | (Escalation & { type: 'reason-changed' })
  | (EventBase & { type: 'resolved' });

/** Where the ids of new incidents and escalations come from: random in `run`, counters in tests. */
export interface IncidentIds {
  token(): string;
  traceId(): string;
}

/** The ids `run` gives new incidents and escalations: random. */
export const RANDOM_IDS: IncidentIds = { token: newToken, traceId: newTraceId };
