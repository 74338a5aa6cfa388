/** An incident: one breach of one SLO instance, from firing to resolution, with its frozen escalation policy. */
import { createHash, randomBytes } from 'node:crypto';
import type { EscalationPolicy, Severity } from '../rules/model.js';

/** Why an incident fires: a breach of the objective, missing data, or an evaluation that needs a human. */
export type IncidentReason = 'breach' | 'nodata' | 'error';

export type IncidentStatus = 'firing' | 'acknowledged' | 'resolved';

/** How long a snooze holds the escalation when the caller names no duration (the API, Slack's *Snooze 1h* button). */
export const DEFAULT_SNOOZE_MS = 3600_000;
/** The longest snooze, whoever asks for it. */
export const MAX_SNOOZE_MS = 24 * 3600_000;

/** What does not change after the incident fires. */
export interface IncidentDoc {
  id: string;
  sloId: string;
  service: string;
  slo: string;
  signal: string;
  labels: Record<string, string>;
  instanceKey: string;
  /** The team owning the service. */
  owner: string;
  dashboard: { id: string; title: string; url?: string; owner: string };
  runbook?: string;
  objective: string | null;
  condition: string;
  firedAt: number;
  traceId: string;
  /** The escalation policy as it was when the incident fired. */
  policy: EscalationPolicy;
}

export interface Incident extends IncidentDoc {
  status: IncidentStatus;
  severity: Severity;
  reason: IncidentReason;
  message: string;
  /** Identifies the current escalation: steps scheduled under another token are stale. */
  token: string;
  /** When the current escalation started (firing, or being raised to page). */
  escalatedAt: number;
  acknowledgedAt?: number;
  acknowledgedBy?: string;
  resolvedAt?: number;
  resolvedBy?: string;
  snoozedUntil?: number;
  /** A silence held the current escalation until then: its steps count from it. */
  heldUntil?: number;
  /** Which silence, and why: `silence db-migration (alice): planned migration`. */
  heldBy?: string;
  /** How many times a raise re-armed the incident after an acknowledgement (PagerDuty keys differ per arming). */
  rearms: number;
  /**
   * Set when the current escalation re-armed an acknowledged incident: who had acknowledged it, when, and as what
   * (an acknowledgement of a ticket, or of missing data, is not one of the page or the breach that followed).
   */
  previousAck?: { by: string; at: number; severity: Severity; reason: IncidentReason };
  /** Where channels put things for this incident (Slack channel and message ts, PagerDuty dedup key…). */
  refs: Record<string, string>;
  /**
   * The incident leading its group (its policy's `group:`), this one's own id when it leads: the leader's message,
   * PagerDuty incident and steps are the group's. Absent when it is in no group.
   */
  group?: string;
}

/** One line of an incident's audit trail. */
export interface AuditEntry {
  at: number;
  type:
    | 'fired'
    | 'escalated'
    | 'step'
    | 'skipped'
    | 'failed'
    | 'acknowledged'
    | 'resolved'
    | 'snoozed'
    | 'note'
    | 'refused';
  /** Who did it (or, for `refused`, tried to): a person (Slack user, PagerDuty user) or `sloe`. */
  by?: string;
  /** The step concerned, e.g. `page.1`. */
  step?: string;
  /** Which repetition of the step (a policy's `repeat`); absent for its first run. */
  round?: number;
  detail: string;
}

/** The id of the incident that an SLO instance fired at `firedAt`: the same on every replica. */
export function incidentId(instanceKey: string, firedAt: number): string {
  return createHash('sha256').update(`${instanceKey}@${firedAt}`).digest('hex').slice(0, 16);
}

export function newToken(): string {
  return randomBytes(6).toString('hex');
}

/** A W3C-style trace id shared by every log line of the incident's work. */
export function newTraceId(): string {
  return randomBytes(16).toString('hex');
}

/** What a re-armed incident had been acknowledged as: `a ticket`, `a ticket (no data)`. */
export function acknowledgedAs(ack: Pick<NonNullable<Incident['previousAck']>, 'severity' | 'reason'>): string {
  return `a ${ack.severity}${ack.reason === 'breach' ? '' : ` (${ack.reason === 'nodata' ? 'no data' : ack.reason})`}`;
}

/** The key of a step within an incident's escalation: `page.1`. */
export function stepKey(severity: Severity, index: number): string {
  return `${severity}.${index}`;
}
