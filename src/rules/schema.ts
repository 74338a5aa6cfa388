/**
 * The wire format of SLO files (`apiVersion: sloe/v1`). One schema yields the TypeScript types, the structural
 * validation and `schema/sloe.schema.json` for editors; the checks that need more than one node live in check.ts.
 */
import { z } from 'zod';
import { CONDITION_PATTERN, PERCENT_PATTERN, parseCondition, parsePercent } from './condition.js';
import { DURATION_PATTERN, type DurationBounds, durationOutOfBounds, isDurationText } from './duration.js';
import {
  API_VERSION,
  DASHBOARD_ID,
  DEPENDENCY_PATTERN,
  DURATION_MESSAGE,
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

export * from './schema-values.js';

/** A string of at most `max` characters; longer ones fail here and are not looked at further. */
const text = (max: number) => z.string().max(max, { abort: true });

const name = (what: string) =>
  text(MAX_LENGTH.name)
    .regex(new RegExp(NAME_PATTERN), {
      error: `${what} must be lower-case letters, digits and inner dashes ([a-z0-9-]+)`,
    })
    .meta({ description: `${what}: lower-case letters, digits and dashes` });

const reference = (what: string) => text(MAX_LENGTH.name).min(1, { error: `${what} must not be empty` });

/** Bounds of a duration field that names none: never negative (a duration cannot be), at most a year. */
const ANY_DURATION: DurationBounds = { min: '0', max: '1y' };

/** A Prometheus duration (or 0) within `bounds`; a value outside them is reported with the field's name. */
const duration = (description: string, bounds: DurationBounds = ANY_DURATION) =>
  z
    .union(
      [
        text(MAX_LENGTH.duration)
          .refine(isDurationText, { error: DURATION_MESSAGE })
          .meta({ pattern: DURATION_PATTERN }),
        z.literal(0),
      ],
      { error: DURATION_MESSAGE },
    )
    .superRefine((value, ctx) => {
      const why = durationOutOfBounds(value, bounds);
      if (why) ctx.addIssue({ code: 'custom', message: why, params: { withField: true } });
    })
    .meta({ description: `${description}; from ${bounds.min} to ${bounds.max}` });

const CONDITION_MESSAGE =
  'invalid condition: expected "< N", "<= N", "> N", ">= N" (N may end in %), or "drop > N" / "rise > N" with a baseline';
const condition = (description: string) =>
  text(MAX_LENGTH.short)
    .refine((s) => parseCondition(s) !== undefined, { error: CONDITION_MESSAGE })
    .meta({ description, pattern: CONDITION_PATTERN });

const percent = (description: string) =>
  text(MAX_LENGTH.short)
    .refine((s) => parsePercent(s) !== undefined, { error: 'expected a percentage such as 2%' })
    .meta({ description, pattern: PERCENT_PATTERN });

const labels = z
  .record(
    text(MAX_LENGTH.name).regex(new RegExp(LABEL_NAME_PATTERN), {
      error: 'label names must match [a-zA-Z_][a-zA-Z0-9_]*',
    }),
    text(MAX_LENGTH.label),
  )
  .meta({ description: 'labels copied onto every incident' });

/** An http(s) URL, parsed as browsers parse it, without characters that would turn into Slack markup. */
const url = (what: string, description: string) =>
  text(MAX_LENGTH.url)
    .superRefine((value, ctx) => {
      const problem = urlProblem(what, value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .meta({ description, pattern: String.raw`^https?://[^\s<>|]+$` });

/** An owner: not empty, and not the placeholder an import writes where its input names nobody. */
const owner = (description: string) =>
  text(MAX_LENGTH.name)
    .min(1, { error: 'owner must not be empty' })
    .refine((s) => s !== OWNER_PLACEHOLDER, {
      error: `owner is still the placeholder ${OWNER_PLACEHOLDER} that sloe import wrote: name the owning team or person`,
    })
    .meta({ description });

export const DashboardSchema = z
  .strictObject({
    id: text(MAX_LENGTH.name)
      .regex(DASHBOARD_ID, { error: 'dashboard id must be letters, digits, ".", "_" or "-"' })
      .meta({ description: 'the id SLOs refer to' }),
    title: text(MAX_LENGTH.name).optional().meta({ description: 'human title, defaults to the id' }),
    url: url('url', 'link shown on every alert').optional(),
    owner: owner('the one person or team that owns the dashboard'),
  })
  .meta({ description: 'a dashboard with exactly one owner' });

export const BurnRateTierSchema = z.strictObject({
  severity: z.enum(SEVERITIES),
  budget: percent('share of the error budget this tier detects being spent over `long`'),
  long: duration('long window', { min: '1s', max: '1y' }),
  short: duration('short window, default long/12', { min: '1s', max: '1y' }).optional(),
});

/** A number of events (a whole number, 0 or more). */
const eventCount = (description: string) => z.number().int().min(0).optional().meta({ description });

export const AlertSchema = z
  .strictObject({
    when: condition('the breach condition').optional(),
    for: duration('the breach must hold this long before the incident fires (default 0)', {
      min: '0',
      max: '30d',
    }).optional(),
    resolveAfter: duration('healthy this long before the incident resolves (default 5m)', {
      min: '0',
      max: '30d',
    }).optional(),
    severity: z.enum(SEVERITIES).optional().meta({ description: 'incident severity (default page)' }),
    burnRate: z
      .union([z.literal('workbook'), z.array(BurnRateTierSchema).min(1)], {
        error: 'burnRate must be "workbook" or a list of tiers {severity, budget, long, short}',
      })
      .optional()
      .meta({ description: 'ratio SLOs: "workbook" or a list of burn-rate tiers' }),
    minEvents: eventCount('ratio SLOs: below this many events in the long window a tier does not fire'),
  })
  .meta({ description: 'when the SLO opens an incident' });

export const RatioSchema = z
  .strictObject({
    bad: text(MAX_LENGTH.query)
      .min(1)
      .optional()
      .meta({ description: 'rate of bad events; use $window for the range' }),
    good: text(MAX_LENGTH.query)
      .min(1)
      .optional()
      .meta({ description: 'rate of good events; use $window for the range' }),
    total: text(MAX_LENGTH.query).min(1).meta({ description: 'rate of all events; use $window for the range' }),
  })
  .meta({ description: 'a ratio SLI: exactly one of bad|good, plus total' });

const metricName = (description: string) =>
  text(MAX_LENGTH.name)
    .regex(METRIC_NAME, { error: 'a metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*' })
    .meta({ description });
const matchers = (description: string) => text(MAX_LENGTH.query).min(1).meta({ description });

export const MetricsSchema = z
  .strictObject({
    profile: z.enum(METRIC_PROFILES).optional().meta({
      description:
        'metric names to start from: opentelemetry-genai (the OpenTelemetry GenAI semantic conventions as exported to Prometheus) or custom (default: only the names given)',
    }),
    selector: matchers('label matchers added to every selector, e.g. app="assistant"').optional(),
    duration: metricName('histogram of request duration in seconds (without _bucket)').optional(),
    requests: z
      .strictObject({
        counter: metricName('counter of requests'),
        errors: matchers('label matchers that pick the failed requests, e.g. status="error"'),
      })
      .optional()
      .meta({ description: 'the request counter and which of its series count failures' }),
    cost: metricName('counter of cost in US dollars').optional(),
    tokens: metricName('histogram of tokens per request with a gen_ai_token_type label (without _sum)').optional(),
    tokenPrices: z
      .strictObject({
        input: z.number().min(0).meta({ description: 'US dollars per input token' }),
        output: z.number().min(0).meta({ description: 'US dollars per output token' }),
      })
      .optional()
      .meta({ description: 'cost from tokens, when there is no cost counter' }),
    cache: z
      .strictObject({
        counter: metricName('counter of cache look-ups'),
        hits: matchers('label matchers that pick the hits, e.g. result="hit"'),
      })
      .optional(),
    guardrail: metricName('counter of requests a guardrail blocked').optional(),
    queue: metricName('gauge of answers waiting for human approval').optional(),
    evalScore: metricName('gauge of the online eval score').optional(),
  })
  .meta({ description: 'the metrics of the service, once: SLOs may then be declared by signal, without a query' });

/** A variant comparison: every value of `label` against the `baseline` value's SLI (`sloe gate`). */
export const CompareSchema = z
  .strictObject({
    label: text(MAX_LENGTH.name)
      .regex(new RegExp(LABEL_NAME_PATTERN), { error: 'label names must match [a-zA-Z_][a-zA-Z0-9_]*' })
      .meta({ description: 'the label whose values are the variants, e.g. prompt_key or gen_ai_request_model' }),
    baseline: text(MAX_LENGTH.label)
      .min(1, {
        error: 'compare.baseline must not be empty: name the value of the label every other value is compared with',
      })
      .meta({ description: 'the value of the label that is the baseline, e.g. answer_v1' }),
    when: condition(
      'how far a variant may move from the baseline before it is a regression: "rise > 20%", "drop > 2" (default per signal: latency and cost rise > 20%, error rate rise > 0.005, eval score drop > 2)',
    ).optional(),
    minEvents: eventCount(
      'the fewest events each side needs over the window before the comparison counts (default 100; for gauges, samples: default 10)',
    ),
  })
  .meta({
    description:
      'compare the values of a label (prompt or model variants) against a baseline value: the rollout gate of `sloe gate`',
  });
const dependency = text(MAX_LENGTH.name).regex(new RegExp(DEPENDENCY_PATTERN), {
  error: (issue) => `expected "service" or "service/slo" (lower-case names): got ${JSON.stringify(issue.input)}`,
});

const dependsOn = (whose: string) =>
  z
    .array(dependency)
    .min(1, { error: 'dependsOn must list at least one "service" or "service/slo"' })
    .optional()
    .meta({
      description: `what ${whose} depends on: "service/slo" or "service" (any of its SLOs); while one of them has a firing page, a page of ${whose} is held, and released if it still fires inhibitFor after the dependency resolves`,
    });

const inhibitFor = (whose: string) =>
  duration(
    `how long a page of ${whose} held by a dependency (dependsOn, inhibits) still waits after the dependency resolved (default 15m)`,
    { min: '0', max: '1d' },
  ).optional();

export const SloSchema = z.strictObject({
  name: name('SLO name'),
  signal: z.enum(SIGNALS).meta({ description: 'which golden signal this SLO watches' }),
  dashboard: reference('dashboard').meta({ description: 'id of a dashboard declared in any file' }),
  description: text(MAX_LENGTH.text).optional(),
  runbook: url('runbook', 'runbook link shown on every alert').optional(),
  query: text(MAX_LENGTH.query).min(1).optional().meta({ description: 'PromQL giving the SLI value' }),
  baseline: text(MAX_LENGTH.query)
    .min(1)
    .optional()
    .meta({ description: 'PromQL giving the baseline for drop/rise conditions' }),
  ratio: RatioSchema.optional(),
  objective: text(MAX_LENGTH.short)
    .refine((s) => parseCondition(s) !== undefined || parsePercent(s) !== undefined, {
      error: 'invalid objective: expected a condition such as "< 3.5", or for a ratio SLO a percentage such as 99.9%',
    })
    .optional()
    .meta({
      description: 'what healthy means: a condition, or for a ratio SLO the share of good events',
      pattern: `${CONDITION_PATTERN}|${PERCENT_PATTERN}`,
    }),
  window: duration('compliance window of a ratio SLO (default 30d)', { min: '1m', max: '1y' }).optional(),
  interval: duration('evaluation cadence (default: the service interval)', { min: '1s', max: '1d' }).optional(),
  escalation: reference('escalation')
    .optional()
    .meta({ description: 'EscalationPolicy overriding the service default' }),
  labels: labels.optional(),
  noData: z.enum(NO_DATA).optional().meta({ description: 'what missing data means (default alert)' }),
  noDataFor: duration('how long data may be missing before a no-data incident (default 10m)', {
    min: '1s',
    max: '30d',
  }).optional(),
  maxSeries: z.number().int().min(1).optional().meta({ description: 'most series the query may return (default 50)' }),
  alert: AlertSchema.optional(),
  quantile: z
    .number()
    .gt(0)
    .lt(1)
    .optional()
    .meta({ description: 'latency SLOs declared by signal: the quantile (default 0.95)' }),
  by: z
    .array(
      text(MAX_LENGTH.name).regex(new RegExp(LABEL_NAME_PATTERN), {
        error: 'label names must match [a-zA-Z_][a-zA-Z0-9_]*',
      }),
    )
    .optional()
    .meta({ description: 'SLOs declared by signal: labels that split the SLO into instances (e.g. the model)' }),
  range: duration(
    'SLOs declared by signal: the range of rate() (default per signal: 5m, cost 1d, cache and guardrail 10m)',
    { min: '1s', max: '30d' },
  ).optional(),
  compare: CompareSchema.optional(),
  dependsOn: dependsOn('this SLO'),
  inhibits: z
    .array(dependency)
    .min(1, { error: 'inhibits must list at least one SLO of the same service' })
    .optional()
    .meta({
      description:
        'SLOs of the same service whose pages wait while this SLO has a firing page (a burn-rate SLO and a threshold SLO on the same counters: one fault, one page)',
    }),
  inhibitFor: inhibitFor('this SLO'),
});

export const ServiceLevelsSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('ServiceLevels'),
    service: name('service'),
    owner: owner('the owning team'),
    description: text(MAX_LENGTH.text).optional(),
    escalation: reference('escalation').optional().meta({ description: 'default EscalationPolicy of these SLOs' }),
    interval: duration('evaluation cadence (default 1m)', { min: '1s', max: '1d' }).optional(),
    labels: labels.optional(),
    dashboards: z.array(DashboardSchema).optional(),
    metrics: MetricsSchema.optional(),
    dependsOn: dependsOn('every SLO of the service'),
    inhibitFor: inhibitFor("the service's SLOs"),
    slos: z.array(SloSchema).min(1, { error: 'slos must list at least one SLO' }),
  })
  .meta({ title: 'ServiceLevels', description: 'the SLOs of one service' });

const stepCommon = {
  after: duration('when the step runs, counted from the moment the incident fires (default 0)', {
    min: '0',
    max: '30d',
  }).optional(),
  repeat: duration(
    'last step only: run this step again every `repeat` until the incident is acknowledged or resolved (at least 1m)',
    { min: '0', max: '30d' },
  ).optional(),
};

export const SlackStepSchema = z.strictObject({
  notify: z.literal('slack'),
  ...stepCommon,
  channel: text(MAX_LENGTH.name)
    .regex(SLACK_CHANNEL, {
      error: 'channel must be "#name", a channel id such as C0123ABCD, or ${VAR}',
    })
    .meta({ description: 'Slack channel: "#name" or a channel id' }),
});

export const PagerDutyStepSchema = z.strictObject({
  notify: z.literal('pagerduty'),
  ...stepCommon,
  routingKey: text(MAX_LENGTH.name)
    .regex(ENV_REFERENCE, {
      error:
        'routingKey must be an environment reference such as ${PAGERDUTY_ROUTING_KEY}: secrets do not belong in files',
    })
    .optional()
    .meta({ description: 'Events API v2 routing key, as an environment reference: ${PAGERDUTY_ROUTING_KEY}' }),
  severity: z.enum(PAGERDUTY_SEVERITIES).optional().meta({ description: 'PagerDuty severity (default critical)' }),
});

export const OnCallStepSchema = z.strictObject({
  notify: z.literal('oncall'),
  ...stepCommon,
  schedule: reference('schedule').meta({ description: 'name of an OnCallSchedule' }),
});

export const StepSchema = z.discriminatedUnion('notify', [SlackStepSchema, PagerDutyStepSchema, OnCallStepSchema]);

export const GroupSchema = z
  .strictObject({
    by: z
      .array(z.enum(GROUP_BY), { error: 'group.by must be a list: [service, slo], [service] or []' })
      .optional()
      .meta({
        description:
          'what the incidents of a group share: [service, slo] (default), [service], or [] (every incident of the policy)',
      }),
    wait: duration(
      'incidents of a group that fire within `wait` of its first share its message, PagerDuty incident and escalation (default 30s)',
      { min: '0', max: '1h' },
    ).optional(),
  })
  .meta({
    description:
      "incidents of one group that fire within `wait` share one Slack message, one PagerDuty incident and one escalation (Alertmanager's group_by and group_wait)",
  });

export const EscalationPolicySchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('EscalationPolicy'),
    name: name('policy name'),
    description: text(MAX_LENGTH.text).optional(),
    page: z.array(StepSchema).min(1, { error: 'page must list at least one step' }).optional(),
    ticket: z.array(StepSchema).min(1, { error: 'ticket must list at least one step' }).optional(),
    responders: z
      .array(
        text(MAX_LENGTH.short).regex(new RegExp(`${SLACK_USER_ID_PATTERN}|${SLACK_GROUP_HANDLE_PATTERN}`), {
          error: (issue) =>
            `responders must be Slack user ids (U… or W…) or user group handles (@name): got ${JSON.stringify(issue.input)}`,
        }),
        { error: 'responders must be a list of Slack user ids (U… or W…) and user group handles (@name)' },
      )
      .min(1, {
        error: 'responders must list at least one Slack user id or user group handle; leave it out to let anyone act',
      })
      .optional()
      .meta({
        description:
          'who may Ack, Resolve and Snooze from Slack: Slack user ids and user group handles (@name); members of the on-call schedules of its steps may too. Unset: anyone who sees the message',
      }),
    repeat: duration(
      'start the page steps over `repeat` after the last one ran, until the incident is acknowledged or resolved (at least 1m)',
      { min: '0', max: '30d' },
    ).optional(),
    group: GroupSchema.optional(),
  })
  .meta({ title: 'EscalationPolicy', description: 'who is told, how, and when, per severity' });

export const MemberSchema = z.strictObject({
  name: text(MAX_LENGTH.name).min(1, { error: 'member name must not be empty' }),
  slack: text(MAX_LENGTH.short)
    .regex(new RegExp(SLACK_USER_ID_PATTERN), { error: 'slack must be a Slack user id such as U01ABCDEF' })
    .optional()
    .meta({ description: 'Slack user id' }),
  pagerduty: text(MAX_LENGTH.short).min(1).optional().meta({ description: 'PagerDuty user id' }),
  email: text(MAX_LENGTH.name).optional(),
});

const localTime = (description: string) =>
  text(MAX_LENGTH.short)
    .regex(new RegExp(LOCAL_TIME_PATTERN), { error: 'expected a local time such as 2026-11-02T09:00' })
    .meta({ description });

export const OnCallScheduleSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('OnCallSchedule'),
    name: name('schedule name'),
    description: text(MAX_LENGTH.text).optional(),
    timezone: text(MAX_LENGTH.short).min(1).meta({ description: 'IANA time zone, e.g. Europe/Berlin' }),
    rotation: z.strictObject({
      every: duration('length of one shift, e.g. 1d or 1w', { min: '1m', max: '1y' }),
      start: localTime('when the first shift starts, local time in `timezone`'),
    }),
    members: z.array(MemberSchema).meta({ description: 'in rotation order' }),
    overrides: z
      .array(
        z.strictObject({
          member: text(MAX_LENGTH.name).min(1),
          from: localTime('local time in `timezone`'),
          to: localTime('local time in `timezone`'),
        }),
      )
      .optional(),
    fallback: text(MAX_LENGTH.name)
      .min(1)
      .optional()
      .meta({ description: 'member paged when the schedule resolves to nobody' }),
  })
  .meta({ title: 'OnCallSchedule', description: 'who is on call when' });

export const SilenceSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Silence'),
    name: name('silence name'),
    owner: text(MAX_LENGTH.name)
      .min(1, { error: 'owner must not be empty' })
      .meta({ description: 'who answers for the silence' }),
    reason: text(MAX_LENGTH.text)
      .min(1, { error: 'reason must not be empty: say why these incidents are silenced' })
      .meta({ description: 'why: shown in the audit trail of every incident it silences' }),
    matchers: z
      .array(text(MAX_LENGTH.label).min(1))
      .min(1, { error: 'matchers must list at least one matcher, e.g. "service = checkout"' })
      .meta({
        description:
          'Alertmanager-style matchers on service, slo, signal, severity and incident labels: "name = value", "!=", "=~", "!~" (regular expressions are anchored); all must hold',
      }),
    startsAt: text(MAX_LENGTH.short).optional().meta({ description: 'fixed window: start, RFC 3339' }),
    endsAt: text(MAX_LENGTH.short).optional().meta({ description: 'fixed window: end, RFC 3339' }),
    every: z.literal('weekly').optional().meta({ description: 'recurring window: weekly' }),
    days: z
      .array(z.enum(WEEKDAYS))
      .min(1, { error: 'days must list at least one day (mon … sun)' })
      .optional()
      .meta({ description: 'recurring window: the days it starts on' }),
    from: text(MAX_LENGTH.short)
      .regex(TIME_OF_DAY, { error: 'expected a local time of day such as 02:00' })
      .optional()
      .meta({ description: 'recurring window: local start time (HH:MM)' }),
    to: text(MAX_LENGTH.short)
      .regex(TIME_OF_DAY, { error: 'expected a local time of day such as 04:00' })
      .optional()
      .meta({
        description: 'recurring window: local end time (HH:MM); at or before `from`, the window ends the next day',
      }),
    timezone: text(MAX_LENGTH.short)
      .min(1)
      .optional()
      .meta({ description: 'recurring window: IANA time zone, e.g. Europe/Berlin' }),
  })
  .meta({
    title: 'Silence',
    description: 'a maintenance window: the matching incidents are opened and recorded but send no step while it lasts',
  });

export const KINDS: { readonly [K in Kind]: z.ZodType } = {
  ServiceLevels: ServiceLevelsSchema,
  EscalationPolicy: EscalationPolicySchema,
  OnCallSchedule: OnCallScheduleSchema,
  Silence: SilenceSchema,
};

export type SloDoc = z.infer<typeof SloSchema>;
export type ServiceLevelsDoc = z.infer<typeof ServiceLevelsSchema>;
export type EscalationPolicyDoc = z.infer<typeof EscalationPolicySchema>;
export type SilenceDoc = z.infer<typeof SilenceSchema>;
export type GroupDoc = z.infer<typeof GroupSchema>;
export type MetricsDoc = z.infer<typeof MetricsSchema>;
export type StepDoc = z.infer<typeof StepSchema>;
export type OnCallScheduleDoc = z.infer<typeof OnCallScheduleSchema>;

/** The JSON Schema of a sloe document, for editors (`# yaml-language-server: $schema=…`). */
export function jsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(
    z.discriminatedUnion('kind', [ServiceLevelsSchema, EscalationPolicySchema, OnCallScheduleSchema, SilenceSchema]),
    { target: 'draft-07' },
  );
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'sloe SLO-as-code document',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}
