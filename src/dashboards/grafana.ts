/**
 * Grafana dashboards from the SLO files: one per declared dashboard, for Grafana's file provisioning. Each records
 * its one owner (description, an `owner:<name>` tag and a text panel), draws every SLO's query with its objective
 * and alert condition as thresholds (latency as p50, p95 and p99 side by side: one percentile hides the tail), and
 * the budget and burn-rate panels from sloe's own SLO metrics (sloe_slo_*).
 */
import type { Dashboard, Panel, RowPanel } from '@grafana/schema';
import type { Threshold as Limit } from '../rules/condition.js';
import { formatDuration } from '../rules/duration.js';
import type { Config, Dashboard as DeclaredDashboard, RatioSlo, Slo, ThresholdSlo } from '../rules/model.js';
import { fillWindow } from '../rules/window.js';

type Steps = Array<{ value: number | null; color: string }>;
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const WIDTH = 24;

/** A label value in a PromQL selector. */
function quote(value: string): string {
  return JSON.stringify(value);
}

/** Markdown text with its markup characters escaped. */
function md(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!<>|&]/g, (c) => `\\${c}`);
}

/** A dashboard uid Grafana accepts (at most 40 characters of letters, digits, - and _), stable for one id. */
export function dashboardUid(id: string): string {
  const clean = `sloe-${id}`.replace(/[^A-Za-z0-9_-]/g, '-');
  return clean.length <= 40 ? clean : `${clean.slice(0, 31)}-${hash(id)}`;
}

function hash(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** Threshold steps for a panel: green where healthy, yellow between objective and alert, red where it alerts. */
function steps(objective: Limit | undefined, when: Limit | undefined): Steps {
  const bad = when ?? (objective ? { ...objective, op: objective.op.startsWith('<') ? '>' : '<' } : undefined);
  if (!bad) return [{ value: null, color: 'green' }];
  const highIsBad = bad.op.startsWith('>');
  const marks = [objective?.value, when?.value].filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  if (highIsBad) {
    if (marks.length === 2 && marks[0] !== marks[1])
      return [
        { value: null, color: 'green' },
        { value: marks[0]!, color: 'yellow' },
        { value: marks[1]!, color: 'red' },
      ];
    return [
      { value: null, color: 'green' },
      { value: marks[0]!, color: 'red' },
    ];
  }
  if (marks.length === 2 && marks[0] !== marks[1])
    return [
      { value: null, color: 'red' },
      { value: marks[0]!, color: 'yellow' },
      { value: marks[1]!, color: 'green' },
    ];
  return [
    { value: null, color: 'red' },
    { value: marks[0]!, color: 'green' },
  ];
}

class Layout {
  private id = 1;
  private y = 0;
  private x = 0;
  private rowHeight = 0;
  readonly panels: Array<Panel | RowPanel> = [];

  add(panel: Omit<Panel, 'id' | 'gridPos'>, w: number, h: number): void {
    if (this.x + w > WIDTH) this.newLine();
    this.panels.push({ ...panel, id: this.id++, gridPos: { x: this.x, y: this.y, w, h } } as Panel);
    this.x += w;
    this.rowHeight = Math.max(this.rowHeight, h);
  }

  row(title: string): void {
    this.newLine();
    this.panels.push({
      type: 'row',
      id: this.id++,
      title,
      collapsed: false,
      panels: [],
      gridPos: { x: 0, y: this.y, w: WIDTH, h: 1 },
    });
    this.y += 1;
  }

  private newLine(): void {
    this.y += this.rowHeight;
    this.x = 0;
    this.rowHeight = 0;
  }
}

function timeseries(
  title: string,
  description: string,
  targets: Array<{ expr: string; legend: string }>,
  thresholds: Steps,
  unit?: string,
): Omit<Panel, 'id' | 'gridPos'> {
  return {
    type: 'timeseries',
    title,
    description,
    datasource: DATASOURCE,
    targets: targets.map((t, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: DATASOURCE,
      expr: t.expr,
      legendFormat: t.legend,
    })),
    fieldConfig: {
      defaults: {
        ...(unit ? { unit } : {}),
        // Grafana's ThresholdsMode enum is the string "absolute" in JSON.
        thresholds: { mode: 'absolute', steps: thresholds } as never,
        custom: {
          thresholdsStyle: { mode: thresholds.length > 1 ? 'line+area' : 'off' },
          lineWidth: 2,
          fillOpacity: 0,
        },
      },
      overrides: [],
    },
    options: {
      legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'multi', sort: 'none' },
    },
  };
}

/** `histogram_quantile(0.95, …)` → the same query at another quantile, or undefined when the query is not one. */
export function atQuantile(query: string, q: number): string | undefined {
  const m = /^(\s*histogram_quantile\s*\(\s*)(0?\.\d+|1(?:\.0*)?)(\s*,)/.exec(query);
  return m ? query.replace(m[0], `${m[1]}${q}${m[3]}`) : undefined;
}

function sloSelector(slo: Slo): string {
  return `service=${quote(slo.service)}, slo=${quote(slo.name)}`;
}

function thresholdPanels(layout: Layout, slo: ThresholdSlo): void {
  const limits = steps(slo.objective, slo.when.kind === 'threshold' ? slo.when : undefined);
  const objective = slo.objective ? `objective ${slo.objective.text}` : 'no objective';
  const description = `${slo.service}/${slo.name} (${slo.signal}): ${objective}, alert when ${slo.when.text}${slo.forMs ? ` for ${formatDuration(slo.forMs)}` : ''}. Query: ${slo.query}`;
  const unit = slo.signal === 'latency' ? 's' : undefined;
  const quantiles =
    slo.signal === 'latency' ? [0.5, 0.95, 0.99].map((q) => ({ q, expr: atQuantile(slo.query, q) })) : [];
  if (quantiles.every((x) => x.expr !== undefined) && quantiles.length === 3) {
    for (const { q, expr } of quantiles) {
      const name = `p${Math.round(q * 100)}`;
      layout.add(
        timeseries(
          `${slo.name}: ${name}`,
          `${name} of the same histogram as ${description}`,
          [{ expr: expr!, legend: name }],
          limits,
          unit,
        ),
        8,
        8,
      );
    }
    return;
  }
  const targets = [{ expr: slo.query, legend: slo.name }];
  if (slo.baseline !== undefined) targets.push({ expr: slo.baseline, legend: 'baseline' });
  layout.add(
    timeseries(
      slo.name,
      description,
      targets,
      slo.baseline !== undefined ? [{ value: null, color: 'green' }] : limits,
      unit,
    ),
    24,
    8,
  );
}

function ratioPanels(layout: Layout, slo: RatioSlo): void {
  const fill = (q: string) => fillWindow(q, '5m');
  const part = fill(slo.ratio.bad ?? slo.ratio.good!);
  const total = fill(slo.ratio.total);
  const sli = slo.ratio.bad !== undefined ? `1 - (${part}) / (${total})` : `(${part}) / (${total})`;
  const description = `${slo.service}/${slo.name} (${slo.signal}): ${(slo.objective * 100).toPrecision(4)}% of events good over ${formatDuration(slo.windowMs)}; SLI over 5m windows.`;
  layout.add(
    timeseries(
      `${slo.name}: SLI`,
      description,
      [{ expr: sli, legend: 'good share (5m)' }],
      [
        { value: null, color: 'red' },
        { value: slo.objective, color: 'green' },
      ],
      'percentunit',
    ),
    24,
    8,
  );
}

function budgetPanels(layout: Layout, slo: Slo): void {
  const sel = sloSelector(slo);
  layout.add(
    {
      type: 'stat',
      title: `${slo.name}: error budget left`,
      description: `Share of the error budget of ${slo.service}/${slo.name} left over its window (sloe_slo_error_budget_remaining_ratio, from sloe's /metrics)`,
      datasource: DATASOURCE,
      targets: [
        {
          refId: 'A',
          datasource: DATASOURCE,
          expr: `sloe_slo_error_budget_remaining_ratio{${sel}}`,
          legendFormat: 'budget left',
        },
      ],
      fieldConfig: {
        defaults: {
          unit: 'percentunit',
          thresholds: {
            mode: 'absolute',
            steps: [
              { value: null, color: 'red' },
              { value: 0, color: 'orange' },
              { value: 0.25, color: 'green' },
            ],
          } as never,
        },
        overrides: [],
      },
      options: {
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        colorMode: 'background',
        graphMode: 'area',
        textMode: 'value',
      },
    },
    6,
    8,
  );
  const factors =
    slo.kind === 'ratio' ? [...new Set(slo.tiers.map((t) => Number(t.factor.toFixed(2))))].sort((a, b) => a - b) : [1];
  layout.add(
    timeseries(
      `${slo.name}: burn rate`,
      `Burn rate of ${slo.service}/${slo.name} over 1h, 6h and 3d (sloe_slo_burn_rate); 1 spends exactly the budget over the window. Thresholds: ${slo.kind === 'ratio' ? 'the factors of its alert tiers' : '1'}.`,
      [{ expr: `sloe_slo_burn_rate{${sel}}`, legend: '{{window}}' }],
      [
        { value: null, color: 'green' },
        ...factors.map((f, i) => ({ value: f, color: i === factors.length - 1 ? 'red' : 'orange' })),
      ],
    ),
    18,
    8,
  );
}

export interface GeneratedDashboard {
  /** File name: `<id>.json`. */
  file: string;
  dashboard: Dashboard;
}

/** One Grafana dashboard per declared dashboard, with the panels of the SLOs that name it. */
export function grafanaDashboards(config: Config): GeneratedDashboard[] {
  return [...config.dashboards.values()]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((d) => ({
      file: `${d.id.replace(/[^A-Za-z0-9._-]/g, '_')}.json`,
      dashboard: grafanaDashboard(
        d,
        config.slos.filter((s) => s.dashboard.id === d.id),
      ),
    }));
}

export function grafanaDashboard(declared: DeclaredDashboard, slos: readonly Slo[]): Dashboard {
  const layout = new Layout();
  const services = [...new Set(slos.map((s) => s.service))].sort();
  const list = slos
    .map(
      (s) =>
        `- **${md(s.service)}/${md(s.name)}** (${md(s.signal)})${s.runbook ? `, [runbook](${s.runbook.replace(/[()]/g, encodeURIComponent)})` : ''}`,
    )
    .join('\n');
  layout.add(
    {
      type: 'text',
      title: 'Owner',
      options: {
        mode: 'markdown',
        content: `**Owner: ${md(declared.owner)}**. Changes to this dashboard go through the SLO files (\`sloe dashboards\`); ask ${md(declared.owner)} first.\n\n${list || '_No SLO names this dashboard yet._'}`,
      },
    },
    24,
    Math.min(12, 3 + slos.length),
  );
  for (const slo of slos) {
    layout.row(`${slo.service}/${slo.name}`);
    if (slo.kind === 'ratio') ratioPanels(layout, slo);
    else thresholdPanels(layout, slo);
    budgetPanels(layout, slo);
  }
  return {
    uid: dashboardUid(declared.id),
    title: declared.title,
    description: `Owner: ${declared.owner}. Generated by sloe from the SLO files of ${services.join(', ') || 'no service'}; edit those, not this dashboard.`,
    tags: ['sloe', `owner:${declared.owner}`, ...services.map((s) => `service:${s}`)],
    editable: false,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    timezone: 'utc',
    time: { from: 'now-24h', to: 'now' },
    refresh: '1m',
    links: declared.url
      ? [
          {
            title: 'Canonical dashboard',
            type: 'link',
            url: declared.url,
            icon: 'external link',
            tags: [],
            asDropdown: false,
            includeVars: false,
            keepTime: true,
            targetBlank: true,
            tooltip: '',
          },
        ]
      : [],
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Prometheus',
          type: 'datasource',
          query: 'prometheus',
          hide: 0,
          options: [],
          refresh: 1,
          regex: '',
          skipUrlSync: false,
        } as never,
      ],
    },
    annotations: { list: [] },
    panels: layout.panels,
  } as Dashboard;
}
