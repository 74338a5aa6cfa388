/** The internal model of loaded SLO files: normalised, cross-referenced and ready to evaluate. */
import type { Change, Condition, Threshold } from './condition.js';
import type { PAGERDUTY_SEVERITIES, SIGNALS } from './schema.js';

export type Signal = (typeof SIGNALS)[number];
export type Severity = 'page' | 'ticket';
export type PagerDutySeverity = (typeof PAGERDUTY_SEVERITIES)[number];

/** Where something was declared. */
export interface Location {
  file: string;
  line: number;
  col: number;
}

/** A dashboard and the one owner on record for it. */
export interface Dashboard {
  id: string;
  title: string;
  url?: string;
  owner: string;
  declaredAt: Location[];
}

interface SloCommon {
  /** `service/name`, unique across the configuration. */
  id: string;
  service: string;
  name: string;
  signal: Signal;
  /** The team owning the service. */
  owner: string;
  description?: string;
  dashboard: Dashboard;
  runbook?: string;
  intervalMs: number;
  escalation: string;
  labels: Record<string, string>;
  noData: 'alert' | 'ok' | 'keep';
  noDataForMs: number;
  maxSeries: number;
  forMs: number;
  resolveAfterMs: number;
  source: Location;
  /** Declared by signal: its queries were derived from the service's `metrics:`. */
  derived?: true;
  /**
   * What holds this SLO's pages while it has a firing page (check/dependencies.ts): its own and its service's
   * `dependsOn` (`service/slo` ids, or service names for any SLO of them), and the SLOs of its service whose
   * `inhibits` name it.
   */
  inhibitedBy?: Inhibitor[];
  /** How long a held page still waits after its dependency resolved (default DEFAULT_INHIBIT_FOR_MS). */
  inhibitForMs?: number;
  /** Variants of a label compared against a baseline value (`sloe gate`). */
  compare?: Compare;
}

/**
 * A variant comparison: the SLI of each value of `label` against the SLI of the `baseline` value, over a window,
 * with at least `minEvents` events on each side.
 */
export interface Compare {
  label: string;
  baseline: string;
  when: Change;
  minEvents: number;
}

/** A dependency whose firing page holds an SLO's pages: an SLO id (`service/slo`) or a service name. */
export interface Inhibitor {
  ref: string;
  via: 'dependsOn' | 'inhibits';
}

/** A page held by a dependency is released if it still fires this long after the dependency resolved. */
export const DEFAULT_INHIBIT_FOR_MS = 15 * 60_000;

/** An SLO on a single query compared against a threshold, or against a baseline query (`drop > 5`). */
export interface ThresholdSlo extends SloCommon {
  kind: 'threshold';
  query: string;
  baseline?: string;
  /** What healthy means; shown beside the value. */
  objective?: Threshold;
  /** The breach condition. */
  when: Condition;
  severity: Severity;
}

/** A burn-rate alerting tier of a ratio SLO. */
export interface BurnRateTier {
  severity: Severity;
  /** Share of the error budget that this tier detects being spent within `longMs`. */
  budget: number;
  longMs: number;
  shortMs: number;
  /** Burn rate both windows must exceed: budget × window / long. */
  factor: number;
}

/** A ratio SLI (bad or good events over all events) with an error budget over `windowMs`. */
export interface RatioSlo extends SloCommon {
  kind: 'ratio';
  ratio: { bad?: string; good?: string; total: string };
  /** Target share of good events, e.g. 0.999. */
  objective: number;
  windowMs: number;
  tiers: BurnRateTier[];
  minEvents: number;
}

export type Slo = ThresholdSlo | RatioSlo;

interface StepTiming {
  afterMs: number;
  /** Last step only: it runs again every repeatMs until the incident is acknowledged or resolved. */
  repeatMs?: number;
}

export type Step =
  | (StepTiming & { notify: 'slack'; channel: string })
  | (StepTiming & { notify: 'pagerduty'; routingKey?: string; severity: PagerDutySeverity })
  | (StepTiming & { notify: 'oncall'; schedule: string });

/** Who is told, how and when, for each severity. */
export interface EscalationPolicy {
  name: string;
  page: Step[];
  ticket: Step[];
  /** Who may act on its incidents from Slack (user ids, `@group` handles), besides its schedules' members; unset: anyone. */
  responders?: string[];
  /** The page steps start over this long after the last of them ran, until acknowledged or resolved. */
  repeatMs?: number;
  /** Incidents of one group firing within `waitMs` of its first share its message, PagerDuty incident and steps. */
  group?: PolicyGroup;
  source: Location;
}

/** A policy's grouping: what the incidents of a group share (`by`), and how long after its first one it takes more. */
export interface PolicyGroup {
  by: Array<'service' | 'slo'>;
  waitMs: number;
}

export interface Member {
  name: string;
  slack?: string;
  pagerduty?: string;
  email?: string;
}

/** A rotation of members in a time zone, with overrides and a fallback. */
export interface OnCallSchedule {
  name: string;
  timezone: string;
  rotation: { everyMs: number; start: string };
  members: Member[];
  overrides: Array<{ member: string; from: string; to: string }>;
  fallback?: string;
  source: Location;
}

/** Silences: which incidents (matchers) and when (a fixed or weekly window). The logic is in silence.ts. */
export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  /** `service`, `slo`, `signal`, `severity`, or an incident label. */
  name: string;
  op: MatchOp;
  value: string;
  /** As written: `slo =~ latency-.*`. */
  text: string;
}

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export type SilenceWindow =
  | { kind: 'fixed'; startsAt: number; endsAt: number }
  /** Every week on `days`, from `fromMin` to `toMin` (minutes after local midnight; past midnight when to ≤ from). */
  | { kind: 'weekly'; days: Weekday[]; fromMin: number; toMin: number; timezone: string };

export interface Silence {
  name: string;
  /** Who answers for it (a spec's `owner`, or who created it at run time). */
  owner: string;
  reason: string;
  matchers: Matcher[];
  window: SilenceWindow;
  /** Where a silence from the SLO files was declared. */
  source?: Location;
}

/** Everything loaded from the SLO files. */
export interface Config {
  slos: Slo[];
  /** Silences (maintenance windows) declared as code. */
  silences: Silence[];
  dashboards: Map<string, Dashboard>;
  policies: Map<string, EscalationPolicy>;
  schedules: Map<string, OnCallSchedule>;
  services: Array<{ name: string; owner: string; source: Location }>;
  files: string[];
}

/** The shortest `repeat` `validate` accepts unless SLOE_MIN_REPEAT says otherwise: shorter re-notifies too often. */
export const MIN_REPEAT_MS = 60_000;

export const DEFAULTS = {
  intervalMs: 60_000,
  resolveAfterMs: 5 * 60_000,
  noDataForMs: 10 * 60_000,
  maxSeries: 50,
  windowMs: 30 * 24 * 3600_000,
  minEvents: 0,
} as const;
