/**
 * Checks SLO documents against the schema and against each other, and builds the internal model from what passed.
 * Every problem names the offending node; one run reports all of them.
 *
 * `check()` is the one entry point. It reads each document (its `${NAME}` references, apiVersion, kind and schema)
 * and hands it to the check of its kind in check/; what needs every document read (SLOs, references between files,
 * warnings) runs after. All of them share one CheckContext (check/context.ts): the options, the problems, and what
 * has been declared where. Where a new check goes:
 *   - a new kind of document: a `checkX(ctx, doc, raw)` in check/x.ts, called from the switch in `checkDocument`;
 *   - a check within one document (a field, a rule between fields of one SLO or policy): in its kind's file —
 *     check/services.ts (services, dashboards), policies.ts (with group.ts for `group:`), schedules.ts,
 *     silences.ts, slos.ts (with compare.ts for `compare:`), queries.ts (PromQL);
 *   - a check across documents (a reference, a cycle between SLOs or policies): a function of the context called in
 *     `check()` after the SLOs are built, as check/dependencies.ts (dependsOn, inhibits, their cycles) and
 *     `checkScheduleReferences` are.
 * The burn-rate tiers and their maths are data and functions in burn-rate.ts, shared with the exports and the budget.
 */
import { parseDuration } from './duration.js';
import { EnvAllowList } from './env.js';
import type { Config, EscalationPolicy, OnCallSchedule } from './model.js';
import type { Problem } from './problem.js';
import { API_VERSION, KINDS, type Kind } from './schema.js';
import { schemaProblems } from './schema-issues.js';
import type { SourceDoc } from './source.js';
import { CheckContext, type CheckOptions, type EnvProblem, type SilenceWarning } from './check/context.js';
import { checkPolicy, checkScheduleReferences } from './check/policies.js';
import { checkReferences } from './check/references.js';
import { checkSchedule } from './check/schedules.js';
import { checkServiceLevels } from './check/services.js';
import { checkSilence, silenceWarnings } from './check/silences.js';
import { checkSlo } from './check/slos.js';
import { withDependencies } from './check/dependencies.js';

export { type CheckOptions, type EnvProblem, HIGH_CARDINALITY_LABELS, type SilenceWarning } from './check/context.js';

export interface CheckResult {
  config: Config;
  problems: Problem[];
  /** `${NAME}` references to variables that are not set (only when CheckOptions.env is given). */
  envProblems: EnvProblem[];
  /** What is valid but probably not meant: an expired silence, a silence that matches nothing. */
  warnings: SilenceWarning[];
}

/**
 * Check options from SLOE_HIGH_CARDINALITY_LABELS (and a comma-separated list given on the command line) and
 * SLOE_SPEC_ENV_ALLOW and SLOE_MIN_REPEAT (a duration).
 */
export function checkOptionsFromEnv(env: NodeJS.ProcessEnv, extra?: string): CheckOptions {
  const list = [extra, env.SLOE_HIGH_CARDINALITY_LABELS]
    .filter((s): s is string => !!s)
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  const options: CheckOptions = { highCardinalityLabels: list, envAllow: EnvAllowList.fromEnv(env) };
  if (env.SLOE_MIN_REPEAT) {
    const ms = parseDuration(env.SLOE_MIN_REPEAT);
    if (ms === undefined || ms <= 0)
      throw new Error(`SLOE_MIN_REPEAT must be a duration such as 1m (got ${JSON.stringify(env.SLOE_MIN_REPEAT)})`);
    options.minRepeatMs = ms;
  }
  return options;
}

/** Checks all documents together and builds the configuration. */
export function check(docs: SourceDoc[], options: CheckOptions = {}): CheckResult {
  const ctx = new CheckContext(options);
  for (const doc of docs) checkDocument(ctx, doc);
  const slos = withDependencies(
    docs,
    ctx.candidates.flatMap((c) => checkSlo(ctx, c) ?? []),
    ctx.problems,
  );
  checkScheduleReferences(ctx);
  silenceWarnings(ctx, slos);
  const config: Config = {
    slos,
    silences: ctx.silences.map((s) => s.silence),
    dashboards: ctx.dashboards,
    policies: new Map([...ctx.policies].filter((e): e is [string, EscalationPolicy] => e[1] !== undefined)),
    schedules: new Map([...ctx.schedules].filter((e): e is [string, OnCallSchedule] => e[1] !== undefined)),
    services: ctx.serviceList,
    files: [...new Set(docs.map((d) => d.file))],
  };
  return { config, problems: ctx.problems, envProblems: ctx.envProblems, warnings: ctx.warnings };
}

/** One document: its references, apiVersion, kind and schema, then the check of its kind. */
function checkDocument(ctx: CheckContext, doc: SourceDoc): void {
  if (doc.value === null || typeof doc.value !== 'object' || Array.isArray(doc.value)) {
    ctx.problem(doc, [], 'a sloe document must be a mapping with apiVersion and kind');
    return;
  }
  const value = checkReferences(ctx, doc, doc.value as Record<string, unknown>);
  const { apiVersion, kind } = value;
  if (apiVersion !== API_VERSION) {
    noteFlawed(ctx, value);
    if (apiVersion === undefined)
      return ctx.problem(doc, [], 'missing required field "apiVersion" (apiVersion: sloe/v1)');
    return ctx.problem(
      doc,
      ['apiVersion'],
      `unsupported apiVersion ${JSON.stringify(apiVersion)}: expected ${API_VERSION}`,
    );
  }
  if (kind === undefined) return ctx.problem(doc, [], 'missing required field "kind"');
  if (typeof kind !== 'string' || !(kind in KINDS)) {
    return ctx.problem(
      doc,
      ['kind'],
      `unknown kind ${JSON.stringify(kind)}: expected ${Object.keys(KINDS).join(', ')}`,
    );
  }
  const { problems, known } = schemaProblems(doc, KINDS[kind as Kind], value);
  ctx.problems.push(...problems);
  const checked = known as Record<string, unknown>;
  switch (kind as Kind) {
    case 'ServiceLevels':
      return checkServiceLevels(ctx, doc, checked);
    case 'EscalationPolicy':
      return checkPolicy(ctx, doc, checked);
    case 'OnCallSchedule':
      return checkSchedule(ctx, doc, checked);
    case 'Silence':
      return checkSilence(ctx, doc, checked);
  }
}

/** Remembers what a document that cannot be read declares, so that references to it are not reported too. */
function noteFlawed(ctx: CheckContext, value: Record<string, unknown>): void {
  if (typeof value.name !== 'string') return;
  if (value.kind === 'EscalationPolicy') ctx.flawed.policies.add(value.name);
  if (value.kind === 'OnCallSchedule') ctx.flawed.schedules.add(value.name);
}
