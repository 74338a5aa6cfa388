import { PrometheusClient, prometheusConfigFromEnv } from './prometheus.js';

export { type BacktestIncident, type BacktestInstance, loadFrames, replay } from './backtest.js';
export { groupReplays } from './backtest-groups.js';
export { conditionText, objectiveText } from './describe.js';
export { EvaluationError, evaluateAt } from './evaluate.js';
export { type SloFrame, fmt } from './frame.js';
export { type Labels, formatLabels } from './labels.js';
export { PrometheusClient, prometheusConfigFromEnv } from './prometheus.js';
export { ratioPlan } from './windows.js';

/** A Prometheus client configured from the environment. */
export function createPrometheus(env: NodeJS.ProcessEnv): PrometheusClient {
  return new PrometheusClient(prometheusConfigFromEnv(env));
}
