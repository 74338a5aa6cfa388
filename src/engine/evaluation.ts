/**
 * One scheduled evaluation of one SLO: query Prometheus, advance the state machine, store the new state and its
 * incident changes atomically (compare-and-set on the state's revision), then schedule what follows. A tick older
 * than the stored state is dropped, so replicas never evaluate the same tick twice or go back in time.
 */
import { EvaluationError, evaluateAt } from '../evaluator/evaluate.js';
import type { SloFrame } from '../evaluator/frame.js';
import type { PrometheusPort } from '../evaluator/prometheus.js';
import { planSteps } from '../escalation/plan.js';
import type { StepJob, UpdateJob } from '../escalation/escalator.js';
import type { Config, Slo } from '../rules/model.js';
import type { EngineMetrics } from '../server/metrics.js';
import { decide } from './decide.js';
import type { Incident } from './incident.js';
import type { Logger } from './log.js';
import type { IncidentStore } from './store.js';

export interface EvaluationDeps {
  store: IncidentStore;
  prometheus: PrometheusPort;
  config(): Config;
  log: Logger;
  metrics: EngineMetrics;
  now(): number;
  scheduleStep(job: StepJob): Promise<void>;
  queueUpdate(job: UpdateJob): Promise<void>;
}

/** How far back ensureSteps looks for steps to repair. */
const REPAIR_WINDOW_MS = 10 * 60_000;

export type TickResult = 'evaluated' | 'stale' | 'unknown-slo' | 'contended';

export class Evaluation {
  constructor(private readonly deps: EvaluationDeps) {}

  /** Evaluates an SLO now. */
  async tick(sloId: string): Promise<TickResult> {
    const { store, log, metrics } = this.deps;
    const config = this.deps.config();
    const slo = config.slos.find((s) => s.id === sloId);
    if (!slo) return 'unknown-slo';
    const policy = config.policies.get(slo.escalation);
    if (!policy) return 'unknown-slo';
    const now = this.deps.now();
    let frame: SloFrame | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const state = await store.loadState(slo.id);
      if (state.evaluatedAt >= now) return 'stale';
      frame ??= await this.frame(slo, now);
      const decision = decide(slo, policy, state, frame, now);
      const result = await store.apply(slo.id, state.rev, now, decision.instances, decision.ops);
      if (!result.applied) continue;
      log.debug({ event: 'evaluated', slo: slo.id, at: now, rev: state.rev + 1 }, `evaluated ${slo.id}`);
      for (const id of [...result.opened, ...result.escalated]) {
        const incident = await store.get(id);
        if (incident) {
          log.child({ incidentId: id, traceId: incident.traceId, slo: slo.id }).warn(
            { event: result.opened.includes(id) ? 'incident-fired' : 'incident-escalated', severity: incident.severity, reason: incident.reason, labels: incident.labels, owner: incident.dashboard.owner },
            `${result.opened.includes(id) ? 'fired' : 'raised to'} ${incident.severity}: ${slo.id}: ${incident.message}`,
          );
          await this.scheduleSteps(incident);
        }
      }
      for (const id of result.resolved) {
        const incident = await store.get(id);
        log.child({ incidentId: id, traceId: incident?.traceId, slo: slo.id }).info({ event: 'incident-resolved' }, `resolved: ${slo.id}`);
        await this.deps.queueUpdate({ incidentId: id, update: 'resolved', seq: 'auto' });
      }
      await this.ensureSteps(slo, decision.instances);
      return 'evaluated';
    }
    metrics.evaluations.inc({ slo: slo.id, result: 'contended' });
    return 'contended';
  }

  private async frame(slo: Slo, now: number): Promise<SloFrame> {
    const { log, metrics } = this.deps;
    const end = metrics.evaluationDuration.startTimer();
    try {
      const frame = await evaluateAt(this.deps.prometheus, slo, now);
      const result = frame.status === 'data' ? (frame.instances.some((i) => i.state === 'breach') ? 'breach' : frame.instances.some((i) => i.state === 'nodata') ? 'nodata' : 'ok') : frame.status;
      metrics.evaluations.inc({ slo: slo.id, result });
      return frame;
    } catch (e) {
      if (!(e instanceof EvaluationError)) throw e;
      metrics.evaluations.inc({ slo: slo.id, result: 'error' });
      log.error({ event: 'evaluation-failed', slo: slo.id, error: e.message }, e.message);
      // A failing evaluation is missing data: the noData policy decides, never a silent healthy.
      return { status: 'nodata', message: `evaluation failed: ${e.message}` };
    } finally {
      end();
    }
  }

  /** Schedules the steps of an incident's current escalation due after `from` (idempotent: job ids are deterministic). */
  async scheduleSteps(incident: Incident, from = -Infinity): Promise<void> {
    for (const planned of planSteps(incident.policy, incident.severity, incident.escalatedAt)) {
      if (planned.at < from) continue;
      await this.deps.scheduleStep({ incidentId: incident.id, token: incident.token, severity: planned.severity, index: planned.index, at: planned.at });
    }
  }

  /**
   * Re-schedules the recent and coming steps of this SLO's open incidents. Scheduling is idempotent, so this repairs
   * steps lost when a replica died between storing an incident and scheduling its steps.
   */
  private async ensureSteps(slo: Slo, instances: Record<string, { phase: string }>): Promise<void> {
    const firing = Object.entries(instances).filter(([, s]) => s.phase === 'firing').map(([key]) => `${slo.id}${key}`);
    if (firing.length === 0) return;
    const open = await this.deps.store.openIncidentIds();
    for (const key of firing) {
      const id = open[key];
      const incident = id ? await this.deps.store.get(id) : undefined;
      if (incident?.status === 'firing') await this.scheduleSteps(incident, this.deps.now() - REPAIR_WINDOW_MS);
    }
  }
}
