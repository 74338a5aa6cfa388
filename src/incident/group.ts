/**
 * Groups of incidents (a policy's `group:`): incidents of one group that fire within its `wait` share the first
 * one's Slack message, PagerDuty incident and escalation steps. Each member still resolves on its own; the group is
 * firing while one of its members is, and resolved when the last one is.
 */
import type { PolicyGroup } from '../rules/model.js';
import type { UpdateJob } from './jobs.js';
import type { Incident, IncidentStatus } from './model.js';

/** Changes of a group within this long are shown by one update of its message, at the end of that time. */
export const GROUP_REFRESH_MS = 1000;

/** The key incidents of one group share: the policy and the fields it groups by (`ai-default|service=checkout`). */
export function groupKey(policy: string, group: PolicyGroup, of: { service: string; slo: string }): string {
  return [policy, ...group.by.map((field) => `${field}=${of[field]}`)].join('|');
}

/** True when the incident follows another's escalation (it is a member of a group it does not lead). */
export function follows(incident: Pick<Incident, 'id' | 'group'>): boolean {
  return incident.group !== undefined && incident.group !== incident.id;
}

/** The status of a group: firing while a member is, acknowledged while one is and none fires, else resolved. */
export function groupStatus(members: ReadonlyArray<Pick<Incident, 'status'>>): IncidentStatus {
  if (members.some((m) => m.status === 'firing')) return 'firing';
  if (members.some((m) => m.status === 'acknowledged')) return 'acknowledged';
  return 'resolved';
}

/**
 * The update that shows a group as it is at the end of the current GROUP_REFRESH_MS (a member joined, changed or
 * resolved): every change within that time asks for the same update, which is queued once.
 */
export function groupRefresh(leader: string, now: number): UpdateJob {
  const bucket = Math.floor(now / GROUP_REFRESH_MS) + 1;
  return {
    incidentId: leader,
    update: 'grouped',
    seq: `refresh.${bucket}`,
    origin: 'sloe',
    at: bucket * GROUP_REFRESH_MS,
  };
}
