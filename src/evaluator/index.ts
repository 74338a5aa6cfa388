import { PrometheusClient, prometheusConfigFromEnv } from './prometheus.js';

export { type BacktestIncident, type BacktestInstance, replay } from './backtest.js';
export { groupReplays } from './backtest-groups.js';
export { conditionText, objectiveText } from './describe.js';
export { evaluateAt, loadFrames } from './evaluate.js';
export { EvaluationError } from './fetch.js';
export { type SloFrame, fmt } from './frame.js';
export { type Labels, formatLabels } from './labels.js';
export { PrometheusClient, prometheusConfigFromEnv } from './prometheus.js';
export { ratioPlan } from './plan.js';

/** A Prometheus client configured from the environment. */
export function createPrometheus(env: NodeJS.ProcessEnv): PrometheusClient {
  return new PrometheusClient(prometheusConfigFromEnv(env));
}
