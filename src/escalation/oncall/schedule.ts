/**
 * Who is on call at an instant. Shifts start at `rotation.start` (local time in the schedule's time zone) and last
 * `rotation.every`; whole-day shifts hand off at the same local wall-clock time every time, across DST changes.
 * An override covering the instant wins; when nobody is on call (before the first shift, no members), the fallback.
 */
import { DateTime } from 'luxon';
import type { Member, OnCallSchedule } from '../../rules/model.js';

const DAY_MS = 86_400_000;

export interface OnCall {
  member?: Member;
  /** Why this member: their shift, an override, the fallback; or nobody. */
  source: 'rotation' | 'override' | 'fallback' | 'nobody';
  /** When the current shift (or override) started and ends, when known. */
  from?: number;
  to?: number;
}

function local(schedule: OnCallSchedule, text: string): DateTime {
  return DateTime.fromISO(text, { zone: schedule.timezone });
}

/** The start of shift `k` (k may be negative). */
function shiftStart(schedule: OnCallSchedule, start: DateTime, k: number): number {
  const every = schedule.rotation.everyMs;
  return every % DAY_MS === 0 ? start.plus({ days: (k * every) / DAY_MS }).toMillis() : start.toMillis() + k * every;
}

/** Resolves the schedule at `at` (unix ms). */
export function onCallAt(schedule: OnCallSchedule, at: number): OnCall {
  const byName = new Map(schedule.members.map((m) => [m.name, m]));
  for (const o of [...schedule.overrides].reverse()) {
    const from = local(schedule, o.from).toMillis();
    const to = local(schedule, o.to).toMillis();
    const member = byName.get(o.member);
    if (member && at >= from && at < to) return { member, source: 'override', from, to };
  }
  const start = local(schedule, schedule.rotation.start);
  if (schedule.members.length > 0 && at >= start.toMillis()) {
    // Estimate the shift from elapsed time, then correct for DST (a local day is 23, 24 or 25 hours).
    let k = Math.floor((at - start.toMillis()) / schedule.rotation.everyMs);
    while (k > 0 && shiftStart(schedule, start, k) > at) k--;
    while (shiftStart(schedule, start, k + 1) <= at) k++;
    const member = schedule.members[k % schedule.members.length]!;
    return { member, source: 'rotation', from: shiftStart(schedule, start, k), to: shiftStart(schedule, start, k + 1) };
  }
  const fallback = schedule.fallback !== undefined ? byName.get(schedule.fallback) : undefined;
  return fallback ? { member: fallback, source: 'fallback' } : { source: 'nobody' };
}
