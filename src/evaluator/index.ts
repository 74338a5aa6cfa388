import { PrometheusClient, prometheusConfigFromEnv } from './prometheus.js';

export { type BacktestIncident, type BacktestInstance, type FrameSource, loadFrames, replay } from './backtest.js';
export { conditionText, objectiveText } from './describe.js';
export { EvaluationError, evaluateAt, ratioGrids } from './evaluate.js';
export { type InstanceResult, type SloFrame, SLO_LEVEL, fmt, observe, ratioFrame, thresholdFrame } from './frame.js';
export { type Labels, formatLabels, labelsKey } from './labels.js';
export { PrometheusClient, type PrometheusConfig, PrometheusError, type PrometheusPort, prometheusConfigFromEnv } from './prometheus.js';
export { type IncidentReason, type InstanceState, type Observation, type Transition, advance, maxSeverity } from './state.js';
export { RateGrid, ratioPlan, ratioStatus } from './windows.js';

/** A Prometheus client configured from the environment. */
export function createPrometheus(env: NodeJS.ProcessEnv): PrometheusClient {
  return new PrometheusClient(prometheusConfigFromEnv(env));
}
