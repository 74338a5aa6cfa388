/**
 * All BullMQ code of the engine: the `evaluate` queue fed by one job scheduler per SLO, and the `deliver` queue of
 * escalation steps (delayed jobs with deterministic ids) and incident updates. Processors stay thin: they parse the
 * job and call the engine.
 */
import { type Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { StepJob, UpdateJob } from '../escalation/escalator.js';
import type { Slo } from '../rules/model.js';

const EVALUATE = 'evaluate';
const DELIVER = 'deliver';
const SCHEDULER = 'slo.';

export interface WorkerTuning {
  evaluateConcurrency: number;
  deliverConcurrency: number;
  /** How long a job's lock lasts; a replica that dies holding it loses the job to another after this. */
  lockDurationMs: number;
  stalledIntervalMs: number;
}

export const DEFAULT_TUNING: WorkerTuning = { evaluateConcurrency: 8, deliverConcurrency: 16, lockDurationMs: 30_000, stalledIntervalMs: 30_000 };

export interface Processors {
  evaluate(sloId: string): Promise<unknown>;
  step(job: StepJob): Promise<unknown>;
  update(job: UpdateJob): Promise<unknown>;
}

export class Queues {
  readonly evaluate: Queue;
  readonly deliver: Queue;
  private workers: Worker[] = [];

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
    private readonly now: () => number,
  ) {
    this.evaluate = new Queue(EVALUATE, { connection, prefix });
    this.deliver = new Queue(DELIVER, { connection, prefix });
  }

  /** Makes the job schedulers match the SLOs: one per SLO at its interval; those of removed SLOs go. */
  async syncSchedulers(slos: readonly Slo[]): Promise<{ upserted: number; removed: string[] }> {
    for (const slo of slos) {
      await this.evaluate.upsertJobScheduler(`${SCHEDULER}${slo.id}`, { every: slo.intervalMs }, {
        name: EVALUATE,
        data: { sloId: slo.id },
        opts: { removeOnComplete: true, removeOnFail: 100, attempts: 1 },
      });
    }
    const wanted = new Set(slos.map((s) => `${SCHEDULER}${s.id}`));
    const removed: string[] = [];
    for (const scheduler of await this.evaluate.getJobSchedulers(0, -1)) {
      const id = scheduler.key;
      if (id.startsWith(SCHEDULER) && !wanted.has(id)) {
        await this.evaluate.removeJobScheduler(id);
        removed.push(id.slice(SCHEDULER.length));
      }
    }
    return { upserted: slos.length, removed };
  }

  /** Schedules an escalation step at its time; the same step is only ever scheduled once. */
  async scheduleStep(job: StepJob, suffix = ''): Promise<void> {
    const id = `step.${job.incidentId}.${job.token}.${job.severity}.${job.index}${suffix}`;
    await this.deliver.add('step', job, {
      jobId: id,
      delay: Math.max(0, job.at - this.now()),
      attempts: 8,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: { age: 86_400 },
      removeOnFail: { age: 7 * 86_400 },
    });
  }

  /** Schedules a step again at `until` (a snoozed incident). */
  async postpone(job: StepJob, until: number): Promise<void> {
    await this.scheduleStep({ ...job, at: until }, `.snoozed-${until}`);
  }

  async queueUpdate(job: UpdateJob): Promise<void> {
    await this.deliver.add('update', job, {
      jobId: `update.${job.incidentId}.${job.update}.${job.seq.replaceAll(':', '-')}`,
      attempts: 8,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: { age: 86_400 },
      removeOnFail: { age: 7 * 86_400 },
    });
  }

  /** Starts taking jobs. */
  startWorkers(processors: Processors, tuning: WorkerTuning): void {
    const common = { connection: this.connection, prefix: this.prefix, lockDuration: tuning.lockDurationMs, stalledInterval: tuning.stalledIntervalMs, maxStalledCount: 3 };
    this.workers = [
      new Worker(EVALUATE, (job: Job<{ sloId: string }>) => processors.evaluate(job.data.sloId), { ...common, concurrency: tuning.evaluateConcurrency }),
      new Worker(
        DELIVER,
        (job: Job<StepJob | UpdateJob>) => (job.name === 'step' ? processors.step(job.data as StepJob) : processors.update(job.data as UpdateJob)),
        { ...common, concurrency: tuning.deliverConcurrency },
      ),
    ];
  }

  /** Workers attach error handlers here (a failing job is logged, not thrown). */
  onWorkerEvent(failed: (queue: string, job: Job | undefined, error: Error) => void, error: (queue: string, error: Error) => void): void {
    for (const w of this.workers) {
      w.on('failed', (job, e) => failed(w.name, job, e));
      w.on('error', (e) => error(w.name, e));
    }
  }

  /** Stops taking jobs and waits for the running ones. */
  async closeWorkers(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }

  async close(): Promise<void> {
    await this.closeWorkers();
    await Promise.all([this.evaluate.close(), this.deliver.close()]);
  }
}
