/**
 * The golden-signal guide as lint: warnings on specs that are valid but go against the guide (too many pages, one
 * quantile alone, shared dashboard owners, high-cardinality labels, double pages, numerators that can be absent).
 * `validate --strict` makes them errors. A file turns a rule off with a comment: `# sloe-lint-disable rule-name`.
 */
import type { Config, Slo } from '../model.js';
import type { Problem } from '../problem.js';
import type { Path, SourceDoc } from '../source.js';
import { HIGH_CARDINALITY_LABELS } from '../check/context.js';
import { withWindowStandIn } from '../promql.js';
import { absentNumerator, labelUses, metrics, quantiles } from './promql-facts.js';

/** The lint rules, by the name a disable comment uses, with what each one guards against. */
export const LINT_RULES = {
  'too-many-pages': 'more than 4 page-level SLOs in a service: too many and none get met',
  'single-quantile-latency':
    'a latency SLO on one quantile whose dashboard shows no other: p95 alone misses p99 incidents',
  'dashboard-owner': 'a dashboard without a real owner, or one owner string across unrelated services',
  'high-cardinality-label':
    'a user or request id in a selector, without() or on(): it must not be a metric label at all',
  'double-page':
    'error-rate and availability SLOs on the same counters both paging, neither holding the other (inhibits): one outage, two pages',
  'absent-numerator':
    'a ratio whose numerator has no series until the first bad event reads as no data on a healthy service',
  'silence-expired': 'a Silence whose window has ended: it silences nothing any more',
  'silence-matches-nothing': 'a Silence whose matchers match no SLO: a typo silences nothing',
} as const;

export type LintRule = keyof typeof LINT_RULES;

/** A warning of one lint rule at a position in a file. */
export interface LintWarning extends Problem {
  rule: LintRule;
}

export interface LintOptions {
  /** Labels that identify users or requests, besides the built-in ones. */
  highCardinalityLabels?: readonly string[];
}

/** An SLO as written, with the document and path it was read from and its checked model. */
export interface WrittenSlo {
  doc: SourceDoc;
  path: Path;
  raw: Record<string, unknown>;
  slo: Slo;
}

/** What every rule gets: the written SLOs, the documents, the configuration. */
export interface LintContext {
  slos: WrittenSlo[];
  docs: SourceDoc[];
  config: Config;
  options: LintOptions;
  warn(doc: SourceDoc, path: Path, rule: LintRule, message: string, offset?: number): void;
}

type Rule = (ctx: LintContext) => void;

const DISABLE = /#\s*sloe-lint-disable\s+([a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)/g;

/** The rules a file turns off with `# sloe-lint-disable rule-a, rule-b` comments. */
export function disabledRules(text: string): Set<string> {
  const off = new Set<string>();
  for (const m of text.matchAll(DISABLE)) for (const name of m[1]!.split(',')) off.add(name.trim());
  return off;
}

const RATIO_SIGNALS = new Set(['error_rate', 'guardrail_rate', 'cache_hit_rate']);

/** A threshold ratio whose numerator has no series until the first bad event: a no-data ticket for a healthy service. */
const absentNumeratorRule: Rule = (ctx) => {
  for (const { doc, path, raw, slo } of ctx.slos) {
    if (slo.kind !== 'threshold' || typeof raw.query !== 'string') continue;
    const found = absentNumerator(raw.query, !RATIO_SIGNALS.has(slo.signal));
    if (!found) continue;
    ctx.warn(
      doc,
      [...path, 'query'],
      'absent-numerator',
      `the numerator ${found.metric} has no series until the first such event: on a healthy service the ratio returns nothing and opens a no-data ticket; write (numerator or vector(0)) / denominator, or declare the SLO by signal from metrics:`,
      found.offset,
    );
  }
};

/** The most page-level SLOs the guide allows one service ("pick 3–4"). */
export const MAX_PAGES = 4;

const pages = (slo: Slo) =>
  slo.kind === 'threshold' ? slo.severity === 'page' : slo.tiers.some((t) => t.severity === 'page');

/** Whether one SLO's pages wait for the other's (dependsOn, inhibits): one fault pages once. */
const holds = (holder: Slo, held: Slo) =>
  held.inhibitedBy?.some((d) => d.ref === holder.id || d.ref === holder.service) === true;

/** Adds an item to the list of its key. */
function append<K, V>(lists: Map<K, V[]>, key: K, item: V): void {
  const list = lists.get(key);
  if (list) list.push(item);
  else lists.set(key, [item]);
}

const tooManyPages: Rule = (ctx) => {
  const byDoc = new Map<SourceDoc, WrittenSlo[]>();
  // A page another page of the service holds is not one more page of its own.
  const paging = ctx.slos.filter((w) => pages(w.slo));
  const byService = new Map<string, WrittenSlo[]>();
  for (const w of paging) append(byService, w.slo.service, w);
  for (const w of paging) {
    // Only an SLO that names what holds it (inhibitedBy) can be held.
    if (w.slo.inhibitedBy && byService.get(w.slo.service)!.some((o) => o !== w && holds(o.slo, w.slo))) continue;
    append(byDoc, w.doc, w);
  }
  for (const [doc, list] of byDoc) {
    if (list.length <= MAX_PAGES) continue;
    ctx.warn(
      doc,
      ['service'],
      'too-many-pages',
      `${list.length} SLOs page (${list.map((w) => w.slo.name).join(', ')}): the guide says pick ${MAX_PAGES - 1}–${MAX_PAGES} to page on, too many and none get met; make the others severity: ticket (an SLO whose pages another holds through inhibits is not counted)`,
    );
  }
};

/** All PromQL of an SLO as written: query, baseline, ratio parts (with `$window` as a range of the same length). */
function writtenQueries(w: WrittenSlo): Array<{ path: Path; expr: string }> {
  const out: Array<{ path: Path; expr: string }> = [];
  for (const key of ['query', 'baseline'] as const)
    if (typeof w.raw[key] === 'string') out.push({ path: [...w.path, key], expr: w.raw[key] as string });
  const ratio = w.raw.ratio as Record<string, unknown> | undefined;
  for (const key of ['bad', 'good', 'total'] as const) {
    if (typeof ratio?.[key] === 'string')
      out.push({ path: [...w.path, 'ratio', key], expr: withWindowStandIn(ratio[key] as string) });
  }
  return out;
}

/** The queries an SLO runs: written or derived. */
const modelQueries = (slo: Slo): string[] =>
  slo.kind === 'threshold'
    ? [slo.query, ...(slo.baseline !== undefined ? [slo.baseline] : [])]
    : [slo.ratio.bad ?? slo.ratio.good ?? '', slo.ratio.total].map(withWindowStandIn);

const singleQuantile: Rule = (ctx) => {
  const shown = new Map<string, Set<number>>();
  const latency = ctx.slos.filter((w) => w.slo.signal === 'latency');
  for (const w of latency) {
    const set = shown.get(w.slo.dashboard.id) ?? new Set<number>();
    for (const q of modelQueries(w.slo).flatMap(quantiles)) set.add(q);
    shown.set(w.slo.dashboard.id, set);
  }
  for (const w of latency) {
    const qs = shown.get(w.slo.dashboard.id)!;
    if (qs.size !== 1) continue;
    ctx.warn(
      w.doc,
      [...w.path, 'dashboard'],
      'single-quantile-latency',
      `latency SLO ${JSON.stringify(w.slo.name)} is the only quantile (${[...qs][0]}) on dashboard ${JSON.stringify(w.slo.dashboard.id)}: p95 alone misses p99 incidents; put p50/p95/p99 on the same dashboard (another latency SLO, e.g. quantile: 0.99 as a ticket)`,
    );
  }
};

const PLACEHOLDER_OWNER = /^(todo|tbd|tba|fixme|changeme|change-me|owner|nobody|none|unknown|n\/a|-|\?+|<.*>)$/i;

const ALIAS =
  /(^|[-_.\s@])(team|squad|group|guild|sre|ops|oncall|on-call|platform|eng|engineering|all|everyone|devs?)([-_.\s]|$)|^@/i;

const dashboardOwner: Rule = (ctx) => {
  const declared: Array<{ doc: SourceDoc; i: number; id: string; owner: string; service: string; team: string }> = [];
  for (const doc of ctx.docs) {
    const v = doc.value as Record<string, unknown> | null;
    if (!v || v.kind !== 'ServiceLevels' || !Array.isArray(v.dashboards)) continue;
    v.dashboards.forEach((d: unknown, i) => {
      const r = d as Record<string, unknown> | null;
      if (r && typeof r.owner === 'string' && typeof r.id === 'string')
        declared.push({ doc, i, id: r.id, owner: r.owner, service: String(v.service), team: String(v.owner) });
    });
  }
  for (const d of declared) {
    if (PLACEHOLDER_OWNER.test(d.owner.trim())) {
      ctx.warn(
        d.doc,
        ['dashboards', d.i, 'owner'],
        'dashboard-owner',
        `dashboard ${JSON.stringify(d.id)} has no real owner (${JSON.stringify(d.owner)}): one dashboard, one owner, a person who answers for it`,
      );
    }
  }
  // Services use dashboards by id, wherever declared. An owner string that names a team (a service's owner, or a
  // word such as team, squad, sre, platform, ops, @group) across several services is an alias: nobody in particular.
  const used = new Map<string, Set<string>>();
  for (const slo of ctx.config.slos)
    used.set(slo.dashboard.id, (used.get(slo.dashboard.id) ?? new Set()).add(slo.service));
  const teamNames = new Set(ctx.config.services.map((s) => s.owner));
  const byOwner = new Map<string, typeof declared>();
  for (const d of declared) append(byOwner, d.owner, d);
  for (const [owner, list] of byOwner) {
    if (!teamNames.has(owner) && !ALIAS.test(owner)) continue;
    const services = [...new Set(list.flatMap((d) => [...(used.get(d.id) ?? [d.service])]))].sort();
    if (services.length < 2) continue;
    for (const d of list) {
      ctx.warn(
        d.doc,
        ['dashboards', d.i, 'owner'],
        'dashboard-owner',
        `owner ${JSON.stringify(owner)} is a team alias on dashboards of several services (${services.join(', ')}): shared by everyone, owned by no one; name the one person who owns this dashboard`,
      );
    }
  }
};

const highCardinality: Rule = (ctx) => {
  const labels = new Set([...HIGH_CARDINALITY_LABELS, ...(ctx.options.highCardinalityLabels ?? [])]);
  for (const w of ctx.slos) {
    for (const { path, expr } of writtenQueries(w)) {
      for (const use of labelUses(expr)) {
        if (use.as === 'by' || !labels.has(use.label)) continue;
        const how = use.as === 'matcher' ? 'selects on' : `names in ${use.as}()`;
        ctx.warn(
          w.doc,
          path,
          'high-cardinality-label',
          `${String(path[path.length - 1])} ${how} high-cardinality label ${JSON.stringify(use.label)}: a metric that has it explodes the metrics database; keep per-user and per-request ids in traces and logs`,
          use.offset,
        );
      }
    }
  }
};

const doublePage: Rule = (ctx) => {
  const byService = new Map<string, WrittenSlo[]>();
  for (const w of ctx.slos) if (w.slo.signal === 'error_rate' && pages(w.slo)) append(byService, w.slo.service, w);
  for (const list of byService.values()) {
    const seen = new Map<string, WrittenSlo>();
    for (const w of list) {
      const counters = [...new Set(modelQueries(w.slo).flatMap(metrics))].filter(Boolean);
      const first = counters
        .map((c) => [c, seen.get(c)] as const)
        .find(([, f]) => f !== undefined && !holds(f.slo, w.slo) && !holds(w.slo, f.slo));
      if (first) {
        ctx.warn(
          w.doc,
          [...w.path, 'name'],
          'double-page',
          `${JSON.stringify(w.slo.name)} and ${JSON.stringify(first[1]!.slo.name)} both page on ${first[0]}: one outage pages twice; let the one that fires first hold the other (inhibits: [${w.slo.name}] on ${JSON.stringify(first[1]!.slo.name)}), or keep the burn-rate (availability) SLO as the page and make the other severity: ticket`,
        );
      }
      for (const c of counters) if (!seen.has(c)) seen.set(c, w);
    }
  }
};

const RULES: Rule[] = [tooManyPages, singleQuantile, dashboardOwner, highCardinality, doublePage, absentNumeratorRule];

/** Runs every lint rule over checked documents; warnings come in file order. */
export function lint(docs: SourceDoc[], config: Config, options: LintOptions = {}): LintWarning[] {
  const warnings: LintWarning[] = [];
  const disabled = new Map<string, Set<string>>();
  const off = (doc: SourceDoc) => {
    let set = disabled.get(doc.file);
    if (!set) disabled.set(doc.file, (set = disabledRules(doc.text)));
    return set;
  };
  const byId = new Map(config.slos.map((s) => [s.id, s]));
  const slos: WrittenSlo[] = [];
  for (const doc of docs) {
    const value = doc.value as Record<string, unknown> | null;
    if (!value || typeof value !== 'object' || value.kind !== 'ServiceLevels' || !Array.isArray(value.slos)) continue;
    value.slos.forEach((raw: unknown, i) => {
      if (!raw || typeof raw !== 'object') return;
      const slo = byId.get(`${String(value.service)}/${String((raw as Record<string, unknown>).name)}`);
      if (slo && slo.source.file === doc.file)
        slos.push({ doc, path: ['slos', i], raw: raw as Record<string, unknown>, slo });
    });
  }
  const ctx: LintContext = {
    slos,
    docs,
    config,
    options,
    warn(doc, path, rule, message, offset) {
      if (off(doc).has(rule)) return;
      const at = offset === undefined ? doc.problem(path, message) : doc.problemInString(path, offset, message);
      warnings.push({ ...at, rule });
    },
  };
  for (const rule of RULES) rule(ctx);
  return warnings.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) || a.line - b.line || a.col - b.col);
}

/** `path:line:col: warning: message [rule]`. */
export function formatWarning(w: LintWarning): string {
  return `${w.file}:${w.line}:${w.col}: warning: ${w.message} [${w.rule}]`;
}
