/**
 * The work an incident brings about, as queued: escalation steps (delayed, one job per step) and updates of the
 * channels that took part in it. The scheduler stores them; escalation runs them.
 */
import type { Severity } from '../rules/model.js';
import type { Hold } from '../rules/silence.js';

/**
 * A change of an incident that channels which took part in it reflect (update the message, resolve the event).
 * `grouped`: a member of the incident's group fired, changed or resolved: its message shows the group as it is now.
 */
export type IncidentUpdate = 'acknowledged' | 'resolved' | 'escalated' | 'snoozed' | 'note' | 'grouped';

export interface StepJob {
  incidentId: string;
  token: string;
  severity: Severity;
  index: number;
  /** When the step was due (firedAt + after). */
  at: number;
  /** The n-th repetition of the step (a policy's `repeat`); absent for its first run. */
  round?: number;
}

export interface UpdateJob {
  incidentId: string;
  update: IncidentUpdate;
  text?: string;
  /** Where the change came from; the channel of that name is not told again. */
  origin?: string;
  /** Makes the update's delivery key unique (an incident may be snoozed twice). */
  seq: string;
  /** Not before then (unix ms): changes of a group within a second are shown by one update at its end. */
  at?: number;
}

/**
 * The note in the Slack thread of the dependency whose page holds `dependent`, or undefined when the hold is not a
 * dependency's (a silence). Its `seq` makes it one note per held incident, whether the evaluation that opened the
 * incident or a step held later notices the hold first.
 */
export function heldNoteUpdate(dependent: { sloId: string; id: string }, hold: Hold): UpdateJob | undefined {
  if (!hold.cause?.incidentId) return undefined;
  return {
    incidentId: hold.cause.incidentId,
    update: 'note',
    text: `held: ${dependent.sloId} (incident ${dependent.id}) pages while this incident does: caused by ${hold.by}? Its steps wait: ${hold.reason}`,
    origin: 'sloe',
    seq: `held.${dependent.id}`,
  };
}
