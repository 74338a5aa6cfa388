/**
 * One scheduled evaluation of one SLO: query Prometheus, advance the state machine, store the new state and its
 * incident changes atomically (compare-and-set on the state's revision), then schedule what follows. A tick older
 * than the stored state is dropped, so replicas never evaluate the same tick twice or go back in time.
 */
import { evaluateAt } from '../evaluator/evaluate.js';
import { EvaluationError } from '../evaluator/fetch.js';
import { BatchingPort } from '../evaluator/batching.js';
import { LongWindowCache, type LongWindowStore } from '../evaluator/long-windows.js';
import type { SloFrame } from '../evaluator/frame.js';
import type { PrometheusPort } from '../evaluator/prometheus.js';
import type { InstanceState } from '../evaluator/state.js';
import { planSteps } from '../rules/plan.js';
import type { StepJob, UpdateJob } from '../incident/jobs.js';
import type { Config, EscalationPolicy, Slo } from '../rules/model.js';
import type { ShardJob } from '../scheduler/queues.js';
import type { EngineMetrics } from '../observability/metrics.js';
import { RANDOM_IDS } from '../incident/events.js';
import { decide } from './decide.js';
import { follows, groupRefresh } from '../incident/group.js';
import { heldNoteUpdate } from '../incident/jobs.js';
import { type Incident, acknowledgedAs } from '../incident/model.js';
import type { Logger } from '../observability/log.js';
import type { RedisIncidentStore } from './store.js';
import { type Holds, NO_HOLDS } from '../rules/silence.js';

export interface EvaluationDeps {
  store: RedisIncidentStore;
  prometheus: PrometheusPort;
  config(): Config;
  log: Logger;
  metrics: EngineMetrics;
  now(): number;
  scheduleSteps(jobs: readonly StepJob[]): Promise<void>;
  queueUpdate(job: UpdateJob): Promise<void>;
  /** The silences in force (as code and made at run time), as holds on new escalations. */
  holds?(): Promise<Holds>;
  /** Where refreshed long windows are shared between replicas and restarts (Redis); only in this process without. */
  longWindowStore?: LongWindowStore;
  /** Told each shard's outcome: `ok` when every SLO of it was evaluated without a Prometheus or store error. */
  heartbeat?: { shardEvaluated(shard: ShardJob, ok: boolean, at: number): void };
  /** How long steps this process queued are taken to be in the queue before they are queued again (STEP_RECHECK_MS). */
  stepRecheckMs?: number;
}

/** How far back ensureSteps looks for steps to repair. */
const REPAIR_WINDOW_MS = 10 * 60_000;
/**
 * How long steps this process queued are taken to be in the queue without adding them again. A reconnect (failover,
 * restart) has them added at once; this bounds the delay where jobs were lost with the connection left open (a
 * proxy that failed over behind it, keys deleted by hand): the next evaluation after it adds them again.
 */
const STEP_RECHECK_MS = 5 * 60_000;

export type TickResult = 'evaluated' | 'stale' | 'unknown-slo' | 'contended';

export class Evaluation {
  /** Long burn-rate windows, refreshed every few minutes instead of read on every tick. */
  readonly longWindows: LongWindowCache;
  /**
   * The escalations (`<incident id>:<token>`) whose steps this process has put in the queue since Redis was last
   * (re)connected, each with the time until which ensureSteps takes them to be there (STEP_RECHECK_MS, or the end of
   * the repair window if that comes first). ensureSteps adds them again after that, and at once after a reconnect
   * (forgetScheduled), when a failover or a restart may have lost queued jobs while the incidents survived.
   */
  private readonly scheduled = new Map<string, number>();

  constructor(private readonly deps: EvaluationDeps) {
    this.longWindows = new LongWindowCache({
      log: deps.log,
      ...(deps.longWindowStore ? { store: deps.longWindowStore } : {}),
    });
  }

  /**
   * Forgets which steps were scheduled: the next evaluation of each firing SLO adds its steps again. For a Redis
   * connection that became ready again (a failover, a restart: the queue may have lost jobs).
   */
  forgetScheduled(): void {
    this.scheduled.clear();
  }

  /** Evaluates SLOs (a shard's) at one instant, their Prometheus queries merged into as few requests as possible. */
  async tickMany(slos: readonly Slo[], shard?: ShardJob): Promise<TickResult[]> {
    const now = this.deps.now();
    const port = new BatchingPort(this.deps.prometheus);
    let failed = false;
    const outcome = (ok: boolean) => shard && this.deps.heartbeat?.shardEvaluated(shard, ok, now);
    const holds = (await this.deps.holds?.()) ?? NO_HOLDS;
    const results = await Promise.all(slos.map((slo) => this.tick(slo, now, port, () => (failed = true), holds))).catch(
      (e: unknown) => {
        outcome(false);
        throw e;
      },
    );
    outcome(!failed && results.every((r) => r === 'evaluated' || r === 'stale'));
    return results;
  }

  /** Evaluates an SLO of the current configuration now (or at `at`); `failed` hears of a failing query. */
  async tick(
    slo: Slo,
    at?: number,
    port: PrometheusPort = this.deps.prometheus,
    failed?: () => void,
    given?: Holds,
  ): Promise<TickResult> {
    const { store, log, metrics } = this.deps;
    const policy = this.deps.config().policies.get(slo.escalation);
    if (!policy) return 'unknown-slo';
    const now = at ?? this.deps.now();
    let frame: SloFrame | undefined;
    const holds = given ?? (await this.deps.holds?.()) ?? NO_HOLDS;
    for (let attempt = 0; attempt < 5; attempt++) {
      // The state this replica wrote last, then (when someone else wrote since) the one in Redis.
      const state = await store.loadState(slo.id, attempt > 0);
      if (state.evaluatedAt >= now) return 'stale';
      frame ??= await this.frame(slo, now, port, failed);
      const decision = decide(slo, policy, state, frame, now, RANDOM_IDS, holds);
      const result = await store.apply(slo.id, state.rev, now, decision.instances, decision.ops);
      if (!result.applied) continue;
      log.debug({ event: 'evaluated', slo: slo.id, at: now, rev: state.rev + 1 }, `evaluated ${slo.id}`);
      const started = (await Promise.all([...result.opened, ...result.escalated].map((id) => store.get(id)))).filter(
        (i): i is Incident => i !== undefined,
      );
      // A member of a group follows its leader's steps: it has none of its own, and its group's message shows it.
      const leading = started.filter((incident) => !follows(incident));
      await this.deps.scheduleSteps(leading.flatMap((incident) => this.steps(incident)));
      this.remember(leading, policy, now);
      for (const incident of started) {
        const fired = result.opened.includes(incident.id);
        const rearmed =
          result.rearmed.includes(incident.id) && incident.previousAck
            ? ` (firing again: it was acknowledged by ${incident.previousAck.by} as ${acknowledgedAs(incident.previousAck)})`
            : '';
        const held =
          incident.heldUntil !== undefined
            ? ` (held by ${incident.heldBy}; steps from ${new Date(incident.heldUntil).toISOString()})`
            : '';
        log.child({ incidentId: incident.id, traceId: incident.traceId, slo: slo.id }).warn(
          {
            event: fired ? 'incident-fired' : 'incident-escalated',
            severity: incident.severity,
            reason: incident.reason,
            labels: incident.labels,
            owner: incident.dashboard.owner,
            ...(rearmed ? { rearmed: true } : {}),
            ...(held ? { silenced: true } : {}),
            ...(incident.group ? { group: incident.group } : {}),
          },
          `${fired ? 'fired' : 'raised to'} ${incident.severity}: ${slo.id}: ${incident.message}${rearmed}${held}${follows(incident) ? ` (in the group of incident ${incident.group})` : ''}`,
        );
        if (follows(incident)) {
          await this.deps.queueUpdate(groupRefresh(incident.group!, now));
          continue;
        }
        // A raised incident's message (severity, value) changes in the channels that have it.
        if (!fired)
          await this.deps.queueUpdate({
            incidentId: incident.id,
            update: 'escalated',
            seq: incident.token,
            origin: 'sloe',
          });
        // The dependency whose page holds it hears of it in its thread (once per held incident).
        const inhibition = decision.inhibited.get(incident.instanceKey);
        const note = inhibition && heldNoteUpdate(incident, inhibition);
        if (note) await this.deps.queueUpdate(note);
      }
      for (const id of result.resolved) {
        const incident = await store.get(id);
        log
          .child({ incidentId: id, traceId: incident?.traceId, slo: slo.id })
          .info({ event: 'incident-resolved' }, `resolved: ${slo.id}`);
        await this.deps.queueUpdate({ incidentId: id, update: 'resolved', seq: 'auto' });
      }
      await this.ensureSteps(slo, policy, decision.instances);
      return 'evaluated';
    }
    metrics.evaluations.inc({ slo: slo.id, result: 'contended' });
    return 'contended';
  }

  private async frame(slo: Slo, now: number, port: PrometheusPort, failed?: () => void): Promise<SloFrame> {
    const { log, metrics } = this.deps;
    const end = metrics.evaluationDuration.startTimer();
    try {
      const frame = await evaluateAt(port, slo, now, 'problems', this.longWindows);
      const result =
        frame.status === 'data'
          ? frame.instances.some((i) => i.state === 'breach')
            ? 'breach'
            : frame.instances.some((i) => i.state === 'nodata')
              ? 'nodata'
              : 'ok'
          : frame.status;
      metrics.evaluations.inc({ slo: slo.id, result });
      return frame;
    } catch (e) {
      if (!(e instanceof EvaluationError)) throw e;
      failed?.();
      metrics.evaluations.inc({ slo: slo.id, result: 'error' });
      log.error({ event: 'evaluation-failed', slo: slo.id, error: e.message }, e.message);
      // A failing evaluation is missing data: the noData policy decides, never a silent healthy.
      return { status: 'nodata', message: `evaluation failed: ${e.message}` };
    } finally {
      end();
    }
  }

  /** The step jobs of an incident's current escalation due after `from` (job ids are deterministic). */
  private steps(incident: Incident, from = -Infinity): StepJob[] {
    return planSteps(incident.policy, incident.severity, incident.escalatedAt)
      .filter((planned) => planned.at >= from)
      .map((planned) => ({
        incidentId: incident.id,
        token: incident.token,
        severity: planned.severity,
        index: planned.index,
        at: planned.at,
      }));
  }

  /**
   * Re-schedules the steps of this SLO's recently fired incidents. Scheduling is idempotent, so this repairs steps
   * lost when a replica died between storing an incident and scheduling its steps. Steps this process scheduled
   * since Redis was last (re)connected are not added again on every evaluation, only every STEP_RECHECK_MS: the
   * queue keeps them.
   */
  private async ensureSteps(
    slo: Slo,
    policy: EscalationPolicy,
    instances: Record<string, InstanceState>,
  ): Promise<void> {
    const keep = repairWindow(policy);
    const now = this.deps.now();
    const recent = Object.entries(instances)
      .filter(([, s]) => s.phase === 'firing' && s.firedAt !== undefined && now - s.firedAt <= keep)
      .map(([key]) => `${slo.id}${key}`);
    const open = await this.deps.store.openIncidentIds(recent);
    const incidents = await Promise.all(Object.values(open).map((id) => this.deps.store.get(id)));
    const unscheduled = incidents.filter(
      (i): i is Incident =>
        i?.status === 'firing' && !follows(i) && (this.scheduled.get(`${i.id}:${i.token}`) ?? 0) <= now,
    );
    await this.deps.scheduleSteps(unscheduled.flatMap((i) => this.steps(i, now - REPAIR_WINDOW_MS)));
    this.remember(unscheduled, policy, now);
  }

  /**
   * Notes that the incidents' steps are in the queue: for STEP_RECHECK_MS, or until ensureSteps no longer looks at
   * them if that comes first.
   */
  private remember(incidents: readonly Incident[], policy: EscalationPolicy, now: number): void {
    if (incidents.length === 0) return;
    for (const [key, until] of this.scheduled) if (until < now) this.scheduled.delete(key);
    const until = now + Math.min(this.deps.stepRecheckMs ?? STEP_RECHECK_MS, repairWindow(policy));
    for (const i of incidents) this.scheduled.set(`${i.id}:${i.token}`, until);
  }
}

/** How long after firing ensureSteps looks at an incident of the policy: its last step, and REPAIR_WINDOW_MS. */
function repairWindow(policy: EscalationPolicy): number {
  return Math.max(0, ...[...policy.page, ...policy.ticket].map((s) => s.afterMs)) + REPAIR_WINDOW_MS;
}
