/**
 * Grouping in a backtest, as `run` groups (a policy's `group:`): across SLOs, in firing order, an incident joins the
 * latest group of its key when that group's leader fired at most `wait` before and was firing then at its severity
 * or above; else it leads a group of its own. A member runs no steps of its own (a member raised to a severity its
 * group does not carry leaves it then, and runs the steps from there); a leader's steps go on until the last member
 * of its group resolves. Pure: the replays given are not changed.
 */
import { groupKey } from '../incident/group.js';
import type { EscalationPolicy, Severity, Slo } from '../rules/model.js';
import type { Holds } from '../rules/silence.js';
import { type BacktestIncident, type BacktestInstance, incidentSteps } from './backtest.js';
import { type Labels, labelsKey } from './labels.js';

interface Entry {
  slo: Slo;
  labels: Labels;
  incident: BacktestIncident;
  policy: EscalationPolicy;
}

/** The severity of an incident at `t`: the last escalation's by then, or the one it fired with. */
function severityAt(incident: BacktestIncident, t: number): Severity {
  const fired: Severity = incident.escalations.some((e) => e.raised) ? 'ticket' : incident.severity;
  return incident.escalations.filter((e) => e.at <= t).at(-1)?.severity ?? fired;
}

/** Whether a group whose leader is `leader` carries an incident of `severity` at `t` (the leader firing at it or above). */
function carries(leader: BacktestIncident, severity: Severity, t: number): boolean {
  const firing = leader.firedAt <= t && (leader.resolvedAt === null || t < leader.resolvedAt);
  return firing && (severityAt(leader, t) === 'page' || severity !== 'page');
}

/**
 * The replays of a configuration's SLOs with their incidents grouped by their policies; `until` is the timeline's
 * last instant and `holds` the silences (a leader's steps are planned again when its group outlives it).
 */
export function groupReplays<T extends { slo: Slo; instances: BacktestInstance[] }>(
  replayed: readonly T[],
  policies: ReadonlyMap<string, EscalationPolicy>,
  until: number,
  holds: Holds,
): T[] {
  const copies = replayed.map((r) => ({
    ...r,
    instances: r.instances.map((i) => ({ ...i, incidents: i.incidents.map((incident) => ({ ...incident })) })),
  }));
  const entries: Entry[] = copies.flatMap((r) => {
    const policy = policies.get(r.slo.escalation);
    return policy?.group
      ? r.instances.flatMap((i) => i.incidents.map((incident) => ({ slo: r.slo, labels: i.labels, incident, policy })))
      : [];
  });
  const order = (a: Entry, b: Entry) =>
    a.incident.firedAt - b.incident.firedAt ||
    (a.slo.id < b.slo.id ? -1 : a.slo.id > b.slo.id ? 1 : 0) ||
    (labelsKey(a.labels) < labelsKey(b.labels) ? -1 : 1);
  const latest = new Map<string, Entry>();
  const groups = new Map<Entry, Entry[]>();
  for (const entry of entries.sort(order)) {
    const { incident, policy, slo } = entry;
    // A held incident takes no part in grouping (see the APPLY script in engine/store.ts).
    if (incident.held) continue;
    const key = groupKey(policy.name, policy.group!, { service: slo.service, slo: slo.name });
    const leader = latest.get(key);
    if (
      leader &&
      incident.firedAt - leader.incident.firedAt <= policy.group!.waitMs &&
      carries(leader.incident, severityAt(incident, incident.firedAt), incident.firedAt)
    ) {
      groups.get(leader)!.push(entry);
    } else {
      latest.set(key, entry);
      groups.set(entry, [entry]);
    }
  }
  for (const [leader, group] of groups) {
    if (group.length === 1) continue;
    const ref = { sloId: leader.slo.id, labels: leader.labels, firedAt: leader.incident.firedAt };
    const staying: BacktestIncident[] = [leader.incident];
    for (const member of group.slice(1)) {
      const inc = member.incident;
      const leftAt = inc.escalations.find((e) => !carries(leader.incident, e.severity, e.at))?.at;
      inc.steps = leftAt === undefined ? [] : inc.steps.filter((s) => s.at >= leftAt);
      inc.group = { role: 'member', leader: ref, size: group.length, ...(leftAt !== undefined ? { leftAt } : {}) };
      if (leftAt === undefined) staying.push(inc);
    }
    const lead = leader.incident;
    lead.group = { role: 'leader', leader: ref, size: group.length };
    // The group's steps go on while a member fires, though its leader resolved.
    const end = staying.some((i) => i.resolvedAt === null) ? Infinity : Math.max(...staying.map((i) => i.resolvedAt!));
    if (lead.resolvedAt !== null && end > lead.resolvedAt) {
      const { slo, labels, policy } = leader;
      lead.steps = incidentSteps(
        lead,
        policy,
        until,
        holds,
        { service: slo.service, slo: slo.name, signal: slo.signal, labels: { ...slo.labels, ...labels } },
        end,
      );
    }
  }
  return copies as T[];
}
