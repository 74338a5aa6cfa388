/**
 * The golden-signal guide as lint: warnings on specs that are valid but go against the guide (too many pages, one
 * quantile alone, shared dashboard owners, high-cardinality labels, double pages, numerators that can be absent).
 * `validate --strict` makes them errors. A file turns a rule off with a comment: `# sloe-lint-disable rule-name`.
 */
import type { Config, Slo } from '../model.js';
import type { Problem } from '../problem.js';
import type { Path, SourceDoc } from '../source.js';
import { absentNumerator } from './promql-facts.js';

/** The lint rules, by the name a disable comment uses, with what each one guards against. */
export const LINT_RULES = {
  'absent-numerator': 'a ratio whose numerator has no series until the first bad event reads as no data on a healthy service',
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

const RULES: Rule[] = [absentNumeratorRule];

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
      if (slo && slo.source.file === doc.file) slos.push({ doc, path: ['slos', i], raw: raw as Record<string, unknown>, slo });
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
