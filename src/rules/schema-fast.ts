/**
 * A check of valid documents without the schema library: the value a document's zod schema (schema.ts) would give
 * it, built field by field in the schema's order, or NOT_VALID. It says NOT_VALID for every document with a
 * problem, and may say so for a valid one it is not sure of; those, and every document with a problem, are checked
 * by zod, which is then loaded and says what is wrong. test/rules/schema-fast.test.ts holds the two to the same
 * value on every fixture and on mutations of them.
 */
import { parseCondition, parsePercent } from './condition.js';
import { type DurationBounds, durationOutOfBounds, isDurationText } from './duration.js';
import {
  API_VERSION,
  DASHBOARD_ID,
  DEPENDENCY_PATTERN,
  ENV_REFERENCE,
  GROUP_BY,
  type Kind,
  LABEL_NAME_PATTERN,
  LOCAL_TIME_PATTERN,
  MAX_LENGTH,
  METRIC_NAME,
  METRIC_PROFILES,
  NAME_PATTERN,
  NO_DATA,
  OWNER_PLACEHOLDER,
  PAGERDUTY_SEVERITIES,
  SEVERITIES,
  SIGNALS,
  SLACK_CHANNEL,
  SLACK_GROUP_HANDLE_PATTERN,
  SLACK_USER_ID_PATTERN,
  TIME_OF_DAY,
  WEEKDAYS,
  urlProblem,
} from './schema-values.js';

export const NOT_VALID: unique symbol = Symbol('not valid');
type Check = (value: unknown) => unknown;
/** A field of a mapping; optional fields may be left out. */
type Field = { check: Check; optional?: true };

const opt = (check: Check): Field => ({ check, optional: true });
const req = (check: Check): Field => ({ check });

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A mapping of exactly these fields (no others), each valid; the result lists them in the order given. */
function mapping(fields: Record<string, Field>): Check {
  const names = Object.keys(fields);
  return (value) => {
    if (!isMapping(value)) return NOT_VALID;
    for (const key of Object.keys(value)) if (!Object.hasOwn(fields, key)) return NOT_VALID;
    const out: Record<string, unknown> = {};
    for (const name of names) {
      const v = value[name];
      const field = fields[name]!;
      if (v === undefined) {
        if (!Object.hasOwn(value, name) && field.optional) continue;
        return NOT_VALID;
      }
      const r = field.check(v);
      if (r === NOT_VALID) return NOT_VALID;
      out[name] = r;
    }
    return out;
  };
}

function list(item: Check, min = 0): Check {
  return (value) => {
    if (!Array.isArray(value) || value.length < min) return NOT_VALID;
    const out: unknown[] = [];
    for (const v of value) {
      const r = item(v);
      if (r === NOT_VALID) return NOT_VALID;
      out.push(r);
    }
    return out;
  };
}

/** A string of at most `max` characters (and at least `min`) that passes every test. */
function text(max: number, min = 0, ...tests: Array<(s: string) => boolean>): Check {
  return (value) =>
    typeof value === 'string' && value.length <= max && value.length >= min && tests.every((t) => t(value))
      ? value
      : NOT_VALID;
}

const matches = (pattern: string | RegExp) => {
  const re = typeof pattern === 'string' ? new RegExp(pattern) : pattern;
  return (s: string) => re.test(s);
};

function oneOf(values: readonly unknown[]): Check {
  return (value) => (values.includes(value) ? value : NOT_VALID);
}

function number(test: (n: number) => boolean): Check {
  return (value) => (typeof value === 'number' && Number.isFinite(value) && test(value) ? value : NOT_VALID);
}

const name = text(MAX_LENGTH.name, 0, matches(NAME_PATTERN));
const reference = text(MAX_LENGTH.name, 1);
const ANY_DURATION: DurationBounds = { min: '0', max: '1y' };
const duration =
  (bounds: DurationBounds = ANY_DURATION): Check =>
  (value) =>
    ((typeof value === 'string' && value.length <= MAX_LENGTH.duration && isDurationText(value)) || value === 0) &&
    durationOutOfBounds(value as string | 0, bounds) === undefined
      ? value
      : NOT_VALID;
const condition = text(MAX_LENGTH.short, 0, (s) => parseCondition(s) !== undefined);
const percent = text(MAX_LENGTH.short, 0, (s) => parsePercent(s) !== undefined);
const labelName = text(MAX_LENGTH.name, 0, matches(LABEL_NAME_PATTERN));
const labelValue = text(MAX_LENGTH.label);
const labels: Check = (value) => {
  if (!isMapping(value)) return NOT_VALID;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (labelName(k) === NOT_VALID || labelValue(v) === NOT_VALID) return NOT_VALID;
    out[k] = v;
  }
  return out;
};
const url = (what: string) => text(MAX_LENGTH.url, 0, (s) => urlProblem(what, s) === undefined);
const owner = text(MAX_LENGTH.name, 1, (s) => s !== OWNER_PLACEHOLDER);
const eventCount = opt(number((n) => Number.isSafeInteger(n) && n >= 0));
const metricName = text(MAX_LENGTH.name, 0, matches(METRIC_NAME));
const matchers = text(MAX_LENGTH.query, 1);
const query = text(MAX_LENGTH.query, 1);
const dependency = text(MAX_LENGTH.name, 0, matches(DEPENDENCY_PATTERN));
const localTime = text(MAX_LENGTH.short, 0, matches(LOCAL_TIME_PATTERN));

const dashboard = mapping({
  id: req(text(MAX_LENGTH.name, 0, matches(DASHBOARD_ID))),
  title: opt(text(MAX_LENGTH.name)),
  url: opt(url('url')),
  owner: req(owner),
});

const burnRateTier = mapping({
  severity: req(oneOf(SEVERITIES)),
  budget: req(percent),
  long: req(duration({ min: '1s', max: '1y' })),
  short: opt(duration({ min: '1s', max: '1y' })),
});

const tiers = list(burnRateTier, 1);
const alert = mapping({
  when: opt(condition),
  for: opt(duration({ min: '0', max: '30d' })),
  resolveAfter: opt(duration({ min: '0', max: '30d' })),
  severity: opt(oneOf(SEVERITIES)),
  burnRate: opt((v) => (v === 'workbook' ? v : tiers(v))),
  minEvents: eventCount,
});

const ratio = mapping({ bad: opt(query), good: opt(query), total: req(query) });

const metrics = mapping({
  profile: opt(oneOf(METRIC_PROFILES)),
  selector: opt(matchers),
  duration: opt(metricName),
  requests: opt(mapping({ counter: req(metricName), errors: req(matchers) })),
  cost: opt(metricName),
  tokens: opt(metricName),
  tokenPrices: opt(mapping({ input: req(number((n) => n >= 0)), output: req(number((n) => n >= 0)) })),
  cache: opt(mapping({ counter: req(metricName), hits: req(matchers) })),
  guardrail: opt(metricName),
  queue: opt(metricName),
  evalScore: opt(metricName),
});

const compare = mapping({
  label: req(labelName),
  baseline: req(text(MAX_LENGTH.label, 1)),
  when: opt(condition),
  minEvents: eventCount,
});

const slo = mapping({
  name: req(name),
  signal: req(oneOf(SIGNALS)),
  dashboard: req(reference),
  description: opt(text(MAX_LENGTH.text)),
  runbook: opt(url('runbook')),
  query: opt(query),
  baseline: opt(query),
  ratio: opt(ratio),
  objective: opt(text(MAX_LENGTH.short, 0, (s) => parseCondition(s) !== undefined || parsePercent(s) !== undefined)),
  window: opt(duration({ min: '1m', max: '1y' })),
  interval: opt(duration({ min: '1s', max: '1d' })),
  escalation: opt(reference),
  labels: opt(labels),
  noData: opt(oneOf(NO_DATA)),
  noDataFor: opt(duration({ min: '1s', max: '30d' })),
  maxSeries: opt(number((n) => Number.isSafeInteger(n) && n >= 1)),
  alert: opt(alert),
  quantile: opt(number((n) => n > 0 && n < 1)),
  by: opt(list(labelName)),
  range: opt(duration({ min: '1s', max: '30d' })),
  compare: opt(compare),
  dependsOn: opt(list(dependency, 1)),
  inhibits: opt(list(dependency, 1)),
  inhibitFor: opt(duration({ min: '0', max: '1d' })),
});

const serviceLevels = mapping({
  apiVersion: req(oneOf([API_VERSION])),
  kind: req(oneOf(['ServiceLevels'])),
  service: req(name),
  owner: req(owner),
  description: opt(text(MAX_LENGTH.text)),
  escalation: opt(reference),
  interval: opt(duration({ min: '1s', max: '1d' })),
  labels: opt(labels),
  dashboards: opt(list(dashboard)),
  metrics: opt(metrics),
  dependsOn: opt(list(dependency, 1)),
  inhibitFor: opt(duration({ min: '0', max: '1d' })),
  slos: req(list(slo, 1)),
});

const stepCommon = {
  after: opt(duration({ min: '0', max: '30d' })),
  repeat: opt(duration({ min: '0', max: '30d' })),
};
const STEPS: Record<string, Check> = {
  slack: mapping({
    notify: req(oneOf(['slack'])),
    ...stepCommon,
    channel: req(text(MAX_LENGTH.name, 0, matches(SLACK_CHANNEL))),
  }),
  pagerduty: mapping({
    notify: req(oneOf(['pagerduty'])),
    ...stepCommon,
    routingKey: opt(text(MAX_LENGTH.name, 0, matches(ENV_REFERENCE))),
    severity: opt(oneOf(PAGERDUTY_SEVERITIES)),
  }),
  oncall: mapping({ notify: req(oneOf(['oncall'])), ...stepCommon, schedule: req(reference) }),
};
const step: Check = (value) => {
  const notify = isMapping(value) ? value.notify : undefined;
  return typeof notify === 'string' && Object.hasOwn(STEPS, notify) ? STEPS[notify]!(value) : NOT_VALID;
};

const responder = matches(`${SLACK_USER_ID_PATTERN}|${SLACK_GROUP_HANDLE_PATTERN}`);
const escalationPolicy = mapping({
  apiVersion: req(oneOf([API_VERSION])),
  kind: req(oneOf(['EscalationPolicy'])),
  name: req(name),
  description: opt(text(MAX_LENGTH.text)),
  page: opt(list(step, 1)),
  ticket: opt(list(step, 1)),
  responders: opt(list(text(MAX_LENGTH.short, 0, responder), 1)),
  repeat: opt(duration({ min: '0', max: '30d' })),
  group: opt(mapping({ by: opt(list(oneOf(GROUP_BY))), wait: opt(duration({ min: '0', max: '1h' })) })),
});

const member = mapping({
  name: req(text(MAX_LENGTH.name, 1)),
  slack: opt(text(MAX_LENGTH.short, 0, matches(SLACK_USER_ID_PATTERN))),
  pagerduty: opt(text(MAX_LENGTH.short, 1)),
  email: opt(text(MAX_LENGTH.name)),
});

const onCallSchedule = mapping({
  apiVersion: req(oneOf([API_VERSION])),
  kind: req(oneOf(['OnCallSchedule'])),
  name: req(name),
  description: opt(text(MAX_LENGTH.text)),
  timezone: req(text(MAX_LENGTH.short, 1)),
  rotation: req(mapping({ every: req(duration({ min: '1m', max: '1y' })), start: req(localTime) })),
  members: req(list(member)),
  overrides: opt(list(mapping({ member: req(text(MAX_LENGTH.name, 1)), from: req(localTime), to: req(localTime) }))),
  fallback: opt(text(MAX_LENGTH.name, 1)),
});

const silence = mapping({
  apiVersion: req(oneOf([API_VERSION])),
  kind: req(oneOf(['Silence'])),
  name: req(name),
  owner: req(text(MAX_LENGTH.name, 1)),
  reason: req(text(MAX_LENGTH.text, 1)),
  matchers: req(list(text(MAX_LENGTH.label, 1), 1)),
  startsAt: opt(text(MAX_LENGTH.short)),
  endsAt: opt(text(MAX_LENGTH.short)),
  every: opt(oneOf(['weekly'])),
  days: opt(list(oneOf(WEEKDAYS), 1)),
  from: opt(text(MAX_LENGTH.short, 0, matches(TIME_OF_DAY))),
  to: opt(text(MAX_LENGTH.short, 0, matches(TIME_OF_DAY))),
  timezone: opt(text(MAX_LENGTH.short, 1)),
});

const KIND_CHECKS: { readonly [K in Kind]: Check } = {
  ServiceLevels: serviceLevels,
  EscalationPolicy: escalationPolicy,
  OnCallSchedule: onCallSchedule,
  Silence: silence,
};

/** What the zod schema of `kind` makes of a valid document, or NOT_VALID (a problem, or one not judged here). */
export function validDocument(kind: Kind, value: unknown): unknown {
  return KIND_CHECKS[kind](value);
}
