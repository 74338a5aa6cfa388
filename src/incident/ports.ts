/**
 * What the layers above need of the outside world, as interfaces: where incidents are kept, how people act on them,
 * the time, and where log lines go. Redis implements the store (src/engine/store.ts), the engine the actions;
 * escalation and channels see only these.
 */
import type { Logger } from '../observability/log.js';
import type { AuditEntry, Incident } from './model.js';
import type { Silence, SilenceRequest } from '../rules/silence.js';

export type { Logger };

/** The time, in unix ms. Tests pass one they move. */
export type Clock = () => number;

/**
 * The outcome of an action on an incident: done now, done before (or not applicable), no such incident, or not
 * made because it could not be stored before its deadline (`expired`).
 */
export type IncidentAction = 'done' | 'already' | 'missing' | 'expired';

/**
 * Acknowledge, resolve and snooze: the same for Slack buttons, PagerDuty webhooks and the HTTP API. With a
 * `deadline` (epoch ms) nothing changes once Redis' clock has passed it ('expired'): the one who asked was told it
 * did not happen.
 */
export interface IncidentActions {
  /** Acknowledges a firing incident: its remaining steps will not run. */
  acknowledge(id: string, by: string, via: string, deadline?: number): Promise<IncidentAction>;
  /** Resolves an incident by hand. */
  resolve(id: string, by: string, via: string, deadline?: number): Promise<IncidentAction>;
  /** Holds the escalation of a firing incident for `ms`. */
  snooze(id: string, ms: number, by: string, via: string, deadline?: number): Promise<IncidentAction>;
  /** Makes a run-time silence; an invalid request (no reason, longer than 7 days…) is an Error saying why. */
  silence(request: SilenceRequest, via: string): Promise<{ id: string; silence: Silence } | Error>;
}

/** How long another worker's claim on a delivery still lasts. */
export interface Busy {
  busyMs: number;
}

/** Where incidents, their audit trails and their delivery claims are kept. */
export interface IncidentStore {
  get(id: string): Promise<Incident | undefined>;
  /** Incidents, newest first (only open ones with `open`), at most `limit`. */
  list(options?: { open?: boolean; limit?: number }): Promise<Incident[]>;
  /** One page of incidents, newest first, after the cursor `after`; `more` when another page follows. */
  page(options: {
    open?: boolean;
    limit: number;
    after?: { firedAt: number; id: string };
  }): Promise<{ incidents: Incident[]; more: boolean }>;
  /** The incidents of the group `leader` leads (a policy's `group:`), the leader first; none when it leads none. */
  members(leader: string): Promise<Incident[]>;
  audit(id: string): Promise<AuditEntry[]>;
  addAudit(id: string, entry: AuditEntry): Promise<void>;
  /** Records where channels put things for the incident (a Slack message, a PagerDuty dedup key). */
  setRefs(id: string, refs: Record<string, string>): Promise<void>;
  /**
   * Claims the delivery of one step (or update) so that only one worker sends it: 'claimed' for the caller, 'done'
   * when it was sent before, or how long another worker's claim still lasts. A claim lapses after `ttlMs` unless its
   * holder extends it.
   */
  claimDelivery(id: string, delivery: string, owner: string, ttlMs: number): Promise<'claimed' | 'done' | Busy>;
  /** Extends the caller's claim by `ttlMs`; false when the claim is not the caller's any more (it lapsed). */
  extendDelivery(id: string, delivery: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives up the caller's claim on a delivery that will be tried again later (paced), so that any worker may take it. */
  releaseDelivery(id: string, delivery: string, owner: string): Promise<void>;
  /** Records the outcome of a claimed delivery. */
  finishDelivery(id: string, delivery: string, outcome: 'done' | 'failed'): Promise<void>;
}
