/**
 * The SLO gauges of /metrics, so that Prometheus scraping sloe holds every SLO's history without recording rules.
 * Labels are bounded: service, slo, signal, dashboard, owner (the dashboard's owner), and `window` or `severity`;
 * never a label value taken from the SLI or from a query's series.
 */
import type { Metric, Registry } from 'prom-client';
import {
  formatLabels,
  keptLabelText,
  type TextBytes,
  type VersionedMetric,
  type WrittenMetric,
} from '../observability/metrics.js';
import type { Incident } from '../incident/model.js';
import type { Slo } from '../rules/model.js';
import { BURN_WINDOWS, type Budget, type BurnWindow } from './budget.js';
import type { BudgetKeeper, BudgetSnapshot } from './keeper.js';

const BURN_WINDOW_NAMES = Object.keys(BURN_WINDOWS) as BurnWindow[];

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

/** A label a gauge adds to an SLO's (`window`, `severity`): made once, as prom-client's labels have it and as text. */
interface Extra {
  name: string;
  value: string;
  text: string;
}
const extraLabel = (name: string, value: string): Extra => ({ name, value, text: formatLabels({ [name]: value }) });
const WINDOW_LABELS = BURN_WINDOW_NAMES.map((w) => [w, extraLabel('window', w)] as const);
const SEVERITY_LABELS = (['page', 'ticket'] as const).map((s) => [s, extraLabel('severity', s)] as const);

/** One series of a gauge: an SLO's labels, and one more where the gauge has one. */
type Emit = (slo: Slo, value: number, extra?: Extra) => void;

/** What a gauge's series are made from, read: their text's version, and what goes through the series. */
type Visit = () => Promise<{ version: unknown; each: (emit: Emit) => void }>;

/** The version of a text whose values could not be read: never one that textVersion() returns, so never served again. */
const UNREAD = Symbol('not read');

/** An SLO's labels as the text of a series has them, made once an SLO. */
const labelText = (slo: Slo) => keptLabelText(slo, () => labelsOf(slo));

/**
 * A gauge whose series are made when a scrape renders it, from the error budgets and the SLOs, and not kept after:
 * prom-client's own Gauge keeps a label set, its key and a value object per series between scrapes (about 13 MB at
 * 10,000 SLOs, 70,000 series), while the registry keeps the rendered text anyway (CachingRegistry). `visit` reads
 * what the series are made from, and returns its version and what goes through them. The registry writes its text line by line
 * (`writeText`: nothing is made for a series but its value's digits); `get()` answers as prom-client's metrics do,
 * for any other rendering (JSON, OpenMetrics, a plain registry), and `textVersion()` tells when to write it again.
 */
class DerivedGauge implements VersionedMetric, WrittenMetric {
  readonly type = 'gauge';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly textVersion: () => Promise<unknown>,
    private readonly visit: Visit,
  ) {}

  async get() {
    const { each } = await this.visit();
    const values: { labels: Record<string, string>; value: number }[] = [];
    each((slo, value, extra) =>
      values.push({ labels: extra ? labelsWith(slo, extra.name, extra.value) : labelsOf(slo), value }),
    );
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  async writeText(out: TextBytes): Promise<unknown> {
    const { version, each } = await this.visit();
    out.header(this.name, this.help, this.type);
    each((slo, value, extra) => out.sample(this.name, labelText(slo), value, extra?.text));
    return version;
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
  const budgetGauge = (name: string, help: string, series: (slo: Slo, budget: Budget, emit: Emit) => void) =>
    add(
      new DerivedGauge(
        name,
        help,
        async () => (await fill()).version,
        async () => {
          const { snapshot, slos, version } = await fill();
          return {
            version,
            each: (emit) => {
              for (const slo of slos) {
                const budget = snapshot.bySlo.get(slo.id)?.budget;
                if (budget) series(slo, budget, emit);
              }
            },
          };
        },
      ),
    );
  const finite = (emit: Emit, slo: Slo, value: number, extra?: Extra) => {
    if (Number.isFinite(value)) emit(slo, value, extra);
  };
  budgetGauge(
    'sloe_slo_objective',
    'Objective of the SLO: share of good events, or of time within the objective for threshold SLOs',
    (slo, budget, emit) => emit(slo, budget.objective),
  );
  budgetGauge(
    'sloe_slo_sli',
    'The SLI over the SLO window (share of good events, or of time within the objective)',
    (slo, budget, emit) => finite(emit, slo, budget.sli),
  );
  budgetGauge(
    'sloe_slo_error_budget_remaining_ratio',
    'Share of the error budget left over the SLO window (negative once overspent)',
    (slo, budget, emit) => finite(emit, slo, budget.budget.remaining),
  );
  budgetGauge(
    'sloe_slo_burn_rate',
    'Error ratio over the window divided by the error budget (1 spends exactly the budget over the SLO window)',
    (slo, budget, emit) => {
      for (const [w, label] of WINDOW_LABELS) finite(emit, slo, budget.burnRates[w], label);
    },
  );
  // The alert states: their version changes when the open incidents' SLOs and severities (or the SLOs) changed. A
  // render reads the open incidents itself: scrapes may overlap, and each renders what it read.
  const alertVersion = versions();
  const firingNow = async () => {
    const open = await source.openIncidents().catch(() => undefined);
    if (!open) return undefined;
    // The severities open for each SLO.
    const firing = new Map<string, Set<string>>();
    for (const { sloId, severity } of open) {
      const severities = firing.get(sloId) ?? new Set();
      firing.set(sloId, severities.add(severity));
    }
    return firing;
  };
  // The version of the alert states read (undefined: they could not be read) for a list of SLOs.
  const versionOf = (firing: Map<string, Set<string>> | undefined, slos: readonly Slo[]) => {
    const text = firing && [...firing].map(([id, severities]) => `${id}\n${[...severities].sort().join('\n')}`);
    return alertVersion(text?.sort().join('\n\n'), slos);
  };
  add(
    new DerivedGauge(
      'sloe_slo_alert_state',
      'Whether the SLO has an open incident of the severity (1) or not (0)',
      async () => versionOf(await firingNow(), source.slos()),
      async () => {
        const firing = await firingNow();
        const slos = source.slos();
        return {
          // Kept with what it read (incidents may open or close between the version's read and this one); a failed
          // read is written again at the next scrape.
          version: firing ? versionOf(firing, slos) : UNREAD,
          each: (emit) => {
            // A failure leaves the alert states out of the scrape rather than reporting them as 0.
            if (!firing) return;
            for (const slo of slos) {
              const severities = firing.get(slo.id);
              for (const [severity, label] of SEVERITY_LABELS) emit(slo, severities?.has(severity) ? 1 : 0, label);
            }
          },
        };
      },
    ),
  );
}
