/**
 * The SLO gauges of /metrics, so that Prometheus scraping sloe holds every SLO's history without recording rules.
 * Labels are bounded: service, slo, signal, dashboard, owner (the dashboard's owner), and `window` or `severity`;
 * never a label value taken from the SLI or from a query's series.
 */
import type { Metric, Registry } from 'prom-client';
import type { Incident } from '../incident/model.js';
import type { Slo } from '../rules/model.js';
import { BURN_WINDOWS, type Budget, type BurnWindow } from './budget.js';
import type { BudgetKeeper, BudgetSnapshot } from './keeper.js';

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

/** An SLO's labels and one more, in the order prom-client renders them (the SLO's, then the added one). */
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

interface Series {
  labels: Record<string, string>;
  value: number;
}

/**
 * A gauge whose series are made when a scrape renders it, from the error budgets and the SLOs, and not kept after:
 * prom-client's own Gauge keeps a label set, its key and a value object per series between scrapes (about 13 MB at
 * 10,000 SLOs, 70,000 series), while the registry keeps the rendered text anyway (CachingRegistry). It answers
 * `get()` as prom-client's metrics do, so any registry renders it, and `textVersion()` for the kept text.
 */
class DerivedGauge {
  readonly type = 'gauge';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly textVersion: () => Promise<unknown>,
    private readonly series: () => Promise<Series[]>,
  ) {}

  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: await this.series(),
    };
  }

  /** Its series come from the budgets and incidents: nothing of its own to reset. */
  reset(): void {}
}

/** A text version that changes whenever what it is given (a value and the list of SLOs) differs from the last. */
function versions(): (of: unknown, slos: readonly Slo[]) => number {
  let last: { of: unknown; slos: readonly Slo[] } | undefined;
  let version = 0;
  return (of, slos) => {
    if (!last || of !== last.of || slos !== last.slos) {
      last = { of, slos };
      version++;
    }
    return version;
  };
}

/** Adds the sloe_slo_* gauges to a registry; their text is rendered again only when their values changed. */
export function registerSloMetrics(registry: Registry, source: SloMetricsSource): void {
  const add = (gauge: DerivedGauge) => registry.registerMetric(gauge as unknown as Metric);
  // The budget gauges are rendered from one snapshot (for one list of SLOs); the version changes with either.
  const budgetVersion = versions();
  // A scrape waits a little for budgets that are stale or not computed yet, then reports what it has.
  const fill = async (): Promise<{ snapshot: BudgetSnapshot; slos: readonly Slo[]; version: number }> => {
    const snapshot = await source.budgets.fresh(5000);
    const slos = source.slos();
    return { snapshot, slos, version: budgetVersion(snapshot.at, slos) };
  };
  const budgetGauge = (name: string, help: string, series: (slo: Slo, budget: Budget, out: Series[]) => void) =>
    add(
      new DerivedGauge(
        name,
        help,
        async () => (await fill()).version,
        async () => {
          const { snapshot, slos } = await fill();
          const out: Series[] = [];
          for (const slo of slos) {
            const budget = snapshot.bySlo.get(slo.id)?.budget;
            if (budget) series(slo, budget, out);
          }
          return out;
        },
      ),
    );
  const finite = (out: Series[], labels: Record<string, string>, value: number) => {
    if (Number.isFinite(value)) out.push({ labels, value });
  };
  budgetGauge(
    'sloe_slo_objective',
    'Objective of the SLO: share of good events, or of time within the objective for threshold SLOs',
    (slo, budget, out) => out.push({ labels: labelsOf(slo), value: budget.objective }),
  );
  budgetGauge(
    'sloe_slo_sli',
    'The SLI over the SLO window (share of good events, or of time within the objective)',
    (slo, budget, out) => finite(out, labelsOf(slo), budget.sli),
  );
  budgetGauge(
    'sloe_slo_error_budget_remaining_ratio',
    'Share of the error budget left over the SLO window (negative once overspent)',
    (slo, budget, out) => finite(out, labelsOf(slo), budget.budget.remaining),
  );
  budgetGauge(
    'sloe_slo_burn_rate',
    'Error ratio over the window divided by the error budget (1 spends exactly the budget over the SLO window)',
    (slo, budget, out) => {
      for (const w of Object.keys(BURN_WINDOWS) as BurnWindow[])
        finite(out, labelsWith(slo, 'window', w), budget.burnRates[w]);
    },
  );
  // The alert states: their version changes when the open incidents' SLOs and severities (or the SLOs) changed. A
  // render reads the open incidents itself: scrapes may overlap, and each renders what it read.
  const alertVersion = versions();
  const firingNow = async () => {
    const open = await source.openIncidents().catch(() => undefined);
    return open && new Set(open.map((i) => `${i.sloId}\n${i.severity}`));
  };
  const alertsVersion = async () => {
    const firing = await firingNow();
    return alertVersion(firing ? [...firing].sort().join('\n\n') : undefined, source.slos());
  };
  add(
    new DerivedGauge(
      'sloe_slo_alert_state',
      'Whether the SLO has an open incident of the severity (1) or not (0)',
      alertsVersion,
      async () => {
        const firing = await firingNow();
        const out: Series[] = [];
        // A failure leaves the alert states out of the scrape rather than reporting them as 0.
        if (!firing) return out;
        for (const slo of source.slos())
          for (const severity of ['page', 'ticket'] as const)
            out.push({
              labels: labelsWith(slo, 'severity', severity),
              value: firing.has(`${slo.id}\n${severity}`) ? 1 : 0,
            });
        return out;
      },
    ),
  );
}
