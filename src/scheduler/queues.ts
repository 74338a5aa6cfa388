/**
 * All BullMQ code of the engine: the `evaluate` queue fed by one job scheduler per SLO, and the `deliver` queue of
 * escalation steps (delayed jobs with deterministic ids) and incident updates. Processors stay thin: they parse the
 * job and call the engine.
 */
import { DelayedError, type Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { StepJob, UpdateJob } from '../incident/jobs.js';
import type { Slo } from '../rules/model.js';
import { RunLater } from './run-later.js';

const EVALUATE = 'evaluate';
const DELIVER = 'deliver';
const SCHEDULER = 'shard.';

/** SLOs per evaluation job: they are evaluated at one instant, their queries merged. */
export const SHARD_SIZE = 50;

/** What an evaluation job evaluates: the `shard`-th group of the SLOs with interval `intervalMs`. */
export interface ShardJob {
  intervalMs: number;
  shard: number;
}

/**
 * The SLOs of a shard in a configuration: SLOs sharing an interval, sorted by id, in groups of SHARD_SIZE. A job
 * resolves its members when it runs, so every replica evaluates what its own configuration says.
 */
export function shardMembers(slos: readonly Slo[], job: ShardJob): Slo[] {
  return (byInterval(slos).get(job.intervalMs) ?? []).slice(job.shard * SHARD_SIZE, (job.shard + 1) * SHARD_SIZE);
}

/** The id of a shard's job scheduler: `shard.<interval ms>.<n>`. */
function schedulerId(job: ShardJob): string {
  return `${SCHEDULER}${job.intervalMs}.${job.shard}`;
}

/** The golden ratio's fractional part: successive multiples of it fall evenly over [0, 1) whatever their count. */
const GOLDEN = (Math.sqrt(5) - 1) / 2;

/**
 * When in each of its intervals a shard is due (ms after a multiple of the interval): the n-th shard of an interval
 * at the fractional part of (n + 1)·φ. The shards of an interval so fall evenly over it for any number of shards,
 * each at a distinct offset that depends only on its interval and number: the same on every replica and across
 * reloads, and unmoved when shards are added. Without offsets every shard would come due at once at start-up, each
 * reading its SLOs' long windows in full. Never 0, which BullMQ reads as "no offset" (due at once).
 */
export function shardOffset(job: ShardJob): number {
  return 1 + Math.floor((((job.shard + 1) * GOLDEN) % 1) * (job.intervalMs - 1));
}

/** The shards a configuration needs. */
export function shards(slos: readonly Slo[]): ShardJob[] {
  return [...byInterval(slos)].flatMap(([intervalMs, same]) =>
    Array.from({ length: Math.ceil(same.length / SHARD_SIZE) }, (_, shard) => ({ intervalMs, shard })),
  );
}

/** A configuration's SLOs by interval, each list sorted by id; worked out once per loaded configuration. */
const grouped = new WeakMap<readonly Slo[], Map<number, Slo[]>>();
function byInterval(slos: readonly Slo[]): Map<number, Slo[]> {
  let groups = grouped.get(slos);
  if (!groups) {
    groups = new Map();
    for (const slo of [...slos].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      const same = groups.get(slo.intervalMs);
      if (same) same.push(slo);
      else groups.set(slo.intervalMs, [slo]);
    }
    grouped.set(slos, groups);
  }
  return groups;
}

export interface WorkerTuning {
  evaluateConcurrency: number;
  deliverConcurrency: number;
  /** How long a job's lock lasts; a replica that dies holding it loses the job to another after this. */
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** How often a step or update job is tried (errors, not deliveries: channels retry those) before it fails for good. */
  deliverAttempts: number;
  /** Back-off before the second try of a step or update job; doubles each time. */
  deliverBackoffMs: number;
}

export const DEFAULT_TUNING: WorkerTuning = {
  evaluateConcurrency: 4,
  deliverConcurrency: 16,
  lockDurationMs: 30_000,
  stalledIntervalMs: 30_000,
  deliverAttempts: 8,
  deliverBackoffMs: 500,
};

export interface Processors {
  /** `lagMs`: how late the job started after it was due (0 when on time), by BullMQ's clock. */
  evaluate(job: ShardJob, lagMs: number): Promise<unknown>;
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
    private readonly tuning: WorkerTuning = DEFAULT_TUNING,
  ) {
    this.evaluate = new Queue(EVALUATE, { connection, prefix });
    this.deliver = new Queue(DELIVER, { connection, prefix });
  }

  /**
   * Makes the job schedulers match the SLOs: one per shard at its interval; with `prune`, those no longer needed go
   * (at start-up and reload; a repair only adds, so that replicas whose configurations differ for a while do not
   * undo each other's schedulers over and over). Each shard is due at its own offset in its interval (shardOffset);
   * a scheduler due at another phase (made before shards had offsets) is made again, so that its next job comes at
   * its offset (at most one interval later).
   */
  async syncSchedulers(slos: readonly Slo[], prune = true): Promise<{ upserted: number; removed: string[] }> {
    const wanted = shards(slos);
    const ids = new Set<string>();
    const existing = new Map((await this.evaluate.getJobSchedulers(0, -1)).map((s) => [s.key, s]));
    for (const job of wanted) {
      const id = schedulerId(job);
      ids.add(id);
      const offset = shardOffset(job);
      const scheduler = existing.get(id);
      // BullMQ keeps an existing scheduler's phase on an upsert: one due at another phase must go first.
      if (
        scheduler?.next != null &&
        scheduler.every === job.intervalMs &&
        (scheduler.next - offset) % job.intervalMs !== 0
      )
        await this.evaluate.removeJobScheduler(id);
      await this.evaluate.upsertJobScheduler(
        id,
        { every: job.intervalMs, offset },
        {
          name: EVALUATE,
          data: job,
          opts: { removeOnComplete: true, removeOnFail: 100, attempts: 1 },
        },
      );
    }
    const removed: string[] = [];
    if (!prune) return { upserted: wanted.length, removed };
    for (const scheduler of existing.values()) {
      if (!ids.has(scheduler.key)) {
        await this.evaluate.removeJobScheduler(scheduler.key);
        removed.push(scheduler.key);
      }
    }
    return { upserted: wanted.length, removed };
  }

  /**
   * The job schedulers the SLOs need that Redis does not have (its data was lost), or whose next job is overdue by
   * more than two intervals and a minute (its delayed job was lost).
   */
  async missingSchedulers(slos: readonly Slo[]): Promise<{ wanted: number; missing: string[] }> {
    const wanted = shards(slos);
    const existing = new Map((await this.evaluate.getJobSchedulers(0, -1)).map((s) => [s.key, s]));
    const now = Date.now();
    const missing = wanted
      .filter((job) => {
        const scheduler = existing.get(schedulerId(job));
        return !scheduler || (scheduler.next !== undefined && scheduler.next < now - 2 * job.intervalMs - 60_000);
      })
      .map(schedulerId);
    return { wanted: wanted.length, missing };
  }

  private retries() {
    return {
      attempts: this.tuning.deliverAttempts,
      backoff: { type: 'exponential' as const, delay: this.tuning.deliverBackoffMs },
    };
  }

  private stepJob(job: StepJob, suffix = '') {
    return {
      name: 'step',
      data: job,
      opts: {
        jobId: `step.${job.incidentId}.${job.token}.${job.severity}.${job.index}${job.round ? `.r${job.round}` : ''}${suffix}`,
        delay: Math.max(0, job.at - this.now()),
        ...this.retries(),
        removeOnComplete: { age: 86_400 },
        removeOnFail: { age: 7 * 86_400 },
      },
    };
  }

  /** Schedules escalation steps at their times, in one round trip; the same step is only ever scheduled once. */
  async scheduleSteps(jobs: readonly StepJob[]): Promise<void> {
    if (jobs.length > 0) await this.deliver.addBulk(jobs.map((j) => this.stepJob(j)));
  }

  /** Schedules a step again at `until` (a snoozed incident). */
  async postpone(job: StepJob, until: number): Promise<void> {
    const { name, data, opts } = this.stepJob({ ...job, at: until }, `.snoozed-${until}`);
    await this.deliver.add(name, data, opts);
  }

  async queueUpdate(job: UpdateJob): Promise<void> {
    await this.deliver.add('update', job, {
      jobId: `update.${job.incidentId}.${job.update}.${job.seq.replaceAll(':', '-')}`,
      ...(job.at !== undefined ? { delay: Math.max(0, job.at - this.now()) } : {}),
      ...this.retries(),
      removeOnComplete: { age: 86_400 },
      removeOnFail: { age: 7 * 86_400 },
    });
  }

  /** Starts taking jobs. */
  startWorkers(processors: Processors): void {
    const tuning = this.tuning;
    const common = {
      connection: this.connection,
      prefix: this.prefix,
      lockDuration: tuning.lockDurationMs,
      stalledInterval: tuning.stalledIntervalMs,
      maxStalledCount: 3,
    };
    this.workers = [
      new Worker(
        EVALUATE,
        (job: Job<ShardJob>) =>
          processors.evaluate(job.data, Math.max(0, Date.now() - (job.timestamp + (job.opts.delay ?? 0)))),
        { ...common, concurrency: tuning.evaluateConcurrency },
      ),
      new Worker(
        DELIVER,
        async (job: Job<StepJob | UpdateJob>, token?: string) => {
          try {
            return await (job.name === 'step'
              ? processors.step(job.data as StepJob)
              : processors.update(job.data as UpdateJob));
          } catch (e) {
            if (!(e instanceof RunLater)) throw e;
            // Back to the delayed set without counting an attempt (BullMQ: moveToDelayed with the lock's token).
            await job.moveToDelayed(Date.now() + e.waitMs, token);
            throw new DelayedError(e.message);
          }
        },
        { ...common, concurrency: tuning.deliverConcurrency },
      ),
    ];
  }

  /**
   * Workers attach error handlers here (a failing job is logged, not thrown). `final` is true when the job will not
   * be tried again.
   */
  onWorkerEvent(
    failed: (queue: string, job: Job | undefined, error: Error, final: boolean) => void,
    error: (queue: string, error: Error) => void,
  ): void {
    for (const w of this.workers) {
      w.on('failed', (job, e) =>
        failed(w.name, job, e, job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1)),
      );
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
