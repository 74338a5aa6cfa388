/**
 * What every check of one `check()` run shares: the options, the problems found so far, what has been declared (and
 * where), and how to point at a node. Each kind of check reads and adds to it; none keeps state of its own.
 */
import type { z } from 'zod';
import { parseDuration } from '../duration.js';
import { EnvAllowList } from '../env.js';
import type { Config, Dashboard, EscalationPolicy, Location, OnCallSchedule, Silence } from '../model.js';
import type { PresetProblem } from '../presets/check-presets.js';
import type { Problem } from '../problem.js';
import type * as Schemas from '../schema.js';
import type { MetricsDoc, SloDoc } from '../schema.js';
import type { schemaProblems } from '../schema-issues.js';
import type { Path, SourceDoc } from '../source.js';

/** Labels that identify users or requests: grouping by them explodes the number of series. */
export const HIGH_CARDINALITY_LABELS = ['user_id', 'request_id', 'trace_id', 'session_id', 'email', 'ip'] as const;

export interface CheckOptions {
  /** Labels an SLO query must not group by, besides HIGH_CARDINALITY_LABELS. */
  highCardinalityLabels?: readonly string[];
  /** The shortest `repeat` of an escalation policy (default MIN_REPEAT_MS). */
  minRepeatMs?: number;
  /** When given, `${NAME}` references are filled in from it and unset names are reported. */
  env?: NodeJS.ProcessEnv;
  /** The variables specs may reference (default: SLOE_*, PAGERDUTY_*_KEY, SLACK_CHANNEL_*). */
  envAllow?: EnvAllowList;
  /** The time silences are judged at (expired or not); default now. */
  now?: number;
}

/** A warning about a silence, named like the lint rules it is listed with. */
export interface SilenceWarning extends Problem {
  rule: 'silence-expired' | 'silence-matches-nothing';
}

/** An unset variable, with the kind of document that needs it. */
export interface EnvProblem extends Problem {
  kind: string;
}

/** What a ServiceLevels document gives each of its SLOs. */
export interface ServiceContext {
  doc: SourceDoc;
  service?: string;
  owner: string;
  escalation?: string;
  intervalMs?: number;
  labels: Record<string, string>;
  /** The service's metrics, for SLOs declared by signal; `flawed` when they have problems of their own. */
  metrics?: MetricsDoc | 'flawed';
}

/** An SLO that passed the schema, checked once every document has been read (its references can point anywhere). */
export interface SloCandidate {
  doc: SourceDoc;
  index: number;
  slo: SloDoc;
  context: ServiceContext;
}

/** The zod schemas and the reading of their issues: loaded only when a document is not known to be valid. */
export type Zod = typeof Schemas & { schemaProblems: typeof schemaProblems };

/** One run's shared state: options, findings, and the names declared so far with where they were declared. */
export class CheckContext {
  readonly problems: Problem[] = [];
  readonly warnings: SilenceWarning[] = [];
  readonly envProblems: EnvProblem[] = [];
  /** Labels no query may group by. */
  readonly highCardinality: ReadonlySet<string>;
  readonly allow: EnvAllowList;

  readonly services = new Map<string, Location>();
  readonly serviceList: Config['services'] = [];
  readonly dashboards = new Map<string, Dashboard>();
  /** Declared policies; undefined for one declared with problems. */
  readonly policies = new Map<string, EscalationPolicy | undefined>();
  readonly policyLocations = new Map<string, Location>();
  /** Declared schedules; undefined for one declared with problems. */
  readonly schedules = new Map<string, OnCallSchedule | undefined>();
  readonly scheduleLocations = new Map<string, Location>();
  readonly silences: Array<{ doc: SourceDoc; silence: Silence }> = [];
  readonly silenceLocations = new Map<string, Location>();
  readonly candidates: SloCandidate[] = [];
  /** On-call steps' schedules, checked once every schedule has been read. */
  readonly scheduleRefs: Array<{ doc: SourceDoc; path: Path; name: string }> = [];
  /** Names declared in documents or entries that have problems of their own: references to them are not reported. */
  readonly flawed = { dashboards: new Set<string>(), policies: new Set<string>(), schedules: new Set<string>() };
  /** Parts of the model that many SLOs have alike, by what they hold (see `shared`). */
  private readonly alike = new Map<string, unknown>();

  /**
   * @param zod the schemas, for documents that the fast check (schema-fast.ts) did not find valid; a valid document's
   * parts are taken from the value its schema gives it.
   */
  constructor(
    readonly options: CheckOptions,
    private readonly schemas?: Zod,
  ) {
    this.highCardinality = new Set([...HIGH_CARDINALITY_LABELS, ...(options.highCardinalityLabels ?? [])]);
    this.allow = options.envAllow ?? new EnvAllowList();
  }

  /** The zod schemas; only asked for when a document is not known to be valid, and then loaded. */
  get zod(): Zod {
    if (!this.schemas) throw new Error('the schemas are asked for, but were not loaded');
    return this.schemas;
  }

  /**
   * The first value this run saw under `key`, else `value`: SLOs that have a part alike (the same burn-rate tiers,
   * as every SLO with the Workbook's tiers over the same window has) share one copy of it, which the engine keeps
   * for as long as the configuration. Shared parts are never changed.
   */
  shared<T>(key: string, value: T): T {
    if (this.alike.has(key)) return this.alike.get(key) as T;
    this.alike.set(key, value);
    return value;
  }

  /** Where the node at `path` sits. */
  loc(doc: SourceDoc, path: Path, at: 'key' | 'value' = 'value'): Location {
    // Written out rather than spread, so that every SLO's location shares one hidden class.
    const { line, col } = doc.position(path, at);
    return { file: doc.file, line, col };
  }

  problem(doc: SourceDoc, path: Path, message: string, at: 'key' | 'value' = 'value'): void {
    this.problems.push(doc.problem(path, message, at));
  }

  /** A duration that must be longer than 0; undefined (and, when it is 0 or less, a problem) otherwise. */
  positiveDuration(doc: SourceDoc, path: Path, text: string | 0): number | undefined {
    const ms = parseDuration(text);
    if (ms === undefined) return undefined;
    if (ms <= 0) {
      this.problem(doc, path, `${String(path[path.length - 1])} must be longer than 0`);
      return undefined;
    }
    return ms;
  }

  /** Problems of a preset (metrics:, signal:) below `base`. */
  presetProblems(doc: SourceDoc, base: Path, problems: PresetProblem[]): void {
    for (const p of problems) {
      const path = [...base, ...p.path];
      this.problems.push(
        p.offset !== undefined ? doc.problemInString(path, p.offset, p.message) : doc.problem(path, p.message),
      );
    }
  }
}

/** A value that passes a schema, or undefined. */
export function parsed<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> | undefined {
  if (value === undefined) return undefined;
  const r = schema.safeParse(value);
  return r.success ? r.data : undefined;
}

/** The items of a list, or none. */
export function items(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** `file:line:col`, for "already declared at …". */
export function where(l: Location): string {
  return `${l.file}:${l.line}:${l.col}`;
}
