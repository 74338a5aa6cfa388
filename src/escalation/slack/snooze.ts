/**
 * Snooze from Slack: the durations the message's menu offers, their option values (`<incident id>:<duration>`), and
 * the bounds a chosen value must keep (1 minute to 24 hours) whatever a payload says.
 */
import { MAX_SNOOZE_MS } from '../../incident/model.js';
import { parseDuration } from '../../rules/duration.js';

/** The menu's choices: a Prometheus duration and its label. */
export const SNOOZE_CHOICES: ReadonlyArray<readonly [string, string]> = [
  ['30m', '30 minutes'],
  ['1h', '1 hour'],
  ['4h', '4 hours'],
  ['24h', '24 hours'],
];

export const MIN_SNOOZE_MS = 60_000;
/** The bounds as the refusal says them. */
export const SNOOZE_RANGE = '1m–24h';

/** The option value of a choice. */
export function snoozeValue(incidentId: string, duration: string): string {
  return `${incidentId}:${duration}`;
}

/** The incident and duration of a chosen option value, or the incident and what is wrong with the duration. */
export function parseSnoozeValue(
  value: string,
): { incidentId: string; ms: number } | { incidentId: string; problem: string } {
  const colon = value.lastIndexOf(':');
  const incidentId = colon < 0 ? value : value.slice(0, colon);
  const asked = colon < 0 ? '' : value.slice(colon + 1);
  const ms = colon < 0 ? undefined : parseDuration(asked);
  if (ms === undefined || !Number.isFinite(ms) || ms < MIN_SNOOZE_MS || ms > MAX_SNOOZE_MS) {
    // The text as chosen (bounded; the answer escapes it), so that the user sees exactly what was refused.
    const shown = asked === '' ? 'no duration' : JSON.stringify(asked.length > 32 ? `${asked.slice(0, 32)}…` : asked);
    return { incidentId, problem: `Snooze: you asked for ${shown}, the range is ${SNOOZE_RANGE}` };
  }
  return { incidentId, ms };
}
