/** The output of `sloe backtest --base`: text for a terminal, JSON, and Markdown for a pull-request comment. */
import type { AlertLoad, LabelledIncident, SloDiff } from '../evaluator/backtest-diff.js';
import type { BacktestIncident } from '../evaluator/index.js';
import { formatLabels } from '../evaluator/index.js';
import { formatDuration } from '../rules/index.js';
import { iso } from './options.js';

const WEEK = 7 * 86_400_000;

export interface BacktestComparison {
  from: number;
  to: number;
  stepMs: number;
  base: { label: string; commit?: string };
  slos: SloDiff[];
  /** Distinct Prometheus queries both replays needed, and HTTP requests made for them. */
  queries: { distinct: number; requests: number };
}

/** An incident as `sloe backtest --json` shows it. */
export function incidentJson(inc: BacktestIncident) {
  return {
    severity: inc.severity,
    reason: inc.reason,
    firedAt: iso(inc.firedAt),
    resolvedAt: inc.resolvedAt === null ? null : iso(inc.resolvedAt),
    message: inc.message,
    ...(inc.held
      ? {
          [inc.held.cause ? 'held' : 'silenced']: {
            by: inc.held.by,
            reason: inc.held.reason,
            until: iso(inc.held.until),
          },
        }
      : {}),
    ...(inc.escalations.length
      ? { escalations: inc.escalations.map((e) => ({ severity: e.severity, reason: e.reason, at: iso(e.at) })) }
      : {}),
    ...(inc.group
      ? {
          group: {
            role: inc.group.role,
            leader: {
              slo: inc.group.leader.sloId,
              labels: inc.group.leader.labels,
              firedAt: iso(inc.group.leader.firedAt),
            },
            size: inc.group.size,
            ...(inc.group.leftAt !== undefined ? { leftAt: iso(inc.group.leftAt) } : {}),
          },
        }
      : {}),
    steps: inc.steps.map((s) => ({
      notify: s.notify,
      at: iso(s.at),
      target: s.target,
      ...(s.round ? { repeat: s.round } : {}),
    })),
  };
}

const perWeek = (n: number, c: BacktestComparison) => Math.round((n / ((c.to - c.from) / WEEK)) * 100) / 100;

function loadJson(load: AlertLoad, c: BacktestComparison) {
  return { ...load, pagesPerWeek: perWeek(load.pages, c), ticketsPerWeek: perWeek(load.tickets, c) };
}

/** Pages at the head beyond the base, summed over the SLOs that page more (an added SLO counts from zero). */
export function newPages(c: BacktestComparison): number {
  return c.slos.reduce((n, d) => n + Math.max(0, d.load.head.pages - d.load.base.pages), 0);
}

export function comparisonJson(c: BacktestComparison): string {
  const labelled = ({ labels, incident }: LabelledIncident) => ({ labels, ...incidentJson(incident) });
  return (
    JSON.stringify(
      {
        from: iso(c.from),
        to: iso(c.to),
        step: formatDuration(c.stepMs),
        base: c.base.commit ? { ref: c.base.label, commit: c.base.commit } : { dir: c.base.label },
        slos: c.slos.map((d) => ({
          service: d.service,
          slo: d.slo,
          change: d.change,
          ...(d.renamedFrom !== undefined ? { renamedFrom: d.renamedFrom } : {}),
          specChanges: d.specChanges,
          base: { incidents: d.base.map(labelled), load: loadJson(d.load.base, c) },
          head: { incidents: d.head.map(labelled), load: loadJson(d.load.head, c) },
          incidents: {
            added: d.added.map(labelled),
            removed: d.removed.map(labelled),
            moved: d.moved.map((m) => ({ labels: m.labels, base: incidentJson(m.base), head: incidentJson(m.head) })),
          },
        })),
        queries: c.queries,
      },
      null,
      2,
    ) + '\n'
  );
}

/** SLOs worth showing: what the change touched or what it changed. */
const touched = (d: SloDiff) => d.change !== 'same' || d.specChanges.length > 0 || d.renamedFrom !== undefined;

function changeText(d: SloDiff): string {
  const parts: string[] = [];
  if (d.renamedFrom !== undefined) parts.push(`renamed from ${d.renamedFrom}`);
  if (d.change === 'added' || d.change === 'removed') parts.push(d.change);
  else if (d.specChanges.length) parts.push(`${d.specChanges.join(', ')} changed`);
  if (d.change === 'same') parts.push('no effect on alerts');
  return parts.join('; ');
}

const arrow = (a: number, b: number) => (a === b ? String(a) : `${a} → ${b}`);
const loadCells = (d: SloDiff, c: BacktestComparison) => [
  arrow(perWeek(d.load.base.pages, c), perWeek(d.load.head.pages, c)),
  arrow(perWeek(d.load.base.tickets, c), perWeek(d.load.head.tickets, c)),
  arrow(d.load.base.pagerduty, d.load.head.pagerduty),
  arrow(d.load.base.oncall, d.load.head.oncall),
];
const incidentCounts = (d: SloDiff) => `+${d.added.length} −${d.removed.length} ~${d.moved.length}`;

function span(c: BacktestComparison): string {
  return `${iso(c.from)} → ${iso(c.to)} (${formatDuration(c.to - c.from)}, step ${formatDuration(c.stepMs)})`;
}

function baseName(c: BacktestComparison): string {
  return c.base.commit ? `${c.base.label} (${c.base.commit.slice(0, 12)})` : c.base.label;
}

function when(inc: BacktestIncident): string {
  return `fired ${iso(inc.firedAt)}, ${inc.resolvedAt === null ? 'still open at the end' : `resolved ${iso(inc.resolvedAt)} after ${formatDuration(inc.resolvedAt - inc.firedAt)}`}`;
}

function moveText(b: BacktestIncident, h: BacktestIncident): string {
  const parts: string[] = [];
  if (b.severity !== h.severity) parts.push(`${b.severity} → ${h.severity}`);
  if (b.firedAt !== h.firedAt) parts.push(`fired ${iso(b.firedAt)} → ${iso(h.firedAt)}`);
  if (b.resolvedAt !== h.resolvedAt)
    parts.push(
      `resolved ${b.resolvedAt === null ? 'open' : iso(b.resolvedAt)} → ${h.resolvedAt === null ? 'open' : iso(h.resolvedAt)}`,
    );
  return parts.join(', ');
}

function totals(c: BacktestComparison) {
  const sum = (side: 'base' | 'head', k: keyof AlertLoad) => c.slos.reduce((n, d) => n + d.load[side][k], 0);
  const count = (change: SloDiff['change']) => c.slos.filter((d) => d.change === change).length;
  return {
    changed: count('changed'),
    added: count('added'),
    removed: count('removed'),
    renamed: c.slos.filter((d) => d.renamedFrom !== undefined).length,
    same: c.slos.filter((d) => !touched(d)).length,
    pages: arrow(perWeek(sum('base', 'pages'), c), perWeek(sum('head', 'pages'), c)),
    tickets: arrow(perWeek(sum('base', 'tickets'), c), perWeek(sum('head', 'tickets'), c)),
    pagerduty: arrow(sum('base', 'pagerduty'), sum('head', 'pagerduty')),
    oncall: arrow(sum('base', 'oncall'), sum('head', 'oncall')),
  };
}

export function comparisonText(c: BacktestComparison): string {
  const out: string[] = [`backtest ${span(c)}: base ${baseName(c)} → head`, ''];
  for (const d of c.slos.filter(touched)) {
    const [pages, tickets, pd, oncall] = loadCells(d, c);
    out.push(`${d.service}/${d.slo}: ${changeText(d)}`);
    out.push(
      `    incidents ${arrow(d.load.base.incidents, d.load.head.incidents)} (${incidentCounts(d)}), pages/week ${pages}, tickets/week ${tickets}, PagerDuty steps ${pd}, on-call steps ${oncall}`,
    );
    for (const { labels, incident } of d.removed)
      out.push(`    - removed ${incident.severity.toUpperCase()}${formatLabels(labels)} ${when(incident)}`);
    for (const { labels, incident } of d.added)
      out.push(`    + added   ${incident.severity.toUpperCase()}${formatLabels(labels)} ${when(incident)}`);
    for (const m of d.moved)
      out.push(`    ~ moved   ${m.head.severity.toUpperCase()}${formatLabels(m.labels)} ${moveText(m.base, m.head)}`);
    out.push('');
  }
  const t = totals(c);
  out.push(
    `${t.changed} SLO(s) changed, ${t.added} added, ${t.removed} removed, ${t.renamed} renamed, ${t.same} untouched; ` +
      `pages/week ${t.pages}, tickets/week ${t.tickets}, PagerDuty steps ${t.pagerduty}, on-call steps ${t.oncall}; ` +
      `${c.queries.distinct} distinct Prometheus queries (${c.queries.requests} requests) for both sides`,
  );
  return out.join('\n') + '\n';
}

/** Text from specs or Prometheus shown as written in Markdown (GitHub's flavour, tables included), never as markup. */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\\`*_{}[\]()#+!|~]/g, (ch) => `\\${ch}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\s+/g, ' ');
}

export function comparisonMarkdown(c: BacktestComparison): string {
  const t = totals(c);
  const shown = c.slos.filter(touched);
  const out = [
    '### sloe backtest: what this change would have done',
    '',
    `Replayed ${span(c)} with the specs of ${escapeMarkdown(baseName(c))} and of this change, against the same Prometheus answers.`,
    '',
  ];
  if (shown.length === 0) {
    out.push(`No SLO changed: the ${c.slos.length} SLO(s) would have alerted exactly as before.`, '');
  } else {
    out.push(
      '| SLO | change | incidents (+ − ~) | pages / week | tickets / week | PagerDuty steps | on-call steps |',
      '|---|---|---|---|---|---|---|',
    );
    for (const d of shown)
      out.push(
        `| ${escapeMarkdown(`${d.service}/${d.slo}`)} | ${escapeMarkdown(changeText(d))} | ${incidentCounts(d)} | ${loadCells(d, c).join(' | ')} |`,
      );
    out.push(
      `| **all** | ${t.changed} changed, ${t.added} added, ${t.removed} removed, ${t.renamed} renamed, ${t.same} untouched | | ${t.pages} | ${t.tickets} | ${t.pagerduty} | ${t.oncall} |`,
      '',
    );
    for (const d of shown.filter((x) => x.added.length + x.removed.length + x.moved.length > 0)) {
      out.push(
        `<details><summary>${escapeMarkdown(`${d.service}/${d.slo}`)}: ${d.added.length} added, ${d.removed.length} removed, ${d.moved.length} moved</summary>`,
        '',
      );
      for (const { labels, incident } of d.removed)
        out.push(`- removed **${incident.severity}**${escapeMarkdown(formatLabels(labels))}: ${when(incident)}`);
      for (const { labels, incident } of d.added)
        out.push(`- added **${incident.severity}**${escapeMarkdown(formatLabels(labels))}: ${when(incident)}`);
      for (const m of d.moved)
        out.push(
          `- moved **${m.head.severity}**${escapeMarkdown(formatLabels(m.labels))}: ${moveText(m.base, m.head)}`,
        );
      out.push('', '</details>', '');
    }
  }
  out.push(
    `<sub>${c.queries.distinct} distinct Prometheus queries for both sides · acknowledgements are not simulated</sub>`,
  );
  return out.join('\n') + '\n';
}
