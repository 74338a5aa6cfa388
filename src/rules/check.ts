/**
 * Checks SLO documents against the schema and against each other, and builds the internal model from what passed.
 * Every problem names the offending node; one run reports all of them.
 */
import { DateTime, IANAZone } from 'luxon';
import type { z } from 'zod';
import { type Condition, type Threshold, parseCondition, parsePercent } from './condition.js';
import { formatDuration, parseDuration } from './duration.js';
import { ENGINE_SECRETS, EnvAllowList, type ReferenceField, expandReferences, isEngineVariable, isSlackChannel, referenceText, scanReferences } from './env.js';
import {
  type BurnRateTier,
  type Config,
  DEFAULTS,
  type Dashboard,
  MIN_REPEAT_MS,
  type EscalationPolicy,
  type Location,
  type OnCallSchedule,
  type Slo,
  type Step,
  WORKBOOK_TIERS,
} from './model.js';
import type { Problem } from './problem.js';
import { checkPromql, withWindowStandIn } from './promql.js';
import {
  API_VERSION,
  DashboardSchema,
  EscalationPolicySchema,
  KINDS,
  type Kind,
  OnCallScheduleSchema,
  type OnCallScheduleDoc,
  type MetricsDoc,
  ServiceLevelsSchema,
  SilenceSchema,
  type SloDoc,
  SEVERITIES,
  SloSchema,
  type StepDoc,
  StepSchema,
} from './schema.js';
import { schemaProblems } from './schema-issues.js';
import { type Silence, type SilenceWindow, couldMatch, parseClock, parseMatcher, silenceEnd } from './silence.js';
import { type PresetProblem, checkMetrics, presetSlo } from './presets/check-presets.js';
import type { Path, SourceDoc } from './source.js';

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
    if (ms === undefined || ms <= 0) throw new Error(`SLOE_MIN_REPEAT must be a duration such as 1m (got ${JSON.stringify(env.SLOE_MIN_REPEAT)})`);
    options.minRepeatMs = ms;
  }
  return options;
}

export interface CheckResult {
  config: Config;
  problems: Problem[];
  /** `${NAME}` references to variables that are not set (only when CheckOptions.env is given). */
  envProblems: EnvProblem[];
  /** What is valid but probably not meant: an expired silence, a silence that matches nothing. */
  warnings: SilenceWarning[];
}

/** A warning about a silence, named like the lint rules it is listed with. */
export interface SilenceWarning extends Problem {
  rule: 'silence-expired' | 'silence-matches-nothing';
}

/** An unset variable, with the kind of document that needs it. */
export interface EnvProblem extends Problem {
  kind: string;
}

interface ServiceContext {
  doc: SourceDoc;
  service?: string;
  owner: string;
  escalation?: string;
  intervalMs?: number;
  labels: Record<string, string>;
  /** The service's metrics, for SLOs declared by signal; `flawed` when they have problems of their own. */
  metrics?: MetricsDoc | 'flawed';
}

interface SloCandidate {
  doc: SourceDoc;
  index: number;
  slo: SloDoc;
  context: ServiceContext;
}

const WINDOW_PLACEHOLDER = '$window';

/**
 * The only fields whose `${NAME}` references are filled in: a step's Slack `channel` and its PagerDuty `routingKey`,
 * both when a message is sent (the model keeps them as written, so that they are shown and logged that way). Anywhere
 * else `${` is an error, so that no spec can read a variable into a label, a URL, a query or a message.
 */
function referenceField(kind: unknown, path: Path): ReferenceField | undefined {
  if (kind !== 'EscalationPolicy' || path.length !== 3) return undefined;
  const [severity, index, key] = path;
  if ((severity !== 'page' && severity !== 'ticket') || typeof index !== 'number') return undefined;
  return key === 'channel' || key === 'routingKey' ? key : undefined;
}

/** `slos[0].labels.leak`: where a value sits, for messages. */
function fieldPath(path: Path): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${p.length > 40 ? `${p.slice(0, 40)}…` : p}`))
    .join('');
}

/** Checks all documents together and builds the configuration. */
export function check(docs: SourceDoc[], options: CheckOptions = {}): CheckResult {
  return new Checker(options).run(docs);
}

class Checker {
  private readonly problems: Problem[] = [];
  private readonly warnings: SilenceWarning[] = [];
  private readonly silences: Array<{ doc: SourceDoc; silence: Silence }> = [];
  private readonly silenceLocations = new Map<string, Location>();
  private readonly envProblems: EnvProblem[] = [];
  private readonly highCardinality: Set<string>;
  private readonly allow: EnvAllowList;
  private readonly services = new Map<string, Location>();
  private readonly dashboards = new Map<string, Dashboard>();
  private readonly policies = new Map<string, EscalationPolicy | undefined>();
  private readonly policyLocations = new Map<string, Location>();
  private readonly schedules = new Map<string, OnCallSchedule | undefined>();
  private readonly scheduleLocations = new Map<string, Location>();
  private readonly candidates: SloCandidate[] = [];
  private readonly scheduleRefs: Array<{ doc: SourceDoc; path: Path; name: string }> = [];
  private readonly serviceList: Config['services'] = [];
  /** Names declared in documents or entries that have problems of their own: references to them are not reported. */
  private readonly flawed = { dashboards: new Set<string>(), policies: new Set<string>(), schedules: new Set<string>() };

  constructor(private readonly options: CheckOptions) {
    this.highCardinality = new Set([...HIGH_CARDINALITY_LABELS, ...(options.highCardinalityLabels ?? [])]);
    this.allow = options.envAllow ?? new EnvAllowList();
  }

  run(docs: SourceDoc[]): CheckResult {
    for (const doc of docs) this.document(doc);
    const slos = this.candidates.flatMap((c) => this.slo(c) ?? []);
    for (const ref of this.scheduleRefs) {
      if (!this.schedules.has(ref.name) && !this.flawed.schedules.has(ref.name)) {
        this.problems.push(ref.doc.problem(ref.path, `on-call schedule ${JSON.stringify(ref.name)} is not declared (kind: OnCallSchedule)`));
      }
    }
    for (const { doc, silence } of this.silences) {
      if (silenceEnd(silence) <= (this.options.now ?? Date.now())) {
        this.warnings.push({ ...doc.problem(['endsAt'], `silence ${JSON.stringify(silence.name)} has expired (it ended ${new Date(silenceEnd(silence)).toISOString()}): remove it`), rule: 'silence-expired' });
      }
      if (!slos.some((slo) => couldMatch(silence, slo))) {
        this.warnings.push({ ...doc.problem(['matchers'], `silence ${JSON.stringify(silence.name)} matches no SLO (${silence.matchers.map((m) => m.text).join(', ')})`), rule: 'silence-matches-nothing' });
      }
    }
    const config: Config = {
      slos,
      silences: this.silences.map((s) => s.silence),
      dashboards: this.dashboards,
      policies: new Map([...this.policies].filter((e): e is [string, EscalationPolicy] => e[1] !== undefined)),
      schedules: new Map([...this.schedules].filter((e): e is [string, OnCallSchedule] => e[1] !== undefined)),
      services: this.serviceList,
      files: [...new Set(docs.map((d) => d.file))],
    };
    return { config, problems: this.problems, envProblems: this.envProblems, warnings: this.warnings };
  }

  private loc(doc: SourceDoc, path: Path, at: 'key' | 'value' = 'value'): Location {
    return { file: doc.file, ...doc.position(path, at) };
  }

  private problem(doc: SourceDoc, path: Path, message: string, at: 'key' | 'value' = 'value'): void {
    this.problems.push(doc.problem(path, message, at));
  }

  private document(doc: SourceDoc): void {
    if (doc.value === null || typeof doc.value !== 'object' || Array.isArray(doc.value)) {
      this.problem(doc, [], 'a sloe document must be a mapping with apiVersion and kind');
      return;
    }
    const value = this.references(doc, doc.value as Record<string, unknown>);
    const { apiVersion, kind } = value;
    if (apiVersion !== API_VERSION) {
      this.noteFlawed(value);
      if (apiVersion === undefined) return this.problem(doc, [], 'missing required field "apiVersion" (apiVersion: sloe/v1)');
      return this.problem(doc, ['apiVersion'], `unsupported apiVersion ${JSON.stringify(apiVersion)}: expected ${API_VERSION}`);
    }
    if (kind === undefined) return this.problem(doc, [], 'missing required field "kind"');
    if (typeof kind !== 'string' || !(kind in KINDS)) {
      return this.problem(doc, ['kind'], `unknown kind ${JSON.stringify(kind)}: expected ${Object.keys(KINDS).join(', ')}`);
    }
    const { problems, known } = schemaProblems(doc, KINDS[kind as Kind], value);
    this.problems.push(...problems);
    const checked = known as Record<string, unknown>;
    switch (kind as Kind) {
      case 'ServiceLevels':
        return this.serviceLevels(doc, checked);
      case 'EscalationPolicy':
        return this.policy(doc, checked);
      case 'OnCallSchedule':
        return this.schedule(doc, checked);
      case 'Silence':
        return this.silence(doc, checked);
    }
  }

  /** Remembers what a document that cannot be read declares, so that references to it are not reported too. */
  private noteFlawed(value: Record<string, unknown>): void {
    if (typeof value.name !== 'string') return;
    if (value.kind === 'EscalationPolicy') this.flawed.policies.add(value.name);
    if (value.kind === 'OnCallSchedule') this.flawed.schedules.add(value.name);
  }

  /**
   * Checks `${NAME}` references: `${` outside the reference fields is an error (at its position), and so is a name
   * the field's type or the allow-list refuses. With an environment, a step's channel is filled in and checked.
   */
  private references(doc: SourceDoc, root: Record<string, unknown>): Record<string, unknown> {
    const walk = (v: unknown, path: Array<string | number>): unknown => {
      if (typeof v === 'string') return v.includes('${') ? this.reference(doc, root, v, path) : v;
      if (Array.isArray(v)) return v.map((item, i) => walk(item, [...path, i]));
      if (v !== null && typeof v === 'object') {
        return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item, [...path, k])]));
      }
      return v;
    };
    return walk(root, []) as Record<string, unknown>;
  }

  /**
   * One string holding `${`: reported, or checked. With an environment, a channel's value is checked to be a Slack
   * channel; the model keeps the reference as written either way (filled in when a message is sent).
   */
  private reference(doc: SourceDoc, root: Record<string, unknown>, v: string, path: Path): string {
    const field = referenceField(root.kind, path);
    if (!field) {
      const at = v.indexOf('${');
      const written = referenceText(v, at);
      const name = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(written)?.[1];
      const secret =
        name === undefined
          ? ''
          : ENGINE_SECRETS.has(name)
            ? `; ${name} is a credential of sloe itself and can never be referenced`
            : isEngineVariable(name)
              ? `; ${name} is a setting or credential of sloe itself and can never be referenced`
              : '';
      this.problems.push(
        doc.problemInString(path, at, `${written} is not allowed in ${fieldPath(path)}: environment references (\${…}) are filled in only in a step's channel and routingKey${secret}`),
      );
      return v;
    }
    const { refs, errors } = scanReferences(v);
    for (const e of errors) this.problems.push(doc.problemInString(path, e.offset, e.message));
    let refused = false;
    for (const r of refs) {
      const why = this.allow.refusal(r.name, field);
      if (why !== undefined) {
        refused = true;
        this.problems.push(doc.problemInString(path, r.offset, why));
      }
    }
    if (!this.options.env || errors.length > 0 || refused) return v;
    const { value, missing } = expandReferences(v, field, this.options.env, this.allow);
    for (const name of missing) {
      this.envProblems.push({ ...doc.problem(path, `environment variable ${name} is not set`), kind: String(root.kind) });
    }
    if (field === 'channel' && missing.length === 0 && !isSlackChannel(value)) {
      // The value is not shown: the reference as written says which variable to fix.
      this.problems.push(doc.problem(path, `${v} does not hold a Slack channel: its value must be "#name" or a channel id such as C0123ABCD`));
    }
    // References stay as written in the model (incidents store their frozen policy); the channels fill them in when
    // they send, with the same rule.
    return v;
  }

  private serviceLevels(doc: SourceDoc, raw: Record<string, unknown>): void {
    const shape = ServiceLevelsSchema.shape;
    const service = parsed(shape.service, raw.service);
    const context: ServiceContext = {
      doc,
      service,
      owner: parsed(shape.owner, raw.owner) ?? '',
      escalation: parsed(shape.escalation, raw.escalation),
      labels: parsed(shape.labels, raw.labels) ?? {},
    };
    const interval = parsed(shape.interval, raw.interval);
    if (interval !== undefined) context.intervalMs = this.positiveDuration(doc, ['interval'], interval);
    if (raw.metrics !== undefined) {
      const metrics = parsed(shape.metrics, raw.metrics);
      const problems = metrics ? checkMetrics(metrics, this.highCardinality) : [];
      this.presetProblems(doc, [], problems);
      context.metrics = metrics && problems.length === 0 ? metrics : 'flawed';
    }

    if (service !== undefined) {
      const first = this.services.get(service);
      if (first) {
        this.problem(doc, ['service'], `duplicate service ${JSON.stringify(service)} (already declared at ${where(first)})`);
      } else {
        const source = this.loc(doc, ['service']);
        this.services.set(service, source);
        this.serviceList.push({ name: service, owner: context.owner, source });
      }
    }

    const seenHere = new Map<string, Location>();
    items(raw.dashboards).forEach((item, i) => {
      const d = parsed(DashboardSchema, item);
      if (!d) {
        const id = item !== null && typeof item === 'object' ? (item as Record<string, unknown>).id : undefined;
        if (typeof id === 'string') this.flawed.dashboards.add(id);
        return;
      }
      const at = this.loc(doc, ['dashboards', i, 'id']);
      const local = seenHere.get(d.id);
      if (local) {
        this.problem(doc, ['dashboards', i, 'id'], `duplicate dashboard ${JSON.stringify(d.id)} (already declared at ${where(local)})`);
        return;
      }
      seenHere.set(d.id, at);
      const known = this.dashboards.get(d.id);
      if (!known) {
        this.dashboards.set(d.id, { id: d.id, title: d.title ?? d.id, url: d.url, owner: d.owner, declaredAt: [at] });
      } else if (known.owner !== d.owner) {
        this.problem(
          doc,
          ['dashboards', i, 'owner'],
          `dashboard ${JSON.stringify(d.id)} has two owners: ${JSON.stringify(d.owner)} here and ${JSON.stringify(known.owner)} at ${where(known.declaredAt[0]!)}; a dashboard has exactly one owner`,
        );
      } else {
        known.declaredAt.push(at);
      }
    });

    const names = new Map<string, Location>();
    items(raw.slos).forEach((item, index) => {
      const name = item !== null && typeof item === 'object' ? (item as Record<string, unknown>).name : undefined;
      if (typeof name === 'string') {
        const first = names.get(name);
        if (first) {
          this.problem(doc, ['slos', index, 'name'], `duplicate SLO ${JSON.stringify(name)} in service ${JSON.stringify(service ?? '')} (already declared at ${where(first)})`);
          return;
        }
        names.set(name, this.loc(doc, ['slos', index, 'name']));
      }
      const slo = parsed(SloSchema, item);
      if (slo) this.candidates.push({ doc, index, slo, context });
    });
  }

  private policy(doc: SourceDoc, raw: Record<string, unknown>): void {
    const name = parsed(EscalationPolicySchema.shape.name, raw.name);
    if (name === undefined) return;
    if (parsed(EscalationPolicySchema, raw) === undefined) this.flawed.policies.add(name);
    if (this.policies.has(name)) {
      this.problem(doc, ['name'], `duplicate escalation policy ${JSON.stringify(name)} (already declared at ${where(this.policyLocations.get(name)!)})`);
      return;
    }
    this.policyLocations.set(name, this.loc(doc, ['name']));
    const steps = (severity: 'page' | 'ticket'): Step[] | undefined => {
      if (raw[severity] === undefined) return undefined;
      return items(raw[severity]).flatMap((item, i) => {
        const step = parsed(StepSchema, item);
        return step ? [this.step(doc, [severity, i], step)] : [];
      });
    };
    const page = steps('page');
    const ticket = steps('ticket');
    if (page === undefined && ticket === undefined) {
      this.problem(doc, [], 'an escalation policy needs page or ticket steps');
    }
    const repeatMs = this.repeats(doc, raw, page === undefined ? 'ticket' : 'page');
    const valid = parsed(EscalationPolicySchema, raw) !== undefined && repeatMs !== null;
    this.policies.set(
      name,
      valid
        ? {
            name,
            page: page ?? ticket ?? [],
            ticket: ticket ?? defaultTicketSteps(page ?? []),
            ...(raw.responders !== undefined ? { responders: parsed(EscalationPolicySchema.shape.responders, raw.responders) } : {}),
            ...(repeatMs !== undefined ? { repeatMs } : {}),
            source: this.loc(doc, ['name']),
          }
        : undefined,
    );
  }

  /**
   * Checks the `repeat`s of a policy: each at least the minimum, a step's only on the last step of its list, not on
   * the last page step as well as on the policy. Returns the policy's repeat, or null when a repeat has a problem.
   */
  private repeats(doc: SourceDoc, raw: Record<string, unknown>, pageList: 'page' | 'ticket'): number | undefined | null {
    const before = this.problems.length;
    const minMs = this.options.minRepeatMs ?? MIN_REPEAT_MS;
    const check = (path: Path, text: unknown): number | undefined => {
      const ms = typeof text === 'string' || text === 0 ? parseDuration(text) : undefined;
      if (ms === undefined) return undefined;
      if (ms < minMs) this.problem(doc, path, `repeat must be at least ${formatDuration(minMs)}: re-notifying more often than that is noise (got ${formatDuration(ms)})`);
      return ms;
    };
    for (const severity of SEVERITIES) {
      const list = items(raw[severity]);
      list.forEach((item, i) => {
        const repeat = item !== null && typeof item === 'object' ? (item as Record<string, unknown>).repeat : undefined;
        if (repeat === undefined) return;
        check([severity, i, 'repeat'], repeat);
        if (i !== list.length - 1) {
          this.problem(doc, [severity, i, 'repeat'], `repeat is allowed on the last ${severity} step only (it repeats that step); to repeat the whole escalation, set repeat on the policy`);
        } else if (severity === pageList && raw.repeat !== undefined) {
          this.problem(doc, [severity, i, 'repeat'], `repeat is set on the policy already (it starts the ${severity} steps over); set it in one place`);
        }
      });
    }
    const repeatMs = raw.repeat === undefined ? undefined : check(['repeat'], raw.repeat);
    return this.problems.length > before ? null : repeatMs;
  }

  private step(doc: SourceDoc, path: Path, step: StepDoc): Step {
    const afterMs = step.after === undefined ? 0 : (parseDuration(step.after) ?? 0);
    const repeatMs = step.repeat === undefined ? undefined : parseDuration(step.repeat);
    const timing = { afterMs, ...(repeatMs !== undefined ? { repeatMs } : {}) };
    switch (step.notify) {
      case 'slack':
        return { notify: 'slack', ...timing, channel: step.channel };
      case 'pagerduty':
        return { notify: 'pagerduty', ...timing, routingKey: step.routingKey, severity: step.severity ?? 'critical' };
      case 'oncall':
        this.scheduleRefs.push({ doc, path: [...path, 'schedule'], name: step.schedule });
        return { notify: 'oncall', ...timing, schedule: step.schedule };
    }
  }

  private silence(doc: SourceDoc, raw: Record<string, unknown>): void {
    const s = parsed(SilenceSchema, raw);
    if (!s) return;
    const first = this.silenceLocations.get(s.name);
    if (first) return this.problem(doc, ['name'], `duplicate silence ${JSON.stringify(s.name)} (already declared at ${where(first)})`);
    this.silenceLocations.set(s.name, this.loc(doc, ['name']));
    let ok = true;
    const fail = (path: Path, message: string) => {
      ok = false;
      this.problem(doc, path, message);
    };
    const matchers = s.matchers.flatMap((text, i) => {
      const m = parseMatcher(text);
      if (m instanceof Error) {
        fail(['matchers', i], m.message);
        return [];
      }
      return [m];
    });
    const fixed = s.startsAt !== undefined || s.endsAt !== undefined;
    const recurring = (['every', 'days', 'from', 'to', 'timezone'] as const).filter((k) => s[k] !== undefined);
    let window: SilenceWindow | undefined;
    if (fixed && recurring.length) {
      fail([recurring[0]!], 'a silence has either a fixed window (startsAt, endsAt) or a recurring one (every, days, from, to, timezone), not both');
    } else if (fixed) {
      const time = (key: 'startsAt' | 'endsAt') => {
        const v = s[key];
        if (v === undefined) return fail([], `unbounded silence: ${key} is missing (a silence needs both startsAt and endsAt)`), undefined;
        const t = DateTime.fromISO(v, { setZone: true });
        if (!t.isValid || !/(Z|[+-]\d{2}:\d{2})$/.test(v)) return fail([key], `invalid time ${JSON.stringify(v)}: expected RFC 3339 with a zone, e.g. 2026-12-01T02:00:00Z`), undefined;
        return t.toMillis();
      };
      const startsAt = time('startsAt');
      const endsAt = time('endsAt');
      if (startsAt !== undefined && endsAt !== undefined) {
        if (endsAt <= startsAt) fail(['endsAt'], 'endsAt must be after startsAt');
        else window = { kind: 'fixed', startsAt, endsAt };
      }
    } else if (recurring.length) {
      const missing = (['every', 'days', 'from', 'to', 'timezone'] as const).filter((k) => s[k] === undefined);
      if (missing.length) fail([], `a recurring silence needs every, days, from, to and timezone: ${missing.join(', ')} missing`);
      else if (!IANAZone.isValidZone(s.timezone!)) fail(['timezone'], `unknown time zone ${JSON.stringify(s.timezone)}: expected an IANA name such as Europe/Berlin`);
      else window = { kind: 'weekly', days: s.days!, fromMin: parseClock(s.from!)!, toMin: parseClock(s.to!)!, timezone: s.timezone! };
    } else {
      fail([], 'unbounded silence: give startsAt and endsAt, or a recurring window (every: weekly, days, from, to, timezone)');
    }
    if (!ok || !window) return;
    this.silences.push({ doc, silence: { name: s.name, owner: s.owner, reason: s.reason, matchers, window, source: this.loc(doc, ['name']) } });
  }

  private schedule(doc: SourceDoc, raw: Record<string, unknown>): void {
    const name = parsed(OnCallScheduleSchema.shape.name, raw.name);
    if (name === undefined) return;
    if (parsed(OnCallScheduleSchema, raw) === undefined) this.flawed.schedules.add(name);
    if (this.schedules.has(name)) {
      this.problem(doc, ['name'], `duplicate on-call schedule ${JSON.stringify(name)} (already declared at ${where(this.scheduleLocations.get(name)!)})`);
      return;
    }
    this.scheduleLocations.set(name, this.loc(doc, ['name']));
    const s = parsed(OnCallScheduleSchema, raw);
    this.schedules.set(name, s ? this.scheduleModel(doc, s) : undefined);
  }

  private scheduleModel(doc: SourceDoc, s: OnCallScheduleDoc): OnCallSchedule | undefined {
    let ok = true;
    const fail = (path: Path, message: string) => {
      ok = false;
      this.problem(doc, path, message);
    };
    const zoneOk = IANAZone.isValidZone(s.timezone);
    if (!zoneOk) fail(['timezone'], `unknown time zone ${JSON.stringify(s.timezone)}: expected an IANA name such as Europe/Berlin`);
    const everyMs = parseDuration(s.rotation.every) ?? 0;
    if (everyMs <= 0) fail(['rotation', 'every'], 'rotation.every must be longer than 0');
    const zone = zoneOk ? s.timezone : 'UTC';
    const local = (path: Path, text: string): number | undefined => {
      const t = DateTime.fromISO(text, { zone });
      if (!t.isValid) {
        fail(path, `invalid local time ${JSON.stringify(text)}`);
        return undefined;
      }
      return t.toMillis();
    };
    local(['rotation', 'start'], s.rotation.start);
    const members = new Map<string, Location>();
    s.members.forEach((m, i) => {
      const first = members.get(m.name);
      if (first) fail(['members', i, 'name'], `duplicate member ${JSON.stringify(m.name)} (already listed at ${where(first)})`);
      else members.set(m.name, this.loc(doc, ['members', i, 'name']));
    });
    const memberList = [...members.keys()].join(', ') || 'none';
    (s.overrides ?? []).forEach((o, i) => {
      if (!members.has(o.member)) {
        fail(['overrides', i, 'member'], `override names ${JSON.stringify(o.member)}, who is not a member of schedule ${JSON.stringify(s.name)} (members: ${memberList})`);
      }
      const from = local(['overrides', i, 'from'], o.from);
      const to = local(['overrides', i, 'to'], o.to);
      if (from !== undefined && to !== undefined && to <= from) fail(['overrides', i, 'to'], 'override must end after it starts');
    });
    if (s.fallback !== undefined && !members.has(s.fallback)) {
      fail(['fallback'], `fallback ${JSON.stringify(s.fallback)} is not a member of schedule ${JSON.stringify(s.name)} (members: ${memberList})`);
    }
    if (!ok) return undefined;
    return {
      name: s.name,
      timezone: s.timezone,
      rotation: { everyMs, start: s.rotation.start },
      members: s.members,
      overrides: s.overrides ?? [],
      fallback: s.fallback,
      source: this.loc(doc, ['name']),
    };
  }

  private positiveDuration(doc: SourceDoc, path: Path, text: string | 0): number | undefined {
    const ms = parseDuration(text);
    if (ms === undefined) return undefined;
    if (ms <= 0) {
      this.problem(doc, path, `${String(path[path.length - 1])} must be longer than 0`);
      return undefined;
    }
    return ms;
  }

  private presetProblems(doc: SourceDoc, base: Path, problems: PresetProblem[]): void {
    for (const p of problems) {
      const path = [...base, ...p.path];
      this.problems.push(p.offset !== undefined ? doc.problemInString(path, p.offset, p.message) : doc.problem(path, p.message));
    }
  }

  /** Checks one SLO and builds its model; undefined when it has a problem. */
  private slo(candidate: SloCandidate): Slo | undefined {
    const { doc, index, context } = candidate;
    const at = (...p: Array<string | number>): Path => ['slos', index, ...p];
    const before = this.problems.length;
    if (context.metrics === 'flawed' && candidate.slo.query === undefined && candidate.slo.ratio === undefined) return undefined;
    const preset = presetSlo(candidate.slo, context.metrics === 'flawed' ? undefined : context.metrics, this.highCardinality);
    if ('problems' in preset) {
      this.presetProblems(doc, at(), preset.problems);
      return undefined;
    }
    const s = preset.slo;
    const fail = (path: Path, message: string) => this.problem(doc, path, message);
    const alert = s.alert ?? {};

    const dashboard = this.dashboards.get(s.dashboard);
    if (!dashboard && !this.flawed.dashboards.has(s.dashboard)) {
      fail(at('dashboard'), `dashboard ${JSON.stringify(s.dashboard)} is not declared (list it under dashboards: with its owner, in any file)`);
    }
    const escalation = s.escalation ?? context.escalation;
    if (escalation === undefined) {
      fail(at('name'), `SLO ${JSON.stringify(s.name)} has no escalation policy: set escalation on the SLO or on the service`);
    } else if (!this.policies.has(escalation) && !this.flawed.policies.has(escalation)) {
      const path: Path = s.escalation !== undefined ? at('escalation') : ['escalation'];
      fail(path, `escalation policy ${JSON.stringify(escalation)} is not declared (kind: EscalationPolicy)`);
    }

    const intervalMs = s.interval !== undefined ? this.positiveDuration(doc, at('interval'), s.interval) : context.intervalMs;
    const noDataForMs = s.noDataFor !== undefined ? this.positiveDuration(doc, at('noDataFor'), s.noDataFor) : DEFAULTS.noDataForMs;
    const forMs = alert.for !== undefined ? (parseDuration(alert.for) ?? 0) : 0;
    const resolveAfterMs = alert.resolveAfter !== undefined ? (parseDuration(alert.resolveAfter) ?? 0) : DEFAULTS.resolveAfterMs;

    if (s.ratio && s.query) fail(at('ratio'), 'an SLO takes either query or ratio, not both');
    if (!s.ratio && !s.query) fail(at('name'), `SLO ${JSON.stringify(s.name)} needs a query or a ratio (or metrics: on the service, to declare it by signal)`);

    const common = {
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
      source: this.loc(doc, at('name')),
      ...(preset.derived ? { derived: true as const } : {}),
    };

    let built: SloDraft | undefined;
    if (s.ratio && !s.query) built = this.ratioSlo(doc, at, s, common);
    else if (s.query && !s.ratio) built = this.thresholdSlo(doc, at, s, common);
    if (!built || !dashboard || this.problems.length > before || context.service === undefined) return undefined;
    return { ...built, dashboard };
  }

  private ratioSlo(doc: SourceDoc, at: (...p: Array<string | number>) => Path, s: SloDoc, common: SloCommonFields): SloDraft | undefined {
    const ratio = s.ratio!;
    const alert = s.alert ?? {};
    const fail = (path: Path, message: string) => this.problem(doc, path, message);
    if (ratio.bad !== undefined && ratio.good !== undefined) fail(at('ratio', 'good'), 'ratio takes exactly one of bad and good');
    if (ratio.bad === undefined && ratio.good === undefined) fail(at('ratio'), 'ratio needs bad or good (plus total)');
    for (const key of ['bad', 'good', 'total'] as const) {
      const q = ratio[key];
      if (q !== undefined) this.query(doc, at('ratio', key), q, true);
    }
    if (s.baseline !== undefined) fail(at('baseline'), 'baseline applies to query SLOs, not ratio SLOs');
    if (alert.when !== undefined) fail(at('alert', 'when'), 'alert.when applies to query SLOs; a ratio SLO alerts on its burn rate (alert.burnRate)');
    if (alert.severity !== undefined) fail(at('alert', 'severity'), 'alert.severity does not apply to ratio SLOs: each burn-rate tier has its own severity');

    let objective: number | undefined;
    if (s.objective === undefined) {
      fail(at('name'), `ratio SLO ${JSON.stringify(s.name)} needs an objective: the share of good events, such as 99.9%`);
    } else {
      objective = parsePercent(s.objective);
      if (objective === undefined) fail(at('objective'), 'the objective of a ratio SLO is a percentage of good events, such as 99.9%');
      else if (objective <= 0 || objective >= 1) fail(at('objective'), 'objective must be between 0% and 100%, both exclusive');
    }
    const windowMs = s.window !== undefined ? this.positiveDuration(doc, at('window'), s.window) : DEFAULTS.windowMs;

    const tiers: BurnRateTier[] = [];
    const burnRate = alert.burnRate ?? 'workbook';
    const tierPath = (i: number): Path => (burnRate === 'workbook' ? at('alert', 'burnRate') : at('alert', 'burnRate', i));
    const specs =
      burnRate === 'workbook'
        ? WORKBOOK_TIERS.map((t) => ({ ...t, budgetText: `${t.budget * 100}%` }))
        : burnRate.map((t, i) => {
            const budget = parsePercent(t.budget) ?? NaN;
            if (!(budget > 0 && budget <= 1)) fail(at('alert', 'burnRate', i, 'budget'), 'budget must be more than 0% and at most 100%');
            const longMs = this.positiveDuration(doc, at('alert', 'burnRate', i, 'long'), t.long) ?? NaN;
            const shortMs = t.short !== undefined ? (this.positiveDuration(doc, at('alert', 'burnRate', i, 'short'), t.short) ?? NaN) : longMs / 12;
            if (shortMs >= longMs) fail(at('alert', 'burnRate', i, 'short'), 'the short window must be shorter than the long window');
            return { severity: t.severity, budget, longMs, shortMs, budgetText: t.budget.trim() };
          });
    specs.forEach((t, i) => {
      if (windowMs === undefined || objective === undefined || Number.isNaN(t.longMs) || Number.isNaN(t.budget)) return;
      if (t.longMs > windowMs) {
        fail(at('alert', 'burnRate', i, 'long'), `the long window ${formatDuration(t.longMs)} is longer than the SLO window ${formatDuration(windowMs)}`);
        return;
      }
      const factor = (t.budget * windowMs) / t.longMs;
      const maxBurn = 1 / (1 - objective);
      if (factor > maxBurn + 1e-9) {
        fail(
          tierPath(i),
          `burn-rate tier ${t.severity} ${t.budgetText}/${formatDuration(t.longMs)} can never fire: it needs a burn rate of ${round(factor)}, but a ${round(objective * 100)}% objective allows at most ${round(maxBurn)} (every event bad)`,
        );
      }
      tiers.push({ severity: t.severity, budget: t.budget, longMs: t.longMs, shortMs: t.shortMs, factor });
    });

    if (objective === undefined || windowMs === undefined) return undefined;
    return {
      ...common,
      kind: 'ratio',
      ratio: { ...(ratio.bad !== undefined ? { bad: ratio.bad } : {}), ...(ratio.good !== undefined ? { good: ratio.good } : {}), total: ratio.total },
      objective,
      windowMs,
      tiers,
      minEvents: alert.minEvents ?? DEFAULTS.minEvents,
    };
  }

  private thresholdSlo(doc: SourceDoc, at: (...p: Array<string | number>) => Path, s: SloDoc, common: SloCommonFields): SloDraft | undefined {
    const alert = s.alert ?? {};
    const fail = (path: Path, message: string) => this.problem(doc, path, message);
    this.query(doc, at('query'), s.query!, false);
    if (s.baseline !== undefined) this.query(doc, at('baseline'), s.baseline, false);
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
        fail(at('alert', 'when'), `${JSON.stringify(alert.when)} is measured against a baseline, but this SLO has no baseline`);
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

  /** Checks a PromQL expression: syntax, types, `$window` for ratio queries, and grouping labels. */
  private query(doc: SourceDoc, path: Path, expr: string, windowed: boolean): void {
    const field = path.slice(2).join('.');
    if (windowed && !expr.includes(WINDOW_PLACEHOLDER)) {
      this.problem(doc, path, `${field} must use ${WINDOW_PLACEHOLDER} as its range, e.g. sum(rate(requests_total[${WINDOW_PLACEHOLDER}]))`);
    }
    // The stand-in has the placeholder's length: an offset in the parsed text is one in the text as written.
    const text = windowed ? withWindowStandIn(expr) : expr;
    const info = checkPromql(text);
    for (const issue of info.issues) {
      this.problems.push(doc.problemInString(path, issue.offset, `invalid PromQL in ${field}: ${issue.message}`));
    }
    for (const g of info.groupedBy) {
      if (this.highCardinality.has(g.label)) {
        this.problems.push(
          doc.problemInString(path, g.offset, `${field} groups by high-cardinality label ${JSON.stringify(g.label)}: keep per-user and per-request ids in traces and logs, not in metric labels`),
        );
      }
    }
  }
}

/** An SLO before its dashboard is attached. */
type SloDraft = Slo extends infer T ? (T extends Slo ? Omit<T, 'dashboard'> : never) : never;
type SloCommonFields = Omit<SloDraft, 'kind' | 'query' | 'baseline' | 'objective' | 'when' | 'severity' | 'ratio' | 'windowMs' | 'tiers' | 'minEvents'>;

/** A value that passes a schema, or undefined. */
function parsed<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> | undefined {
  if (value === undefined) return undefined;
  const r = schema.safeParse(value);
  return r.success ? r.data : undefined;
}

function items(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function where(l: Location): string {
  return `${l.file}:${l.line}:${l.col}`;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** The breach condition implied by an objective: `< 3.5` is breached at `>= 3.5`. */
function negate(objective: Threshold): Threshold {
  const op = ({ '<': '>=', '<=': '>', '>': '<=', '>=': '<' } as const)[objective.op];
  return { kind: 'threshold', op, value: objective.value, text: `not ${objective.text}` };
}

/**
 * Ticket incidents of a policy without ticket steps go to its Slack steps (or, lacking those, its page steps); they
 * do not repeat.
 */
function defaultTicketSteps(page: Step[]): Step[] {
  const slack = page.filter((s) => s.notify === 'slack');
  return (slack.length > 0 ? slack : page).map(({ repeatMs: _repeat, ...step }) => step);
}
