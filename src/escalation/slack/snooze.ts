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

/** The option value of a choice. */
export function snoozeValue(incidentId: string, duration: string): string {
  return `${incidentId}:${duration}`;
}

/** The incident and duration of a chosen option value, or the incident and what is wrong with the duration. */
export function parseSnoozeValue(value: string): { incidentId: string; ms: number } | { incidentId: string; problem: string } {
  const colon = value.lastIndexOf(':');
  const incidentId = colon < 0 ? value : value.slice(0, colon);
  const ms = colon < 0 ? undefined : parseDuration(value.slice(colon + 1));
  if (ms === undefined || !Number.isFinite(ms) || ms < MIN_SNOOZE_MS || ms > MAX_SNOOZE_MS) {
    return { incidentId, problem: 'Snooze takes 1 minute to 24 hours' };
  }
  return { incidentId, ms };
}
