/**
 * Keeps the evaluation job schedulers in Redis in step with the configuration, also after Redis lost them (a
 * FLUSHALL, a restart without persistence): without them nothing is evaluated, so they are put back on every
 * reconnect, checked periodically, and reported to readiness.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/log.js';
import type { Slo } from '../rules/model.js';
import { withTimeout } from '../util/async.js';
import { describeError } from '../util/errors.js';
import type { Queues } from './queues.js';

export interface SchedulerKeeperDeps {
  queues: Queues;
  /** The connection the queues use: its `ready` event means a reconnect, after which Redis may be empty. */
  connection: Redis;
  slos(): readonly Slo[];
  log: Logger;
  /** How often to check (default: the shortest SLO interval, from 1 s to 60 s). */
  checkEveryMs?: number;
}

export class SchedulerKeeper {
  private syncing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private pruneOwed = false;

  constructor(private readonly deps: SchedulerKeeperDeps) {}

  /**
   * Makes the job schedulers match the configuration, removing those it no longer needs (start-up, reload); one sync
   * at a time (a second one waits for the first).
   */
  async sync(reason: string, prune = true): Promise<void> {
    while (this.syncing) await this.syncing.catch(() => undefined);
    const run = (async () => {
      // A pruning sync that failed (a reload while Redis refused writes) is owed by the next one.
      const pruning = prune || this.pruneOwed;
      this.pruneOwed = pruning;
      const { upserted, removed } = await this.deps.queues.syncSchedulers(this.deps.slos(), pruning);
      this.pruneOwed = false;
      if (removed.length)
        this.deps.log.info(
          { event: 'schedulers-removed', schedulers: removed },
          `removed ${removed.length} job scheduler(s) no longer needed`,
        );
      this.deps.log.info(
        { event: 'schedulers-synced', reason, schedulers: upserted },
        `job schedulers in place (${upserted}; ${reason})`,
      );
    })();
    this.syncing = run;
    try {
      await run;
    } finally {
      if (this.syncing === run) this.syncing = undefined;
    }
  }

  /** Puts missing schedulers back, in the background; a failure is logged with its cause, and the next check tries again. */
  resync(reason: string): void {
    if (this.stopped) return;
    this.sync(reason, false).catch((e: unknown) => {
      const error = describeError(e);
      this.deps.log.error(
        { event: 'schedulers-sync-failed', reason, error },
        `could not put the job schedulers in place (${reason}): ${error}; trying again`,
      );
    });
  }

  /** Starts watching: a sync on every reconnect, a check every period. */
  start(): void {
    this.deps.connection.on('ready', () => {
      this.deps.log.warn(
        { event: 'redis-reconnected' },
        'Redis connection ready again: putting the job schedulers back in place',
      );
      this.resync('redis-ready');
    });
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    const intervals = this.deps.slos().map((slo) => slo.intervalMs);
    const period = this.deps.checkEveryMs ?? Math.min(60_000, Math.max(1000, Math.min(...intervals)));
    this.timer = setTimeout(() => void this.check(), period);
  }

  private async check(): Promise<void> {
    const health = await withTimeout(5000, () => this.health()).catch(
      (e: unknown) => `cannot check: ${describeError(e)}`,
    );
    if (health !== 'ok')
      this.deps.log.warn({ event: 'schedulers-missing', detail: health }, `job schedulers: ${health}`);
    this.schedule();
  }

  /**
   * 'ok' when every job scheduler the configuration needs is in Redis and not stuck; otherwise what is missing —
   * and the missing ones are being re-created.
   */
  async health(): Promise<string> {
    const { wanted, missing } = await this.deps.queues.missingSchedulers(this.deps.slos());
    if (missing.length === 0) return 'ok';
    this.resync('missing');
    const listed = missing.slice(0, 5).join(', ') + (missing.length > 5 ? ', …' : '');
    return `missing ${missing.length} of ${wanted} job scheduler(s): ${listed}; re-creating`;
  }
}
