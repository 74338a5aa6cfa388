/**
 * The SLO gauges of /metrics, so that Prometheus scraping sloe holds every SLO's history without recording rules.
 * Labels are bounded: service, slo, signal, dashboard, owner (the dashboard's owner), and `window` or `severity`;
 * never a label value taken from the SLI or from a query's series.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Incident } from '../incident/model.js';
import type { Slo } from '../rules/model.js';
import { BURN_WINDOWS, type BurnWindow } from './budget.js';
import type { BudgetKeeper } from './keeper.js';

const LABELS = ['service', 'slo', 'signal', 'dashboard', 'owner'] as const;
type Label = (typeof LABELS)[number];

function labelsOf(slo: Slo): Record<Label, string> {
  return {
    service: slo.service,
    slo: slo.name,
    signal: slo.signal,
    dashboard: slo.dashboard.id,
    owner: slo.dashboard.owner,
  };
}

export interface SloMetricsSource {
  slos: () => readonly Slo[];
  budgets: BudgetKeeper;
  /** Open incidents; a failure leaves the alert states out of the scrape rather than reporting them as 0. */
  openIncidents: () => Promise<readonly Incident[]>;
}

/** Adds the sloe_slo_* gauges to a registry. */
export function registerSloMetrics(registry: Registry, source: SloMetricsSource): void {
  // The budget gauges are filled from one snapshot by the first of them that Prometheus collects.
  let filledFor = -1;
  // A scrape waits a little for budgets that are stale or not computed yet, then reports what it has.
  const fill = async () => {
    const snapshot = await source.budgets.fresh(5000);
    if (snapshot.at === filledFor) return;
    filledFor = snapshot.at;
    for (const g of [objective, sli, remaining, burn]) g.reset();
    for (const slo of source.slos()) {
      const budget = snapshot.bySlo.get(slo.id)?.budget;
      if (!budget) continue;
      const labels = labelsOf(slo);
      objective.set(labels, budget.objective);
      if (Number.isFinite(budget.sli)) sli.set(labels, budget.sli);
      if (Number.isFinite(budget.budget.remaining)) remaining.set(labels, budget.budget.remaining);
      for (const w of Object.keys(BURN_WINDOWS) as BurnWindow[])
        if (Number.isFinite(budget.burnRates[w])) burn.set({ ...labels, window: w }, budget.burnRates[w]);
    }
  };
  const registers = [registry];
  const objective = new Gauge({
    name: 'sloe_slo_objective',
    help: 'Objective of the SLO: share of good events, or of time within the objective for threshold SLOs',
    labelNames: LABELS,
    registers,
    collect: fill,
  });
  const sli = new Gauge({
    name: 'sloe_slo_sli',
    help: 'The SLI over the SLO window (share of good events, or of time within the objective)',
    labelNames: LABELS,
    registers,
    collect: fill,
  });
  const remaining = new Gauge({
    name: 'sloe_slo_error_budget_remaining_ratio',
    help: 'Share of the error budget left over the SLO window (negative once overspent)',
    labelNames: LABELS,
    registers,
    collect: fill,
  });
  const burn = new Gauge({
    name: 'sloe_slo_burn_rate',
    help: 'Error ratio over the window divided by the error budget (1 spends exactly the budget over the SLO window)',
    labelNames: [...LABELS, 'window'],
    registers,
    collect: fill,
  });
  new Gauge({
    name: 'sloe_slo_alert_state',
    help: 'Whether the SLO has an open incident of the severity (1) or not (0)',
    labelNames: [...LABELS, 'severity'],
    registers,
    async collect() {
      this.reset();
      const open = await source.openIncidents().catch(() => undefined);
      if (!open) return;
      // The severities open per SLO, gathered in one pass: a filter per SLO was SLOs × open incidents a scrape.
      const severities = new Set(open.map((i) => `${i.severity}|${i.sloId}`));
      for (const slo of source.slos()) {
        for (const severity of ['page', 'ticket'] as const)
          this.set({ ...labelsOf(slo), severity }, severities.has(`${severity}|${slo.id}`) ? 1 : 0);
      }
    },
  });
}
