/**
 * Inhibition in backtests, as a second pass: every SLO is replayed first (its incidents do not depend on holds);
 * then the SLOs whose pages wait for dependencies (dependsOn, inhibits) are replayed again with the holds that their
 * dependencies' page intervals put on them, through the same inhibitor `run` uses. A held incident still pages as a
 * dependency of others, as in `run`, so one more pass is enough for chains.
 */
import { type PageInterval, combineHolds, inhibitor } from '../rules/inhibit.js';
import type { EscalationPolicy, Slo } from '../rules/model.js';
import type { Holds } from '../rules/silence.js';
import { type BacktestInstance, replay } from './backtest.js';
import type { FrameSource } from './frame.js';

/** One SLO after the first pass, with what its second pass needs. */
export interface FirstPass {
  slo: Slo;
  policy: EscalationPolicy | undefined;
  frames: FrameSource;
  /** The holds of the first pass (silences). */
  holds: Holds;
  instances: BacktestInstance[];
}

/** When an SLO's incidents paged: from firing as a page (or being raised to one) until resolved (null: open at the end). */
export function pageIntervals(slo: Slo, instances: readonly BacktestInstance[]): PageInterval[] {
  return instances.flatMap((instance) =>
    instance.incidents.flatMap((incident) => {
      const raised = incident.escalations.find((e) => e.raised && e.severity === 'page');
      const firedAsPage = incident.severity === 'page' && !incident.escalations.some((e) => e.raised);
      const start = firedAsPage ? incident.firedAt : raised?.at;
      return start === undefined ? [] : [{ sloId: slo.id, service: slo.service, start, end: incident.resolvedAt }];
    }),
  );
}

/** The SLOs to replay so that `selected` sees its dependencies' pages: the selection and, transitively, what it waits for. */
export function andDependencies(selected: readonly Slo[], all: readonly Slo[]): Slo[] {
  const out = new Set(selected);
  const queue = [...selected];
  for (let slo = queue.shift(); slo !== undefined; slo = queue.shift()) {
    for (const { ref } of slo.inhibitedBy ?? []) {
      for (const dependency of all) {
        if (out.has(dependency) || !(ref.includes('/') ? dependency.id === ref : dependency.service === ref)) continue;
        out.add(dependency);
        queue.push(dependency);
      }
    }
  }
  return all.filter((s) => out.has(s));
}

/** The second pass: each SLO's instances with its dependencies' holds applied (the first pass's, where it has none). */
export function inhibitPass(first: readonly FirstPass[], times: readonly number[]): BacktestInstance[][] {
  const slos = first.map((f) => f.slo);
  const inhibitions = inhibitor(
    slos,
    first.flatMap((f) => pageIntervals(f.slo, f.instances)),
  );
  return first.map((f) =>
    f.slo.inhibitedBy?.length
      ? replay(f.slo, f.policy, times, f.frames, undefined, combineHolds(f.holds, inhibitions))
      : f.instances,
  );
}
