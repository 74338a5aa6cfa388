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

/**
 * An SLO's labels and one more: added to the object labelsOf made, not spread from it. prom-client keeps each label
 * set for as long as its series lives, and an object made by a spread gets a hidden class of its own (about 20 MB at
 * 10,000 SLOs); one added the same way each time shares one.
 */
function labelsWith<K extends string>(slo: Slo, key: K, value: string): Record<Label | K, string> {
  const labels = labelsOf(slo) as Record<Label | K, string>;
  labels[key] = value;
  return labels;
}

export interface SloMetricsSource {
  slos: () => readonly Slo[];
  budgets: BudgetKeeper;
  /** Open incidents; a failure leaves the alert states out of the scrape rather than reporting them as 0. */
  openIncidents: () => Promise<readonly Incident[]>;
}

/** Adds the sloe_slo_* gauges to a registry; their text is rendered again only when their values changed. */
export function registerSloMetrics(registry: Registry, source: SloMetricsSource): void {
  // The budget gauges are filled from one snapshot (for one list of SLOs) by the first of them a scrape collects.
  let filledFor: { at: number; slos: readonly Slo[] } | undefined;
  let budgetVersion = 0;
  // A scrape waits a little for budgets that are stale or not computed yet, then reports what it has.
  const fill = async () => {
    const snapshot = await source.budgets.fresh(5000);
    const slos = source.slos();
    if (snapshot.at === filledFor?.at && slos === filledFor.slos) return budgetVersion;
    filledFor = { at: snapshot.at, slos };
    budgetVersion++;
    for (const g of [objective, sli, remaining, burn]) g.reset();
    for (const slo of slos) {
      const budget = snapshot.bySlo.get(slo.id)?.budget;
      if (!budget) continue;
      const labels = labelsOf(slo);
      objective.set(labels, budget.objective);
      if (Number.isFinite(budget.sli)) sli.set(labels, budget.sli);
      if (Number.isFinite(budget.budget.remaining)) remaining.set(labels, budget.budget.remaining);
      for (const w of Object.keys(BURN_WINDOWS) as BurnWindow[])
        if (Number.isFinite(budget.burnRates[w])) burn.set(labelsWith(slo, 'window', w), budget.burnRates[w]);
    }
    return budgetVersion;
  };
  const registers = [registry];
  const budgetGauge = (name: string, help: string, labelNames: readonly string[] = LABELS) =>
    Object.assign(new Gauge({ name, help, labelNames, registers, collect: async () => void (await fill()) }), {
      textVersion: fill,
    });
  const objective = budgetGauge(
    'sloe_slo_objective',
    'Objective of the SLO: share of good events, or of time within the objective for threshold SLOs',
  );
  const sli = budgetGauge(
    'sloe_slo_sli',
    'The SLI over the SLO window (share of good events, or of time within the objective)',
  );
  const remaining = budgetGauge(
    'sloe_slo_error_budget_remaining_ratio',
    'Share of the error budget left over the SLO window (negative once overspent)',
  );
  const burn = budgetGauge(
    'sloe_slo_burn_rate',
    'Error ratio over the window divided by the error budget (1 spends exactly the budget over the SLO window)',
    [...LABELS, 'window'],
  );
  // The alert states: filled again when the open incidents' SLOs and severities (or the SLOs) changed.
  let alertsFor: string | undefined;
  let alertSlos: readonly Slo[] | undefined;
  let alertVersion = 0;
  const alerts = async () => {
    const open = await source.openIncidents().catch(() => undefined);
    const slos = source.slos();
    const firing = open && new Set(open.map((i) => `${i.sloId}\n${i.severity}`));
    const key = firing ? [...firing].sort().join('\n\n') : undefined;
    if (key === alertsFor && slos === alertSlos && alertVersion > 0) return alertVersion;
    alertsFor = key;
    alertSlos = slos;
    alertVersion++;
    alertState.reset();
    // A failure leaves the alert states out of the scrape rather than reporting them as 0.
    if (!firing) return alertVersion;
    for (const slo of slos)
      for (const severity of ['page', 'ticket'] as const)
        alertState.set(labelsWith(slo, 'severity', severity), firing.has(`${slo.id}\n${severity}`) ? 1 : 0);
    return alertVersion;
  };
  const alertState = Object.assign(
    new Gauge({
      name: 'sloe_slo_alert_state',
      help: 'Whether the SLO has an open incident of the severity (1) or not (0)',
      labelNames: [...LABELS, 'severity'],
      registers,
      collect: async () => void (await alerts()),
    }),
    { textVersion: alerts },
  );
}
