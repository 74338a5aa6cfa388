/** `sloe report` as JSON (the shape of docs/spec.md), a terminal table, or Markdown for an SLO review or a PR comment. */
import type { Budget, BurnWindow } from '../budget/budget.js';
import { budgetHealth } from '../budget/budget.js';
import { formatDuration } from '../rules/duration.js';
import type { Report, ReportEntry } from './report.js';

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
/** A JSON number: NaN (no data) becomes null. */
const num = (n: number, digits = 6) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);

/** The report as one JSON object. */
export function reportJson(report: Report): unknown {
  return {
    at: iso(report.at),
    incidentSource: report.incidentSource,
    slos: report.entries.map(({ slo, budget: b, incidents }) => ({
      service: slo.service,
      slo: slo.name,
      signal: slo.signal,
      owner: slo.owner,
      dashboard: { id: slo.dashboard.id, owner: slo.dashboard.owner },
      basis: b.basis,
      objective: num(b.objective),
      window: formatDuration(b.windowMs),
      sli: num(b.sli),
      budget: { total: num(b.budget.total), spent: num(b.budget.spent), remaining: num(b.budget.remaining) },
      burnRates: { '1h': num(b.burnRates['1h'], 4), '6h': num(b.burnRates['6h'], 4), '3d': num(b.burnRates['3d'], 4) },
      timeLeft: b.timeLeftMs === null ? null : formatDuration(roundMinutes(b.timeLeftMs)),
      exhaustedAt: b.exhaustedAt === null ? null : iso(b.exhaustedAt),
      state: budgetHealth(b),
      incidents: incidents.map((i) => ({
        severity: i.severity,
        reason: i.reason,
        firedAt: iso(i.firedAt),
        resolvedAt: i.resolvedAt === null ? null : iso(i.resolvedAt),
        ...(Object.keys(i.labels).length ? { labels: i.labels } : {}),
        ...(i.status ? { status: i.status } : {}),
        ...(i.acknowledgedBy ? { acknowledgedBy: i.acknowledgedBy } : {}),
        message: i.message,
        ...(i.steps ? { steps: i.steps.map((s) => ({ notify: s.notify, at: iso(s.at), target: s.target })) } : {}),
      })),
    })),
  };
}

const roundMinutes = (ms: number) => Math.max(60_000, Math.round(ms / 60_000) * 60_000);

/** 99.95%, or – without data. */
export function pct(n: number, digits = 2): string {
  return Number.isFinite(n) ? `${(n * 100).toFixed(digits)}%` : '–';
}

export function burn(n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(2)}×` : '–';
}

/** How long, for people: 3d 4h, 5h 10m, 12m. */
export function humanDuration(ms: number): string {
  const m = Math.round(ms / 60_000);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 ? ` ${m % 60}m` : ''}`;
  const d = Math.floor(h / 24);
  return `${d}d${h % 24 ? ` ${h % 24}h` : ''}`;
}

/** When the budget runs out, in words. */
export function exhaustionText(b: Budget): string {
  if (b.exhaustedAt === null) return Number.isNaN(b.budget.remaining) ? '–' : 'not at this pace';
  if (b.exhaustedAt <= b.at) return `ran out ${iso(b.exhaustedAt)}`;
  return `in ${humanDuration(b.exhaustedAt - b.at)}`;
}

const STATE_TEXT = { healthy: 'healthy', burning: 'BURNING', exhausted: 'EXHAUSTED', nodata: 'no data' } as const;

function row(e: ReportEntry): string[] {
  const b = e.budget;
  const burns = (['1h', '6h', '3d'] as BurnWindow[]).map((w) => burn(b.burnRates[w])).join(' ');
  return [
    `${e.slo.service}/${e.slo.name}`,
    `${pct(b.objective, b.objective >= 0.999 ? 2 : 1)}${b.basis === 'time' ? ' of time' : ''}`,
    formatDuration(b.windowMs),
    pct(b.sli, 3),
    pct(b.budget.remaining, 1),
    burns,
    exhaustionText(b),
    STATE_TEXT[budgetHealth(b)],
    String(e.incidents.length),
  ];
}

const HEADER = [
  'SLO',
  'OBJECTIVE',
  'WINDOW',
  'SLI',
  'BUDGET LEFT',
  'BURN 1h 6h 3d',
  'EXHAUSTED (6h burn)',
  'STATE',
  'INCIDENTS',
];

/** A table a person reads in a terminal. */
export function reportText(report: Report, table: (header: string[], rows: string[][]) => string): string {
  const lines = [
    `error budgets at ${iso(report.at)} (incidents ${sourceText(report)})`,
    '',
    table(HEADER, report.entries.map(row)),
  ];
  const owners = [...new Set(report.entries.map((e) => `${e.slo.dashboard.id} (owner ${e.slo.dashboard.owner})`))];
  lines.push(`dashboards: ${owners.join(', ')}`);
  const incidents = report.entries.flatMap((e) => e.incidents.map((i) => ({ e, i })));
  if (incidents.length) {
    lines.push('', 'incidents in the window:');
    for (const { e, i } of incidents.sort((a, b) => a.i.firedAt - b.i.firedAt)) {
      const end = i.resolvedAt === null ? (i.status ?? 'open') : `resolved ${iso(i.resolvedAt)}`;
      lines.push(
        `  ${iso(i.firedAt)}  ${i.severity.toUpperCase().padEnd(6)}  ${e.slo.id}${i.reason === 'breach' ? '' : ` (${i.reason})`}  ${end}${i.acknowledgedBy ? `, acknowledged by ${i.acknowledgedBy}` : ''}`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

function sourceText(report: Report): string {
  return report.incidentSource === 'redis'
    ? 'from the incident store in Redis'
    : 'replayed from Prometheus history with the backtest; REDIS_URL is not set';
}

/** Markdown cells: pipes and line breaks would break the table; HTML is not interpreted. */
function md(text: string): string {
  return text.replace(/[\\|`*_[\]<>]/g, (c) => `\\${c}`).replace(/\s+/g, ' ');
}

const STATE_MD = {
  healthy: '🟢 healthy',
  burning: '🟠 burning',
  exhausted: '🔴 exhausted',
  nodata: '⚪ no data',
} as const;

/** Markdown for an SLO review document or a pull-request comment. */
export function reportMarkdown(report: Report): string {
  const out = [`### Error budgets at ${iso(report.at)}`, '', `Incidents ${sourceText(report)}.`, ''];
  out.push(
    '| SLO | Owner | Objective | Window | SLI | Budget left | Burn 1h / 6h / 3d | Exhausted (6h burn) | State | Incidents |',
  );
  out.push('|---|---|---:|---|---:|---:|---|---|---|---:|');
  for (const e of report.entries) {
    const b = e.budget;
    const [, objective, window, sli, left, burns, exhausted, , incidents] = row(e).map(md);
    const dashboard = e.slo.dashboard.url
      ? `[${md(e.slo.dashboard.title)}](${e.slo.dashboard.url.replace(/[()]/g, encodeURIComponent)})`
      : md(e.slo.dashboard.title);
    out.push(
      `| ${md(e.slo.service)}/**${md(e.slo.name)}** | ${md(e.slo.dashboard.owner)} (${dashboard}) | ${objective} | ${window} | ${sli} | ${left} | ${burns!.replaceAll(' ', ' / ')} | ${exhausted} | ${STATE_MD[budgetHealth(b)]} | ${incidents} |`,
    );
  }
  const incidents = report.entries.flatMap((e) => e.incidents.map((i) => ({ e, i })));
  if (incidents.length) {
    out.push('', '<details><summary>Incidents in the window</summary>', '');
    for (const { e, i } of incidents.sort((a, b) => a.i.firedAt - b.i.firedAt)) {
      const end = i.resolvedAt === null ? md(i.status ?? 'open') : `resolved ${iso(i.resolvedAt)}`;
      out.push(
        `- ${iso(i.firedAt)} **${i.severity}** ${md(e.slo.id)}${i.reason === 'breach' ? '' : ` (${i.reason})`}: ${md(i.message)} (${end})`,
      );
    }
    out.push('', '</details>');
  }
  return out.join('\n') + '\n';
}
