/**
 * One SLO, once every document has been read: its service's defaults, its dashboard and escalation policy declared
 * somewhere, then by kind — a ratio SLO's objective, window and burn-rate tiers; a query SLO's objective, breach
 * condition and baseline — and its queries (queries.ts).
 */
import { burnFactor, defaultShortMs, maxBurnRate, WORKBOOK_TIERS } from '../burn-rate.js';
import { type Condition, type Threshold, parseCondition, parsePercent } from '../condition.js';
import { formatDuration, parseDuration } from '../duration.js';
import { type BurnRateTier, DEFAULTS, type RatioSlo, type Slo } from '../model.js';
import { presetSlo } from '../presets/check-presets.js';
import type { SloDoc } from '../schema.js';
import type { Path, SourceDoc } from '../source.js';
import type { CheckContext, SloCandidate } from './context.js';
import { withCompare } from './compare.js';
import { checkQuery } from './queries.js';

/** An SLO before its dashboard is attached. */
type SloDraft = Slo extends infer T ? (T extends Slo ? Omit<T, 'dashboard'> : never) : never;
type SloCommonFields = Omit<
  SloDraft,
  'kind' | 'query' | 'baseline' | 'objective' | 'when' | 'severity' | 'ratio' | 'windowMs' | 'tiers' | 'minEvents'
>;
/** The path of a field of this SLO: `at('alert', 'for')` is `slos[i].alert.for`. */
type At = (...p: Array<string | number>) => Path;

/** Checks one SLO and builds its model; undefined when it has a problem. */
export function checkSlo(ctx: CheckContext, candidate: SloCandidate): Slo | undefined {
  const { doc, index, context } = candidate;
  const at: At = (...p) => ['slos', index, ...p];
  const before = ctx.problems.length;
  if (context.metrics === 'flawed' && candidate.slo.query === undefined && candidate.slo.ratio === undefined)
    return undefined;
  const preset = presetSlo(
    candidate.slo,
    context.metrics === 'flawed' ? undefined : context.metrics,
    ctx.highCardinality,
  );
  if ('problems' in preset) {
    ctx.presetProblems(doc, at(), preset.problems);
    return undefined;
  }
  const s = preset.slo;
  const fail = (path: Path, message: string) => ctx.problem(doc, path, message);
  const alert = s.alert ?? {};

  const dashboard = ctx.dashboards.get(s.dashboard);
  if (!dashboard && !ctx.flawed.dashboards.has(s.dashboard)) {
    fail(
      at('dashboard'),
      `dashboard ${JSON.stringify(s.dashboard)} is not declared (list it under dashboards: with its owner, in any file)`,
    );
  }
  const escalation = s.escalation ?? context.escalation;
  if (escalation === undefined) {
    fail(
      at('name'),
      `SLO ${JSON.stringify(s.name)} has no escalation policy: set escalation on the SLO or on the service`,
    );
  } else if (!ctx.policies.has(escalation) && !ctx.flawed.policies.has(escalation)) {
    const path: Path = s.escalation !== undefined ? at('escalation') : ['escalation'];
    fail(path, `escalation policy ${JSON.stringify(escalation)} is not declared (kind: EscalationPolicy)`);
  }

  const intervalMs =
    s.interval !== undefined ? ctx.positiveDuration(doc, at('interval'), s.interval) : context.intervalMs;
  const noDataForMs =
    s.noDataFor !== undefined ? ctx.positiveDuration(doc, at('noDataFor'), s.noDataFor) : DEFAULTS.noDataForMs;
  const forMs = alert.for !== undefined ? (parseDuration(alert.for) ?? 0) : 0;
  const resolveAfterMs =
    alert.resolveAfter !== undefined ? (parseDuration(alert.resolveAfter) ?? 0) : DEFAULTS.resolveAfterMs;

  if (s.ratio && s.query) fail(at('ratio'), 'an SLO takes either query or ratio, not both');
  if (!s.ratio && !s.query)
    fail(
      at('name'),
      `SLO ${JSON.stringify(s.name)} needs a query or a ratio (or metrics: on the service, to declare it by signal)`,
    );

  const common: SloCommonFields = {
    id: `${context.service ?? ''}/${s.name}`,
    service: context.service ?? '',
    name: s.name,
    signal: s.signal,
    owner: context.owner,
    description: s.description,
    runbook: s.runbook,
    intervalMs: intervalMs ?? DEFAULTS.intervalMs,
    escalation: escalation ?? '',
    labels: { ...context.labels, ...(s.labels ?? {}) },
    noData: s.noData ?? 'alert',
    noDataForMs: noDataForMs ?? DEFAULTS.noDataForMs,
    maxSeries: s.maxSeries ?? DEFAULTS.maxSeries,
    forMs,
    resolveAfterMs,
    source: ctx.loc(doc, at('name')),
    ...(preset.derived ? { derived: true as const } : {}),
  };

  let built: SloDraft | undefined;
  if (s.ratio && !s.query) built = ratioSlo(ctx, doc, at, s, common);
  else if (s.query && !s.ratio) built = thresholdSlo(ctx, doc, at, s, common);
  if (built)
    built = withCompare(built, s, preset.derived, ctx.highCardinality, (problems) =>
      ctx.presetProblems(doc, at(), problems),
    );
  if (!built || !dashboard || ctx.problems.length > before || context.service === undefined) return undefined;
  return { ...built, dashboard };
}

function ratioSlo(ctx: CheckContext, doc: SourceDoc, at: At, s: SloDoc, common: SloCommonFields): SloDraft | undefined {
  const ratio = s.ratio!;
  const alert = s.alert ?? {};
  const fail = (path: Path, message: string) => ctx.problem(doc, path, message);
  if (ratio.bad !== undefined && ratio.good !== undefined)
    fail(at('ratio', 'good'), 'ratio takes exactly one of bad and good');
  if (ratio.bad === undefined && ratio.good === undefined) fail(at('ratio'), 'ratio needs bad or good (plus total)');
  for (const key of ['bad', 'good', 'total'] as const) {
    const q = ratio[key];
    if (q !== undefined) checkQuery(ctx, doc, at('ratio', key), q, true);
  }
  if (s.baseline !== undefined) fail(at('baseline'), 'baseline applies to query SLOs, not ratio SLOs');
  if (alert.when !== undefined)
    fail(at('alert', 'when'), 'alert.when applies to query SLOs; a ratio SLO alerts on its burn rate (alert.burnRate)');
  if (alert.severity !== undefined)
    fail(
      at('alert', 'severity'),
      'alert.severity does not apply to ratio SLOs: each burn-rate tier has its own severity',
    );

  let objective: number | undefined;
  if (s.objective === undefined) {
    fail(at('name'), `ratio SLO ${JSON.stringify(s.name)} needs an objective: the share of good events, such as 99.9%`);
  } else {
    objective = parsePercent(s.objective);
    if (objective === undefined)
      fail(at('objective'), 'the objective of a ratio SLO is a percentage of good events, such as 99.9%');
    else if (objective <= 0 || objective >= 1)
      fail(at('objective'), 'objective must be between 0% and 100%, both exclusive');
  }
  const windowMs = s.window !== undefined ? ctx.positiveDuration(doc, at('window'), s.window) : DEFAULTS.windowMs;
  const tiers = burnRateTiers(ctx, doc, at, s, objective, windowMs);

  if (objective === undefined || windowMs === undefined) return undefined;
  return {
    ...common,
    kind: 'ratio',
    ratio: ratioParts(ratio.bad, ratio.good, ratio.total),
    objective,
    windowMs,
    tiers: ctx.shared(JSON.stringify(tiers), tiers),
    minEvents: alert.minEvents ?? DEFAULTS.minEvents,
  };
}

/**
 * A ratio SLO's tiers (`alert.burnRate`: `workbook`, the default, or a list) with their factors: each tier's windows
 * and budget valid, its long window within the SLO window, and its factor reachable under the objective.
 */
function burnRateTiers(
  ctx: CheckContext,
  doc: SourceDoc,
  at: At,
  s: SloDoc,
  objective: number | undefined,
  windowMs: number | undefined,
): BurnRateTier[] {
  const fail = (path: Path, message: string) => ctx.problem(doc, path, message);
  const tiers: BurnRateTier[] = [];
  const burnRate = s.alert?.burnRate ?? 'workbook';
  const tierPath = (i: number): Path =>
    burnRate === 'workbook' ? at('alert', 'burnRate') : at('alert', 'burnRate', i);
  // The budget as written (or, for the Workbook's tiers, as a percentage) is asked for only by a tier that cannot fire.
  const budgetText = (i: number) =>
    burnRate === 'workbook' ? `${WORKBOOK_TIERS[i]!.budget * 100}%` : burnRate[i]!.budget.trim();
  const specs =
    burnRate === 'workbook'
      ? WORKBOOK_TIERS
      : burnRate.map((t, i) => {
          const budget = parsePercent(t.budget) ?? NaN;
          if (!(budget > 0 && budget <= 1))
            fail(at('alert', 'burnRate', i, 'budget'), 'budget must be more than 0% and at most 100%');
          const longMs = ctx.positiveDuration(doc, at('alert', 'burnRate', i, 'long'), t.long) ?? NaN;
          const shortMs =
            t.short !== undefined
              ? (ctx.positiveDuration(doc, at('alert', 'burnRate', i, 'short'), t.short) ?? NaN)
              : defaultShortMs(longMs);
          if (shortMs >= longMs)
            fail(at('alert', 'burnRate', i, 'short'), 'the short window must be shorter than the long window');
          return { severity: t.severity, budget, longMs, shortMs };
        });
  specs.forEach((t, i) => {
    if (windowMs === undefined || objective === undefined || Number.isNaN(t.longMs) || Number.isNaN(t.budget)) return;
    if (t.longMs > windowMs) {
      fail(
        at('alert', 'burnRate', i, 'long'),
        `the long window ${formatDuration(t.longMs)} is longer than the SLO window ${formatDuration(windowMs)}`,
      );
      return;
    }
    const factor = burnFactor(t.budget, windowMs, t.longMs);
    const maxBurn = maxBurnRate(objective);
    if (factor > maxBurn + 1e-9) {
      fail(
        tierPath(i),
        `burn-rate tier ${t.severity} ${budgetText(i)}/${formatDuration(t.longMs)} can never fire: it needs a burn rate of ${round(factor)}, but a ${round(objective * 100)}% objective allows at most ${round(maxBurn)} (every event bad)`,
      );
    }
    tiers.push({ severity: t.severity, budget: t.budget, longMs: t.longMs, shortMs: t.shortMs, factor });
  });
  return tiers;
}

function thresholdSlo(
  ctx: CheckContext,
  doc: SourceDoc,
  at: At,
  s: SloDoc,
  common: SloCommonFields,
): SloDraft | undefined {
  const alert = s.alert ?? {};
  const fail = (path: Path, message: string) => ctx.problem(doc, path, message);
  checkQuery(ctx, doc, at('query'), s.query!, false);
  if (s.baseline !== undefined) checkQuery(ctx, doc, at('baseline'), s.baseline, false);
  if (alert.burnRate !== undefined) fail(at('alert', 'burnRate'), 'alert.burnRate applies to ratio SLOs only');
  if (alert.minEvents !== undefined) fail(at('alert', 'minEvents'), 'alert.minEvents applies to ratio SLOs only');
  if (s.window !== undefined) fail(at('window'), 'window applies to ratio SLOs only');

  let objective: Threshold | undefined;
  if (s.objective !== undefined) {
    const c = parseCondition(s.objective);
    if (c?.kind === 'threshold') objective = c;
    else fail(at('objective'), 'the objective of a query SLO is a condition such as "< 3.5" or "> 30%"');
  }
  let when: Condition | undefined;
  if (alert.when !== undefined) {
    when = parseCondition(alert.when);
    if (when?.kind === 'change' && s.baseline === undefined) {
      fail(
        at('alert', 'when'),
        `${JSON.stringify(alert.when)} is measured against a baseline, but this SLO has no baseline`,
      );
    }
  } else if (objective) {
    when = negate(objective);
  } else if (s.objective === undefined) {
    fail(at('name'), `SLO ${JSON.stringify(s.name)} needs alert.when or an objective to know what a breach is`);
  }
  if (s.baseline !== undefined && when !== undefined && when.kind !== 'change') {
    fail(at('baseline'), 'baseline is only used by drop/rise conditions (alert.when: "drop > 5")');
  }
  if (!when) return undefined;
  return {
    ...common,
    kind: 'threshold',
    query: s.query!,
    ...(s.baseline !== undefined ? { baseline: s.baseline } : {}),
    ...(objective ? { objective } : {}),
    when,
    severity: alert.severity ?? 'page',
  };
}

/**
 * A ratio's queries, without the part it does not have. Written out rather than spread: an object built by spreads
 * gets a hidden class of its own, which the engine would keep per SLO.
 */
function ratioParts(bad: string | undefined, good: string | undefined, total: string): RatioSlo['ratio'] {
  if (bad === undefined) return good === undefined ? { total } : { good, total };
  return good === undefined ? { bad, total } : { bad, good, total };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** The breach condition implied by an objective: `< 3.5` is breached at `>= 3.5`. */
function negate(objective: Threshold): Threshold {
  const op = ({ '<': '>=', '<=': '>', '>': '<=', '>=': '<' } as const)[objective.op];
  return { kind: 'threshold', op, value: objective.value, text: `not ${objective.text}` };
}
