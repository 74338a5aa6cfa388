/**
 * Evaluates an SLO in one pass, one direction: plan (pure: which queries and windows) → fetch (the only stage that
 * asks Prometheus) → frame (pure: samples → SloFrame). `eval` and `run` evaluate at one instant (`run` reading the
 * long windows from its cache), `backtest` and `report` fetch a history once and judge each step time.
 */
import type { Slo } from '../rules/model.js';
import { type WindowReader, fetchRates, fetchThreshold, fetchThresholdHistory, readAllWindows } from './fetch.js';
import {
  type Detail,
  type FrameSource,
  type SloFrame,
  ratioCalm,
  ratioFrame,
  thresholdCalm,
  thresholdFrame,
} from './frame.js';
import { ratioPlan, spanOver } from './plan.js';
import type { PrometheusPort } from './prometheus.js';
import { windowsAt } from './windows.js';

/**
 * Evaluates an SLO at `at` (unix ms). Throws EvaluationError when Prometheus fails. With `detail: 'problems'`,
 * healthy instances come without a message (the engine only words what it reports). `reader` reads a ratio SLO's
 * windows (by default all of them from Prometheus).
 */
export async function evaluateAt(
  port: PrometheusPort,
  slo: Slo,
  at: number,
  detail: Detail = 'all',
  reader: WindowReader = readAllWindows,
): Promise<SloFrame> {
  if (slo.kind === 'threshold') {
    const { values, baselines } = await fetchThreshold(port, slo, at);
    return thresholdFrame(slo, values, baselines, detail);
  }
  const plan = ratioPlan(slo);
  return ratioFrame(slo, plan, await reader.windowsAt(port, slo.id, plan, at), detail);
}

/** Fetches an SLO's history over [from, to] with range queries and returns the frame at any step time. */
export async function loadFrames(
  port: PrometheusPort,
  slo: Slo,
  from: number,
  to: number,
  stepMs: number,
): Promise<FrameSource> {
  if (slo.kind === 'threshold') {
    const { valuesAt, baselinesAt, completeAt } = await fetchThresholdHistory(port, slo, from, to, stepMs);
    const frames: FrameSource = (t) => thresholdFrame(slo, valuesAt(t), baselinesAt?.(t), 'problems');
    frames.calm = (t) => {
      const complete = completeAt(t);
      return complete && thresholdCalm(slo, complete.labels, complete.values);
    };
    return frames;
  }
  const plan = ratioPlan(slo);
  const grids = await fetchRates(port, slo.id, plan, spanOver(plan, from, to, stepMs));
  const frames: FrameSource = (t) => ratioFrame(slo, plan, windowsAt(grids, t), 'problems');
  frames.calm = ratioCalm(slo, plan, grids);
  return frames;
}
