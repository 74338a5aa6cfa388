/**
 * Writes SLOs as Prometheus recording and alerting rules, for teams that let Prometheus (or a Thanos or Mimir ruler)
 * evaluate and Alertmanager route. Where a rule cannot say exactly what sloe does, the SLO's notes say how it differs.
 */
import { Document, type YAMLMap, isMap, isSeq } from 'yaml';
import {
  type Config,
  type RatioSlo,
  type Slo,
  type ThresholdSlo,
  errorRatioLimit,
  formatDuration,
} from '../rules/index.js';
import { num, pascalName, percent } from './names.js';
import { fillWindow } from '../rules/window.js';

/** One Prometheus rule as the rule file holds it. */
export interface PrometheusRule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  keep_firing_for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A rule group: one per SLO, evaluated at the SLO's interval. */
export interface RuleGroup {
  name: string;
  interval: string;
  rules: PrometheusRule[];
}

/** The rules of every SLO, and per SLO what the rules do differently from sloe. */
export interface PrometheusRulesExport {
  groups: RuleGroup[];
  /** By SLO id (`service/name`): sloe behaviour the rules do not reproduce exactly. */
  notes: Map<string, string[]>;
  /** The rule file, with the notes as comments. */
  text: string;
}

/** Names of the series the recording rules write. */
export const RECORDED = {
  sli: 'sloe:sli:value',
  baseline: 'sloe:baseline:value',
  errorRatio: (windowMs: number) => `sloe:error_ratio:rate${formatDuration(windowMs)}`,
  total: (windowMs: number) => `sloe:events:rate${formatDuration(windowMs)}`,
} as const;

/** The names of the alerts of one SLO. */
export function alertNames(slo: Slo): { breach: string; burnRate: string; noData: string } {
  const base = pascalName(slo.service, slo.name);
  return { breach: `${base}Breach`, burnRate: `${base}BurnRate`, noData: `${base}NoData` };
}

/** What holds for every SLO exported, said once at the top of the file. */
const HEADER = [
  'Prometheus rules written by `sloe export prometheus-rules` from the SLO files; edit those, not this file.',
  'How these rules differ from sloe itself, for every SLO:',
  '- sloe keeps one incident per SLO instance at the severity of its worst firing burn-rate tier; here each tier',
  '  is its own alert. Let Alertmanager inhibit ticket by page:',
  '    inhibit_rules: [{ source_matchers: [severity="page"], target_matchers: [severity="ticket"], equal: [service, slo] }]',
  '- Escalation policies (Slack, PagerDuty, on-call) are not rules: route on the `escalation`, `owner` and',
  '  `severity` labels in Alertmanager.',
  '- While data is missing sloe keeps an open incident open; Prometheus resolves the alert after keep_firing_for,',
  '  and the no-data alert (if any) fires after its `for`.',
  '- maxSeries is not enforced: a query returning too many series alerts once per series.',
  '- Burn rates are one rate() over each window; sloe sums base rates over the window. Both agree within an',
  '  evaluation step on steady scrapes.',
];

/** The rules of every SLO in the configuration. */
export function prometheusRules(config: Config): PrometheusRulesExport {
  const groups: RuleGroup[] = [];
  const notes = new Map<string, string[]>();
  for (const slo of config.slos) {
    const { rules, notes: sloNotes } = slo.kind === 'ratio' ? ratioRules(slo) : thresholdRules(slo);
    groups.push({ name: `sloe-${slo.service}-${slo.name}`, interval: formatDuration(slo.intervalMs), rules });
    notes.set(slo.id, sloNotes);
  }
  return { groups, notes, text: render(config, groups, notes) };
}

function selector(slo: Slo): string {
  return `{service=${JSON.stringify(slo.service)}, slo=${JSON.stringify(slo.name)}}`;
}

/** Labels every alert of the SLO carries: who owns it and how sloe would have escalated it. */
function alertLabels(slo: Slo, severity: string): Record<string, string> {
  return { ...slo.labels, service: slo.service, slo: slo.name, severity, owner: slo.owner, escalation: slo.escalation };
}

function annotations(slo: Slo, summary: string): Record<string, string> {
  return {
    summary,
    ...(slo.description ? { description: slo.description } : {}),
    dashboard: slo.dashboard.url ?? slo.dashboard.title,
    ...(slo.runbook ? { runbook: slo.runbook } : {}),
  };
}

/** `for` and `keep_firing_for` from the SLO's `for` and `resolveAfter`. */
function timing(forMs: number, resolveAfterMs: number): Pick<PrometheusRule, 'for' | 'keep_firing_for'> {
  return {
    ...(forMs > 0 ? { for: formatDuration(forMs) } : {}),
    ...(resolveAfterMs > 0 ? { keep_firing_for: formatDuration(resolveAfterMs) } : {}),
  };
}

function recordLabels(slo: Slo): Record<string, string> {
  return { service: slo.service, slo: slo.name };
}

function thresholdRules(slo: ThresholdSlo): { rules: PrometheusRule[]; notes: string[] } {
  const notes: string[] = [];
  const sel = selector(slo);
  const value = `${RECORDED.sli}${sel}`;
  const baseline = `${RECORDED.baseline}${sel}`;
  const rules: PrometheusRule[] = [{ record: RECORDED.sli, expr: slo.query.trim(), labels: recordLabels(slo) }];
  if (slo.baseline !== undefined)
    rules.push({ record: RECORDED.baseline, expr: slo.baseline.trim(), labels: recordLabels(slo) });

  let expr: string;
  const when = slo.when;
  if (when.kind === 'threshold') {
    expr = `${value} ${when.op} ${num(when.value)}`;
  } else {
    const moved = when.direction === 'drop' ? `(${baseline} - ${value})` : `(${value} - ${baseline})`;
    expr = when.relative
      ? `${moved} / abs(${baseline}) ${when.op} ${num(when.value)} and ${baseline} != 0`
      : `${moved} ${when.op} ${num(when.value)}`;
    notes.push(
      'the baseline is matched to the value series label for label; sloe also applies a baseline of one series without labels to every value series',
    );
  }
  const objective = slo.objective ? ` (objective ${slo.objective.text})` : '';
  rules.push({
    alert: alertNames(slo).breach,
    expr,
    ...timing(slo.forMs, slo.resolveAfterMs),
    labels: alertLabels(slo, slo.severity),
    annotations: annotations(slo, `${slo.id}: ${when.text}${objective}`),
  });
  const missing = [`absent(${value})`, `${value} != ${value}`];
  if (slo.baseline !== undefined) missing.push(`absent(${baseline})`, `${baseline} != ${baseline}`);
  rules.push(...noDataRules(slo, missing.join(' or '), notes));
  return { rules, notes };
}

function ratioRules(slo: RatioSlo): { rules: PrometheusRule[]; notes: string[] } {
  const notes: string[] = [];
  const sel = selector(slo);
  const fill = (q: string, windowMs: number) => fillWindow(q.trim(), formatDuration(windowMs));
  const windows = [...new Set(slo.tiers.flatMap((t) => [t.shortMs, t.longMs]))].sort((a, b) => a - b);
  // The rate of all events is recorded for the windows that need it on its own (the no-data check, minEvents); the
  // error ratio of a bad/total SLI is missing when no bad series exists, which fires nothing, as 0 bad events would.
  const longest = windows[windows.length - 1]!;
  const totals = new Set([longest, ...(slo.minEvents > 0 ? slo.tiers.map((t) => t.longMs) : [])]);
  const rules: PrometheusRule[] = [];
  for (const w of windows) {
    const total = `(${fill(slo.ratio.total, w)})`;
    if (totals.has(w))
      rules.push({ record: RECORDED.total(w), expr: fill(slo.ratio.total, w), labels: recordLabels(slo) });
    const expr =
      slo.ratio.bad !== undefined
        ? `(${fill(slo.ratio.bad, w)}) / ${total}`
        : `clamp_min(1 - ((${fill(slo.ratio.good!, w)}) or ${total} * 0) / ${total}, 0)`;
    rules.push({ record: RECORDED.errorRatio(w), expr, labels: recordLabels(slo) });
  }
  for (const tier of slo.tiers) {
    const limit = num(errorRatioLimit(tier.factor, slo.objective));
    const long = formatDuration(tier.longMs);
    const short = formatDuration(tier.shortMs);
    const parts = [
      `${RECORDED.errorRatio(tier.longMs)}${sel} > ${limit}`,
      `${RECORDED.errorRatio(tier.shortMs)}${sel} > ${limit}`,
    ];
    if (slo.minEvents > 0)
      parts.push(`${RECORDED.total(tier.longMs)}${sel} * ${tier.longMs / 1000} >= ${slo.minEvents}`);
    rules.push({
      alert: alertNames(slo).burnRate,
      expr: parts.join('\nand\n'),
      ...timing(slo.forMs, slo.resolveAfterMs),
      labels: { ...alertLabels(slo, tier.severity), long, short },
      annotations: annotations(
        slo,
        `${slo.id}: error budget burning faster than ${num(tier.factor)}× over ${long} and ${short} (${percent(tier.budget)} of the ${formatDuration(slo.windowMs)} budget, objective ${percent(slo.objective)})`,
      ),
    });
  }
  rules.push(...noDataRules(slo, `absent(${RECORDED.total(longest)}${sel})`, notes));
  return { rules, notes };
}

function noDataRules(slo: Slo, expr: string, notes: string[]): PrometheusRule[] {
  if (slo.noData === 'keep') {
    notes.push(
      'noData: keep (hold the last state while data is missing) has no rule equivalent: the alert resolves after keep_firing_for',
    );
    return [];
  }
  if (slo.noData === 'ok') return [];
  return [
    {
      alert: alertNames(slo).noData,
      expr,
      ...timing(slo.noDataForMs, slo.resolveAfterMs),
      labels: alertLabels(slo, 'ticket'),
      annotations: annotations(slo, `${slo.id}: no data for ${formatDuration(slo.noDataForMs)}`),
    },
  ];
}

function render(config: Config, groups: RuleGroup[], notes: Map<string, string[]>): string {
  const doc = new Document({ groups });
  doc.commentBefore = HEADER.map((l) => ` ${l}`).join('\n');
  const seq = doc.get('groups');
  if (isSeq(seq)) {
    seq.items.forEach((item, i) => {
      const slo = config.slos[i]!;
      const lines = notes.get(slo.id) ?? [];
      if (isMap(item)) {
        (item as YAMLMap).commentBefore = [
          ` ${slo.id} (${slo.kind === 'ratio' ? 'ratio SLO, burn-rate alerts' : slo.baseline !== undefined ? 'baseline SLO' : 'threshold SLO'}), from ${slo.source.file}:${slo.source.line}`,
          ...(lines.length
            ? lines.map((n) => ` not expressible as rules: ${n}`)
            : [' expressed in full by these rules']),
        ].join('\n');
      }
    });
  }
  return doc.toString({ lineWidth: 0 });
}
