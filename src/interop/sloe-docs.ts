/** sloe documents as an import writes them: plain objects in the shape of the SLO files, rendered as YAML. */
import { Document } from 'yaml';
import { OWNER_PLACEHOLDER, type Problem } from '../rules/index.js';
import { sloeName } from './names.js';

export { OWNER_PLACEHOLDER };

export interface BurnRateTierDoc {
  severity: 'page' | 'ticket';
  budget: string;
  long: string;
  short?: string;
}

export interface AlertDoc {
  when?: string;
  for?: string;
  resolveAfter?: string;
  severity?: 'page' | 'ticket';
  burnRate?: 'workbook' | BurnRateTierDoc[];
  minEvents?: number;
}

export interface SloDoc {
  name: string;
  signal: string;
  dashboard: string;
  description?: string;
  runbook?: string;
  query?: string;
  baseline?: string;
  ratio?: { bad?: string; good?: string; total: string };
  objective?: string;
  window?: string;
  interval?: string;
  escalation?: string;
  labels?: Record<string, string>;
  noData?: 'alert' | 'ok' | 'keep';
  noDataFor?: string;
  maxSeries?: number;
  alert?: AlertDoc;
  dependsOn?: string[];
  inhibits?: string[];
  inhibitFor?: string;
  compare?: { label: string; baseline: string; when?: string; minEvents?: number };
}

export interface ServiceLevelsDoc {
  apiVersion: 'sloe/v1';
  kind: 'ServiceLevels';
  service: string;
  owner: string;
  escalation?: string;
  description?: string;
  labels?: Record<string, string>;
  dashboards?: Array<{ id: string; title?: string; url?: string; owner: string }>;
  slos: SloDoc[];
}

export type StepDoc =
  | { after?: string; notify: 'slack'; channel: string }
  | { after?: string; notify: 'pagerduty'; routingKey: string; severity?: string }
  | { after?: string; notify: 'oncall'; schedule: string };

export interface EscalationPolicyDoc {
  apiVersion: 'sloe/v1';
  kind: 'EscalationPolicy';
  name: string;
  page?: StepDoc[];
  ticket?: StepDoc[];
}

/** A document and the comment written above it. */
export interface OutputDoc {
  doc: ServiceLevelsDoc | EscalationPolicyDoc;
  comment?: string[];
}

/** The result of an import: sloe files by name (one per service), problems that stop it, notes that do not. */
export interface ImportResult {
  files: Array<{ name: string; docs: OutputDoc[] }>;
  /** Input that cannot be mapped; nothing is written when there are any. */
  problems: Problem[];
  /** Input sloe takes differently (said in the output as comments too). */
  notes: Problem[];
}

/** The order of an SLO's keys in the files sloe's examples use. */
const SLO_KEYS: ReadonlyArray<keyof SloDoc> = [
  'name',
  'signal',
  'dashboard',
  'description',
  'runbook',
  'query',
  'baseline',
  'ratio',
  'objective',
  'window',
  'interval',
  'escalation',
  'labels',
  'noData',
  'noDataFor',
  'maxSeries',
  'alert',
  'dependsOn',
  'inhibits',
  'inhibitFor',
  'compare',
];

function ordered(doc: OutputDoc['doc']): OutputDoc['doc'] {
  if (doc.kind !== 'ServiceLevels') return doc;
  const slos = doc.slos.map(
    (s) => Object.fromEntries(SLO_KEYS.filter((k) => s[k] !== undefined).map((k) => [k, s[k]])) as unknown as SloDoc,
  );
  return { ...doc, slos };
}

/** Renders documents as one YAML file. */
export function renderDocs(docs: OutputDoc[]): string {
  return docs
    .map(({ doc, comment }) => {
      const d = new Document(ordered(doc));
      if (comment?.length) d.commentBefore = comment.map((c) => ` ${c}`).join('\n');
      return d.toString({ lineWidth: 0 });
    })
    .join('---\n');
}

/** The escalation policy an import generates for a service: Slack and PagerDuty, their targets from the environment. */
export function defaultPolicy(service: string, name = `${service}-default`): EscalationPolicyDoc {
  const channel = `\${SLACK_CHANNEL_${service.toUpperCase().replace(/-/g, '_')}}`;
  return {
    apiVersion: 'sloe/v1',
    kind: 'EscalationPolicy',
    name,
    page: [
      { notify: 'slack', channel },
      { after: '10m', notify: 'pagerduty', routingKey: '${PAGERDUTY_ROUTING_KEY}' },
    ],
    ticket: [{ notify: 'slack', channel }],
  };
}

/** The signal an imported SLO most likely watches, from its name and queries. */
export function guessSignal(name: string, queries: string[], ratio: boolean): string {
  const text = [name, ...queries].join(' ').toLowerCase();
  if (/latency|duration|histogram_quantile|_bucket/.test(text)) return 'latency';
  if (ratio || /error|availability|5\.\./.test(text)) return 'error_rate';
  return 'custom';
}

/** A name sloe accepts, or undefined when nothing of the text is left. */
export function nameFrom(text: string): string | undefined {
  const n = sloeName(text).slice(0, 63).replace(/-+$/, '');
  return n === '' ? undefined : n;
}

/** Replaces the ranges of a Prometheus query with `$window`: `[5m]` → `[$window]` (subqueries are left alone). */
export function windowed(query: string): { query: string; ranges: number } {
  let ranges = 0;
  const out = query.replace(/\[\s*[0-9][0-9a-z]*\s*\]/g, () => {
    ranges++;
    return '[$window]';
  });
  return { query: out, ranges };
}

const SELECTOR = String.raw`[a-zA-Z_:][\w:]*(?:\{[^{}]*\})?`;
const BARE = new RegExp(`^\\s*(${SELECTOR})\\s*$`);
const AGGREGATED = new RegExp(
  `^\\s*(sum|min|max|avg)\\s*((?:by|without)\\s*\\([^()]*\\))?\\s*\\(\\s*(${SELECTOR})\\s*\\)\\s*$`,
);

/**
 * A counter query as a sloe ratio part: its ranges become `$window`; a counter without a range (`requests_total{…}`,
 * `sum(requests_total{…})`) becomes a rate over `$window`. Undefined when sloe cannot tell which range to use.
 */
export function ratioPart(query: string, counter: boolean): string | undefined {
  const w = windowed(query);
  if (w.ranges > 0) return w.query;
  if (!counter) return undefined;
  const bare = BARE.exec(query);
  if (bare) return `sum(rate(${bare[1]}[$window]))`;
  const agg = AGGREGATED.exec(query);
  if (agg) return `${agg[1]}${agg[2] ? ` ${agg[2]}` : ''}(rate(${agg[3]}[$window]))`;
  return undefined;
}
