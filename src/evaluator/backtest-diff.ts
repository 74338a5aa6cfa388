/**
 * What a change to the specs would have changed over history: the replays of the base and of the head side by side,
 * per SLO, with incidents matched across the two (added, removed, moved) and the paging load before and after.
 * Pure: the replays come in, the comparison goes out.
 */
import type { EscalationPolicy, Slo } from '../rules/model.js';
import type { BacktestIncident, BacktestInstance } from './backtest.js';
import { type Labels, labelsKey } from './labels.js';

/** One SLO as replayed on one side of the change. */
export interface ReplayedSlo {
  slo: Slo;
  instances: BacktestInstance[];
}

/** An incident with the labels of the SLO instance it belongs to. */
export interface LabelledIncident {
  labels: Labels;
  incident: BacktestIncident;
}

/** How much an SLO would have alerted and escalated on one side. */
export interface AlertLoad {
  incidents: number;
  /** Incidents that were pages when they ended (fired as pages, or raised to one). */
  pages: number;
  tickets: number;
  /** Incidents that joined another's group (a policy's `group:`): its leader pages or tickets for them. */
  grouped: number;
  /** Escalation steps that would have reached PagerDuty, and the person on call. */
  pagerduty: number;
  oncall: number;
}

export type SloChange = 'added' | 'removed' | 'changed' | 'same';

export interface SloDiff {
  service: string;
  /** The SLO's name at the head (at the base for a removed SLO). */
  slo: string;
  /** added / removed: only on one side; changed: the incidents or their escalation steps differ; same: they do not. */
  change: SloChange;
  /** The base name of an SLO renamed by the change (same service and query, another name). */
  renamedFrom?: string;
  /** Fields of the SLO's model (and `escalation policy`) that the change touched; empty when it touched none. */
  specChanges: string[];
  base: LabelledIncident[];
  head: LabelledIncident[];
  added: LabelledIncident[];
  removed: LabelledIncident[];
  /** Incidents on both sides (overlapping in time, same instance) whose severity, firing or resolution moved. */
  moved: Array<{ labels: Labels; base: BacktestIncident; head: BacktestIncident }>;
  load: { base: AlertLoad; head: AlertLoad };
}

export interface SpecReplay {
  slos: readonly ReplayedSlo[];
  policies: ReadonlyMap<string, EscalationPolicy>;
}

/** Compares the replay of the base with the replay of the head, SLO by SLO, in the head's order (removed SLOs last). */
export function diffBacktests(base: SpecReplay, head: SpecReplay): SloDiff[] {
  const baseById = new Map(base.slos.map((r) => [r.slo.id, r]));
  const headIds = new Set(head.slos.map((r) => r.slo.id));
  const gone = base.slos.filter((r) => !headIds.has(r.slo.id));
  const renamed = new Map<string, ReplayedSlo>();
  for (const h of head.slos) {
    if (baseById.has(h.slo.id)) continue;
    const i = gone.findIndex((b) => b.slo.service === h.slo.service && queryIdentity(b.slo) === queryIdentity(h.slo));
    if (i >= 0) renamed.set(h.slo.id, gone.splice(i, 1)[0]!);
  }
  const out: SloDiff[] = [];
  for (const h of head.slos) {
    const b = baseById.get(h.slo.id) ?? renamed.get(h.slo.id);
    out.push(compare(b, h, base.policies, head.policies));
  }
  for (const b of gone) out.push(compare(b, undefined, base.policies, head.policies));
  return out;
}

/** What makes two SLOs "the same SLO under another name": what they query. */
function queryIdentity(slo: Slo): string {
  const norm = (q: string | undefined) => (q ?? '').replace(/\s+/g, ' ').trim();
  return slo.kind === 'threshold'
    ? `threshold\0${norm(slo.query)}\0${norm(slo.baseline)}`
    : `ratio\0${norm(slo.ratio.bad)}\0${norm(slo.ratio.good)}\0${norm(slo.ratio.total)}`;
}

function compare(
  b: ReplayedSlo | undefined,
  h: ReplayedSlo | undefined,
  basePolicies: SpecReplay['policies'],
  headPolicies: SpecReplay['policies'],
): SloDiff {
  const either = (h ?? b)!;
  const baseIncidents = b ? flatten(b.instances) : [];
  const headIncidents = h ? flatten(h.instances) : [];
  const { added, removed, moved } = matchIncidents(baseIncidents, headIncidents);
  const basePolicy = b && basePolicies.get(b.slo.escalation);
  const headPolicy = h && headPolicies.get(h.slo.escalation);
  const same = b !== undefined && h !== undefined && outcomeKey(baseIncidents) === outcomeKey(headIncidents);
  return {
    service: either.slo.service,
    slo: either.slo.name,
    change: !b ? 'added' : !h ? 'removed' : same ? 'same' : 'changed',
    ...(b && h && b.slo.id !== h.slo.id ? { renamedFrom: b.slo.name } : {}),
    specChanges:
      b && h
        ? [
            ...changedFields(b.slo, h.slo),
            ...(modelKey(basePolicy) === modelKey(headPolicy) ? [] : ['escalation policy']),
          ]
        : [],
    base: baseIncidents,
    head: headIncidents,
    added,
    removed,
    moved,
    load: { base: alertLoad(baseIncidents), head: alertLoad(headIncidents) },
  };
}

function flatten(instances: readonly BacktestInstance[]): LabelledIncident[] {
  return instances
    .flatMap((i) => i.incidents.map((incident) => ({ labels: i.labels, incident })))
    .sort((x, y) => x.incident.firedAt - y.incident.firedAt || labelsKey(x.labels).localeCompare(labelsKey(y.labels)));
}

/** A key of what alerting did: per incident its instance, severity, times and steps. */
function outcomeKey(list: readonly LabelledIncident[]): string {
  return JSON.stringify(
    list.map(({ labels, incident: i }) => [
      labelsKey(labels),
      i.severity,
      i.firedAt,
      i.resolvedAt,
      i.escalations,
      i.steps.map((s) => [s.notify, s.at, s.target, s.round]),
    ]),
  );
}

const overlaps = (a: BacktestIncident, b: BacktestIncident) =>
  a.firedAt <= (b.resolvedAt ?? Infinity) && b.firedAt <= (a.resolvedAt ?? Infinity);
const identical = (a: BacktestIncident, b: BacktestIncident) =>
  a.severity === b.severity && a.firedAt === b.firedAt && a.resolvedAt === b.resolvedAt;

/**
 * Pairs the incidents of the two sides: an incident of the same instance that is identical, else the earliest one
 * that overlaps it in time. Paired incidents that differ moved; the rest were added or removed.
 */
export function matchIncidents(
  base: readonly LabelledIncident[],
  head: readonly LabelledIncident[],
): Pick<SloDiff, 'added' | 'removed' | 'moved'> {
  const taken = new Set<LabelledIncident>();
  const pairs = new Map<LabelledIncident, LabelledIncident>();
  for (const rule of [identical, overlaps]) {
    for (const h of head) {
      if (pairs.has(h)) continue;
      const key = labelsKey(h.labels);
      const b = base.find((x) => !taken.has(x) && labelsKey(x.labels) === key && rule(x.incident, h.incident));
      if (b) {
        taken.add(b);
        pairs.set(h, b);
      }
    }
  }
  return {
    added: head.filter((h) => !pairs.has(h)),
    removed: base.filter((b) => !taken.has(b)),
    moved: head.flatMap((h) => {
      const b = pairs.get(h);
      return b && !identical(b.incident, h.incident) ? [{ labels: h.labels, base: b.incident, head: h.incident }] : [];
    }),
  };
}

export function alertLoad(list: readonly LabelledIncident[]): AlertLoad {
  const steps = list.flatMap((l) => l.incident.steps);
  // A member of a group is no page or ticket of its own: the group's leader alerts for it.
  const own = list.filter((l) => l.incident.group?.role !== 'member');
  const pages = own.filter((l) => l.incident.severity === 'page').length;
  return {
    incidents: list.length,
    pages,
    tickets: own.length - pages,
    grouped: list.length - own.length,
    pagerduty: steps.filter((s) => s.notify === 'pagerduty').length,
    oncall: steps.filter((s) => s.notify === 'oncall').length,
  };
}

/** The model without where it was declared: two models with the same key replay the same. */
export function modelKey(value: unknown): string {
  return (
    JSON.stringify(value, (k, v: unknown) => (k === 'source' || k === 'declaredAt' ? undefined : v)) ?? 'undefined'
  );
}

/** The top-level fields of an SLO's model that differ between the two sides (not its name, not where it was declared). */
function changedFields(base: Slo, head: Slo): string[] {
  const b = base as unknown as Record<string, unknown>;
  const h = head as unknown as Record<string, unknown>;
  const fields = [...new Set([...Object.keys(b), ...Object.keys(h)])].filter(
    (k) => !['id', 'name', 'source'].includes(k),
  );
  return fields.filter((k) => modelKey(b[k]) !== modelKey(h[k])).sort();
}
