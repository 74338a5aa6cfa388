/** The metric names a `metrics:` profile starts from; names given in the file override them. */
import type { MetricsDoc } from '../schema.js';

/** What a profile knows about the labels of its metrics. */
export interface ProfileLabels {
  /** The label that names the model, for `by:` and `compare:`. */
  model?: string;
  /** The label that names the provider. */
  system?: string;
}

export interface Profile {
  metrics: Omit<MetricsDoc, 'profile' | 'selector'>;
  labels: ProfileLabels;
}

/**
 * The OpenTelemetry semantic conventions for generative AI (gen_ai.client.operation.duration, a histogram in
 * seconds, with error.type set on failed operations; gen_ai.client.token.usage, a histogram of tokens by
 * gen_ai.token.type) as the OpenTelemetry Collector's Prometheus exporters write them: dots become underscores and
 * the unit becomes a suffix. Cost, cache, guardrails, approvals and eval scores have no convention: name them.
 */
export const OPENTELEMETRY_GENAI: Profile = {
  metrics: {
    duration: 'gen_ai_client_operation_duration_seconds',
    requests: { counter: 'gen_ai_client_operation_duration_seconds_count', errors: 'error_type!=""' },
    tokens: 'gen_ai_client_token_usage',
  },
  labels: { model: 'gen_ai_request_model', system: 'gen_ai_system' },
};

export const PROFILES: Record<NonNullable<MetricsDoc['profile']>, Profile> = {
  'opentelemetry-genai': OPENTELEMETRY_GENAI,
  custom: { metrics: {}, labels: {} },
};

/** The metrics of a service: its profile's names, overridden by the names in the file. */
export function resolveMetrics(doc: MetricsDoc): MetricsDoc & { labels: ProfileLabels } {
  const profile = PROFILES[doc.profile ?? 'custom'];
  const given = Object.fromEntries(Object.entries(doc).filter(([, v]) => v !== undefined));
  return { ...profile.metrics, ...given, labels: profile.labels };
}
