/**
 * The names, patterns, limits and value checks of the wire format (`apiVersion: sloe/v1`), without the schema
 * library: the zod schemas (schema.ts) and the fast check of valid documents (schema-fast.ts) share them, and
 * what only needs a name or a limit does not load zod.
 */
export const API_VERSION = 'sloe/v1';
/** The kinds of document, in the order messages list them. */
export const KIND_NAMES = ['ServiceLevels', 'EscalationPolicy', 'OnCallSchedule', 'Silence'] as const;
export type Kind = (typeof KIND_NAMES)[number];
export const SIGNALS = [
  'latency',
  'error_rate',
  'cost_per_request',
  'cache_hit_rate',
  'guardrail_rate',
  'queue_depth',
  'eval_score',
  'custom',
] as const;
export const SEVERITIES = ['page', 'ticket'] as const;
export const PAGERDUTY_SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
/** Built-in metric-name profiles of `metrics:` (see src/rules/presets/profiles.ts). */
export const METRIC_PROFILES = ['opentelemetry-genai', 'custom'] as const;
/** What incidents of a policy may share one Slack message and one PagerDuty incident by. */
export const GROUP_BY = ['service', 'slo'] as const;
export const NO_DATA = ['alert', 'ok', 'keep'] as const;
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

export const NAME_PATTERN = '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$';
export const LOCAL_TIME_PATTERN = String.raw`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$`;
export const LABEL_NAME_PATTERN = '^[a-zA-Z_][a-zA-Z0-9_]*$';
/** A Slack user id: `U…`, or `W…` on Enterprise Grid. */
export const SLACK_USER_ID_PATTERN = '^[UW][A-Z0-9]{2,}$';
/** A Slack user group handle as written in a mention: lower-case letters, digits, `.`, `_` and `-`. */
export const SLACK_GROUP_HANDLE_PATTERN = '^@[a-z0-9][a-z0-9._-]{0,79}$';
/** A dependency: `service` (any SLO of it) or `service/slo`. */
export const DEPENDENCY_PATTERN = '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(/[a-z0-9]([a-z0-9-]*[a-z0-9])?)?$';
export const DASHBOARD_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
export const SLACK_CHANNEL = /^(#[^\s#<>&|]+|[CGD][A-Z0-9]{2,}|\$\{[A-Za-z_][A-Za-z0-9_]*\})$/;
export const ENV_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;
export const TIME_OF_DAY = /^([01]\d|2[0-3]):[0-5]\d$/;

/**
 * The longest string each kind of field takes: a spec is read on the engine's event loop, so nothing in it is
 * unbounded. The checks after a length check only run on strings within it.
 */
export const MAX_LENGTH = {
  name: 256,
  query: 4096,
  text: 4096,
  url: 2048,
  label: 1024,
  short: 64,
  duration: 1024,
} as const;

export const DURATION_MESSAGE = 'invalid duration: expected a Prometheus duration such as 30s, 5m, 1h30m, 7d or 4w';

/** The owner `sloe import` writes where its input names none; `validate` rejects it until someone fills it in. */
export const OWNER_PLACEHOLDER = 'TODO-owner';

/** Characters that Slack reads as markup (and whitespace, which ends a link there): never part of a URL in a spec. */
const URL_MARKUP = /[\s\x00-\x1f\x7f<>|]/;

/**
 * What is wrong with an http(s) URL of the field `what` (parsed as browsers parse it, without characters that would
 * turn into Slack markup), or undefined.
 */
export function urlProblem(what: string, value: string): string | undefined {
  let parsed: URL | undefined;
  try {
    parsed = new URL(value);
  } catch {
    parsed = undefined;
  }
  if (
    !parsed ||
    (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') ||
    !/^https?:\/\//i.test(value) ||
    parsed.hostname === ''
  ) {
    return `${what} must be an http(s) URL`;
  }
  if (URL_MARKUP.test(value))
    return `${what} must be a plain http(s) URL: "|", "<", ">" and whitespace are not allowed (Slack reads them as markup)`;
  return undefined;
}
