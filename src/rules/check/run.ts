/**
 * The checks of SLO documents, without the schema library: check.ts runs them with the zod schemas at hand, and
 * loadRules (load.ts) loads those only when a document is not known to be valid (schema-fast.ts).
 * They check SLO documents against the schema and against each other, and build the internal model from what passed.
 * Every problem names the offending node; one run reports all of them.
 *
 * `checkDocuments()` (called by `check()` and `loadRules()`) reads each document (its `${NAME}` references, apiVersion, kind and schema)
 * and hands it to the check of its kind in check/; what needs every document read (SLOs, references between files,
 * warnings) runs after. All of them share one CheckContext (check/context.ts): the options, the problems, and what
 * has been declared where. Where a new check goes:
 *   - a new kind of document: a `checkX(ctx, doc, raw)` in check/x.ts, called from the switch in `checkDocument`;
 *   - a check within one document (a field, a rule between fields of one SLO or policy): in its kind's file —
 *     check/services.ts (services, dashboards), policies.ts (with group.ts for `group:`), schedules.ts,
 *     silences.ts, slos.ts (with compare.ts for `compare:`), queries.ts (PromQL);
 *   - a check across documents (a reference, a cycle between SLOs or policies): a function of the context called in
 *     `checkDocuments()` after the SLOs are built, as check/dependencies.ts (dependsOn, inhibits, their cycles) and
 *     `checkScheduleReferences` are.
 * The burn-rate tiers and their maths are data and functions in burn-rate.ts, shared with the exports and the budget.
 */
import { parseDuration } from '../duration.js';
import { EnvAllowList } from '../env.js';
import type { Config, EscalationPolicy, OnCallSchedule } from '../model.js';
import type { Problem } from '../problem.js';
import type { EscalationPolicyDoc, OnCallScheduleDoc, ServiceLevelsDoc, SilenceDoc } from '../schema.js';
import { NOT_VALID, validDocument } from '../schema-fast.js';
import { API_VERSION, KIND_NAMES, type Kind } from '../schema-values.js';
import type { SourceDoc } from '../source-doc.js';
import { CheckContext, type CheckOptions, type EnvProblem, type SilenceWarning, type Zod } from './context.js';
import { checkPolicy, checkScheduleReferences } from './policies.js';
import { checkReferences } from './references.js';
import { checkServiceLevels } from './services.js';
import { checkSlo } from './slos.js';
import type * as Timed from './timed.js';
import { withDependencies } from './dependencies.js';

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

/**
 * What the schema of each document's kind makes of it when it is valid; NOT_VALID for a document that zod has to
 * judge (checkDocuments() then needs the schemas); undefined when no schema applies.
 */
export function knownValid(docs: readonly SourceDoc[]): unknown[] {
  return docs.map((doc) => {
    const v = doc.value;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    const { apiVersion, kind } = v as Record<string, unknown>;
    return apiVersion === API_VERSION && isKind(kind) ? validDocument(kind, v) : undefined;
  });
}

/** The checks of Silence and OnCallSchedule documents (check/timed.ts). */
export type TimedChecks = typeof Timed;

/** The kinds whose checks are in check/timed.ts. */
const TIMED_KINDS: ReadonlySet<unknown> = new Set<Kind>(['Silence', 'OnCallSchedule']);

/** Whether a document is of a kind whose checks are in check/timed.ts: then checkDocuments() needs them. */
export function holdsTimes(docs: readonly SourceDoc[]): boolean {
  return docs.some((doc) => {
    const v = doc.value;
    return v !== null && typeof v === 'object' && TIMED_KINDS.has((v as Record<string, unknown>).kind);
  });
}

/** The checks that loadRules loads only when they are needed. */
export interface LoadedChecks {
  /** Needed when knownValid() gave a NOT_VALID. */
  zod?: Zod;
  /** Needed when holdsTimes(). */
  timed?: TimedChecks;
}

/** Checks all documents together and builds the configuration. `valid` is knownValid(docs). */
export function checkDocuments(
  docs: readonly SourceDoc[],
  valid: readonly unknown[],
  options: CheckOptions,
  loaded: LoadedChecks,
): CheckResult {
  const ctx = new CheckContext(options, loaded.zod);
  const timed = (): TimedChecks => {
    if (!loaded.timed) throw new Error('the checks of silences and schedules are asked for, but were not loaded');
    return loaded.timed;
  };
  docs.forEach((doc, i) => checkDocument(ctx, doc, valid[i], timed));
  const slos = withDependencies(
    docs,
    ctx.candidates.flatMap((c) => checkSlo(ctx, c) ?? []),
    ctx.problems,
  );
  checkScheduleReferences(ctx);
  if (ctx.silences.length > 0) timed().silenceWarnings(ctx, slos);
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

function isKind(kind: unknown): kind is Kind {
  return typeof kind === 'string' && (KIND_NAMES as readonly string[]).includes(kind);
}

/**
 * One document: its references, apiVersion, kind and schema, then the check of its kind. `valid` is what the schema
 * makes of it when it is known to be valid.
 */
function checkDocument(ctx: CheckContext, doc: SourceDoc, valid: unknown, timed: () => TimedChecks): void {
  if (doc.value === null || typeof doc.value !== 'object' || Array.isArray(doc.value)) {
    ctx.problem(doc, [], 'a sloe document must be a mapping with apiVersion and kind');
    return;
  }
  const value = doc.value as Record<string, unknown>;
  checkReferences(ctx, doc, value);
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
  if (!isKind(kind)) {
    return ctx.problem(doc, ['kind'], `unknown kind ${JSON.stringify(kind)}: expected ${KIND_NAMES.join(', ')}`);
  }
  let checked = value;
  let parsed: unknown;
  if (valid === NOT_VALID) {
    const { problems, known } = ctx.zod.schemaProblems(doc, ctx.zod.KINDS[kind], value);
    ctx.problems.push(...problems);
    checked = known as Record<string, unknown>;
  } else {
    parsed = valid;
  }
  switch (kind) {
    case 'ServiceLevels':
      return checkServiceLevels(ctx, doc, checked, parsed as ServiceLevelsDoc | undefined);
    case 'EscalationPolicy':
      return checkPolicy(ctx, doc, checked, parsed as EscalationPolicyDoc | undefined);
    case 'OnCallSchedule':
      return timed().checkSchedule(ctx, doc, checked, parsed as OnCallScheduleDoc | undefined);
    case 'Silence':
      return timed().checkSilence(ctx, doc, checked, parsed as SilenceDoc | undefined);
  }
}

/** Remembers what a document that cannot be read declares, so that references to it are not reported too. */
function noteFlawed(ctx: CheckContext, value: Record<string, unknown>): void {
  if (typeof value.name !== 'string') return;
  if (value.kind === 'EscalationPolicy') ctx.flawed.policies.add(value.name);
  if (value.kind === 'OnCallSchedule') ctx.flawed.schedules.add(value.name);
}
