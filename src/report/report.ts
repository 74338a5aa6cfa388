/**
 * `sloe report`'s content: per SLO its error budget at one moment, and the incidents of its window, read from the
 * incident store of `sloe run` or replayed from history with the backtest's state machine.
 */
import type { Budget } from '../budget/budget.js';
import { budgetWindow, sloBudget } from '../budget/load.js';
import type { Incident } from '../incident/model.js';
import type { IncidentStore } from '../incident/ports.js';
import { EvaluationError, loadFrames, replay } from '../evaluator/index.js';
import type { PrometheusPort } from '../evaluator/prometheus.js';
import type { Config, Slo } from '../rules/model.js';
import { mapLimit } from '../util/async.js';

/** One incident of the window, as the report lists it. */
export interface ReportIncident {
  severity: string;
  /** breach, nodata or error. */
  reason: string;
  firedAt: number;
  resolvedAt: number | null;
  message: string;
  /** From the store: firing, acknowledged or resolved, and by whom. */
  status?: string;
  acknowledgedBy?: string;
  labels: Record<string, string>;
  steps?: Array<{ notify: string; at: number; target: string }>;
}

export interface ReportEntry {
  slo: Slo;
  budget: Budget;
  incidents: ReportIncident[];
}

/** Where the incidents came from: the store `sloe run` writes, or a replay of history. */
export type IncidentSource = 'redis' | 'backtest';

export interface Report {
  at: number;
  incidentSource: IncidentSource;
  entries: ReportEntry[];
}

export interface ReportOptions {
  at: number;
  windowMs?: number;
  /** Read incidents from here; without it they are replayed. */
  store?: IncidentStore;
  onProgress?: (done: number, total: number) => void;
}

/** Builds the report; an SLO whose queries fail throws EvaluationError (no report is better than a wrong one). */
export async function buildReport(port: PrometheusPort, config: Config, options: ReportOptions): Promise<Report> {
  const stored = options.store
    ? await storedIncidents(
        options.store,
        options.at - Math.max(...config.slos.map((s) => budgetWindow(s, options.windowMs)), 0),
        options.at,
      )
    : undefined;
  let done = 0;
  const entries = await mapLimit(config.slos, 4, async (slo): Promise<ReportEntry> => {
    const budget = await sloBudget(port, slo, options.at, options.windowMs);
    const from = options.at - budget.windowMs;
    const incidents = stored
      ? stored.filter((i) => i.sloId === slo.id && i.firedAt >= from).map(fromStore)
      : await replayed(port, config, slo, from, options.at);
    options.onProgress?.(++done, config.slos.length);
    return { slo, budget, incidents };
  });
  return { at: options.at, incidentSource: stored ? 'redis' : 'backtest', entries };
}

/** Every incident fired in [from, to], newest first. */
async function storedIncidents(store: IncidentStore, from: number, to: number): Promise<Incident[]> {
  const out: Incident[] = [];
  let after: { firedAt: number; id: string } | undefined;
  for (;;) {
    const page = await store.page({ limit: 500, ...(after ? { after } : {}) });
    for (const i of page.incidents) if (i.firedAt >= from && i.firedAt <= to) out.push(i);
    const last = page.incidents.at(-1);
    if (!page.more || !last || last.firedAt < from) return out;
    after = { firedAt: last.firedAt, id: last.id };
  }
}

function fromStore(i: Incident): ReportIncident {
  return {
    severity: i.severity,
    reason: i.reason,
    firedAt: i.firedAt,
    resolvedAt: i.resolvedAt ?? null,
    message: i.message,
    status: i.status,
    ...(i.acknowledgedBy ? { acknowledgedBy: i.acknowledgedBy } : {}),
    labels: i.labels,
  };
}

/** The incidents the state machine opens over [from, to], stepping at the SLO's interval (at least 1m). */
async function replayed(
  port: PrometheusPort,
  config: Config,
  slo: Slo,
  from: number,
  to: number,
): Promise<ReportIncident[]> {
  const stepMs = Math.max(60_000, Math.ceil(slo.intervalMs / 60_000) * 60_000);
  const start = Math.ceil(from / stepMs) * stepMs;
  const times: number[] = [];
  for (let t = start; t <= to; t += stepMs) times.push(t);
  if (times.length === 0) return [];
  let frames: Awaited<ReturnType<typeof loadFrames>>;
  try {
    frames = await loadFrames(port, slo, start, times.at(-1)!, stepMs);
  } catch (e) {
    throw e instanceof EvaluationError ? e : new EvaluationError(slo.id, '', e);
  }
  return replay(slo, config.policies.get(slo.escalation), times, frames).flatMap((instance) =>
    instance.incidents.map((i) => ({
      severity: i.severity,
      reason: i.reason,
      firedAt: i.firedAt,
      resolvedAt: i.resolvedAt,
      message: i.message,
      labels: instance.labels,
      steps: i.steps.map((s) => ({ notify: s.notify, at: s.at, target: s.target })),
    })),
  );
}
