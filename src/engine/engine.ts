/**
 * The engine behind `sloe run`: keeps every SLO evaluated on its interval via BullMQ, turns sustained breaches into
 * incidents in Redis, walks each incident through its escalation policy, and serves the HTTP endpoints. Replicas
 * sharing one Redis split the work; every state change is atomic in Redis.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { type Channels, Escalator } from '../escalation/escalator.js';
import type { StepJob, UpdateJob } from '../incident/jobs.js';
import type { IncidentAction, IncidentActions } from '../incident/ports.js';
import { LogChannel } from '../escalation/log-channel.js';
import type { RetryPolicy } from '../escalation/notifier.js';
import { PrometheusClient, prometheusConfigFromEnv, type PrometheusPort } from '../evaluator/prometheus.js';
import { type Config, type Problem, formatProblem } from '../rules/index.js';
import { DEFAULT_TUNING, Queues, type WorkerTuning, shardMembers } from '../scheduler/queues.js';
import { SchedulerKeeper } from '../scheduler/scheduler-keeper.js';
import { HttpServer } from '../server/http.js';
import { EngineMetrics } from '../observability/metrics.js';
import { BudgetKeeper } from '../budget/keeper.js';
import { RedisBudgetShare } from './budget-share.js';
import { registerSloMetrics } from '../budget/metrics.js';
import { parseDuration } from '../rules/duration.js';
import { serveStatus } from '../status/routes.js';
import { sleep, withTimeout } from '../util/async.js';
import { describeError } from '../util/errors.js';
import { serveApi } from './api.js';
import { ConfigError, ConfigReloader, loadConfig } from './config-reload.js';
import { IncidentCommands } from './incident-commands.js';
import { engineSettings } from './settings.js';
import { Evaluation } from './evaluation.js';
import { Heartbeat } from './heartbeat.js';
import { type Logger, createLogger } from '../observability/log.js';
import { engineConnections } from './redis.js';
import { RedisLongWindowStore } from './long-window-store.js';
import { RedisIncidentStore } from './store.js';
import { RedisSlackFlow } from './slack-flow.js';
import { type Holds, type Silence, type SilenceRequest, runtimeSilence, silencer } from '../rules/silence.js';
import { combineHolds, inhibitor } from '../rules/inhibit.js';
import { DEFAULT_INHIBIT_FOR_MS } from '../rules/model.js';

export interface EngineOptions {
  paths: readonly string[];
  env: NodeJS.ProcessEnv;
  log?: Logger;
  /** The clock; tests move it. */
  now?: () => number;
  /** HTTP port (default SLOE_PORT or 3000; 0 picks a free one). */
  port?: number;
  host?: string;
  prometheus?: PrometheusPort;
  /** Channels for the notify kinds (or a function of the engine making them); missing ones write to the log. */
  channels?: Partial<Channels> | ((engine: Engine) => Partial<Channels>);
  /** Routes that channels add to the HTTP server (Slack interactivity, PagerDuty webhooks). */
  routes?: (server: HttpServer, engine: Engine) => void;
  retry?: RetryPolicy;
  tuning?: Partial<WorkerTuning>;
  /** Reload when files below the paths change (default true). */
  watch?: boolean;
  /** How long queued steps are taken to be in the queue before they are queued again (default 5 minutes). */
  stepRecheckMs?: number;
}

export { ConfigError };

/** How long each closing step after the drain may take. */
const CLOSE_MS = 2000;

export class Engine implements IncidentActions {
  readonly log: Logger;
  readonly metrics: EngineMetrics;
  readonly store: RedisIncidentStore;
  /** Slack's pace and storms, shared by the replicas through Redis. */
  readonly slackFlow: RedisSlackFlow;
  readonly now: () => number;
  port = 0;
  /** Resolves when Redis is reachable, the schedulers are in place and the workers run. */
  ready!: Promise<void>;

  private current: Config;
  private readonly redis: Redis;
  private readonly queueRedis: Redis;
  private readonly queues: Queues;
  private readonly schedulers: SchedulerKeeper;
  private readonly http: HttpServer;
  private readonly prometheus: PrometheusPort;
  private readonly escalator: Escalator;
  private readonly evaluation: Evaluation;
  /** Error budgets of /metrics and the status page (routes()). */
  private budgets: BudgetKeeper | undefined;
  /** Prefix of this deployment's Redis keys (SLOE_REDIS_PREFIX). */
  private readonly prefix: string;
  private readonly owner = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly reloader: ConfigReloader;
  private readonly commands: IncidentCommands;
  private stopping = false;
  private readonly drainMs: number;
  /** Aborted by stop(): ends the waits of a start-up that has not reached Redis yet. */
  private readonly stopped = new AbortController();
  private started = false;
  /** Shard evaluations under way on this replica: budget refreshes wait for a pause in them. */
  private evaluating = 0;
  private readonly channels: Channels;

  private constructor(
    private readonly options: EngineOptions,
    config: Config,
  ) {
    const env = options.env;
    const settings = engineSettings(env);
    this.drainMs = settings.drainMs;
    this.current = config;
    this.log = options.log ?? createLogger(env);
    this.now = options.now ?? Date.now;
    const prefix = settings.prefix;
    this.prefix = prefix;
    ({ store: this.redis, queues: this.queueRedis } = engineConnections(env, this.log));
    for (const [name, r] of [
      ['store', this.redis],
      ['queues', this.queueRedis],
    ] as const) {
      r.on('error', (e: Error) => this.redisError(name, e));
    }
    this.store = new RedisIncidentStore(this.redis, prefix);
    this.slackFlow = new RedisSlackFlow(this.redis, prefix);
    this.metrics = new EngineMetrics(() => this.store.openCounts());
    const tuning = { ...DEFAULT_TUNING, ...settings.tuning, ...options.tuning };
    this.queues = new Queues(this.queueRedis, prefix, this.now, tuning);
    this.schedulers = new SchedulerKeeper({
      queues: this.queues,
      connection: this.queueRedis,
      slos: () => this.current.slos,
      log: this.log,
      ...(settings.schedulerCheckMs ? { checkEveryMs: settings.schedulerCheckMs } : {}),
    });
    this.prometheus = options.prometheus ?? new PrometheusClient(prometheusConfigFromEnv(env));
    const given = typeof options.channels === 'function' ? options.channels(this) : (options.channels ?? {});
    this.channels = {
      slack: given.slack ?? new LogChannel('slack', true, 'SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set'),
      pagerduty:
        given.pagerduty ??
        new LogChannel('pagerduty', false, 'no PagerDuty routing key is set (PAGERDUTY_ROUTING_KEY)'),
      oncall: given.oncall ?? new LogChannel('oncall', false, 'on-call paging is not configured'),
    };
    this.escalator = new Escalator({
      store: this.store,
      channels: this.channels,
      log: this.log,
      metrics: this.metrics,
      now: this.now,
      owner: this.owner,
      // A dead replica's step is taken over once both its job lock and its delivery claim lapse: unless set apart,
      // the claim lasts as long as the lock, so that SLOE_LOCK_DURATION_MS alone says how soon that is.
      claimTtlMs: settings.claimTtlMs || tuning.lockDurationMs,
      ...(options.retry ? { retry: options.retry } : {}),
      postpone: (job, until) => this.queues.postpone(job, until),
      scheduleSteps: (jobs) => this.queues.scheduleSteps(jobs),
      queueUpdate: (job) => this.queues.queueUpdate(job),
      holds: () => this.holds(),
    });
    this.evaluation = new Evaluation({
      store: this.store,
      prometheus: this.prometheus,
      config: () => this.current,
      log: this.log,
      metrics: this.metrics,
      now: this.now,
      scheduleSteps: (jobs) => this.queues.scheduleSteps(jobs),
      queueUpdate: (job) => this.queues.queueUpdate(job),
      holds: () => this.holds(),
      ...(options.stepRecheckMs ? { stepRecheckMs: options.stepRecheckMs } : {}),
      heartbeat: new Heartbeat({
        env,
        log: this.log,
        metrics: this.metrics,
        now: this.now,
        config: () => this.current,
      }),
      longWindowStore: new RedisLongWindowStore(this.redis, prefix),
    });
    // A connection ready again may be to a promoted replica or a restarted Redis that lost queued step jobs while the
    // incidents survived: the next evaluations schedule the steps of firing incidents again.
    for (const r of [this.redis, this.queueRedis]) r.on('ready', () => this.evaluation.forgetScheduled());
    this.commands = new IncidentCommands({
      store: this.store,
      log: this.log,
      now: this.now,
      queueUpdate: (job) => this.queues.queueUpdate(job),
    });
    this.reloader = new ConfigReloader({
      paths: options.paths,
      env,
      log: this.log,
      metrics: this.metrics,
      apply: (c) => this.apply(c),
    });
    this.http = new HttpServer(this.log);
  }

  /** Loads the configuration and starts; the HTTP server answers at once, the rest once Redis is reachable. */
  static async start(options: EngineOptions): Promise<Engine> {
    const loaded = await loadConfig(options.paths, options.env);
    if (loaded.problems.length > 0) throw new ConfigError(loaded.problems);
    const engine = new Engine(options, loaded.config);
    for (const p of loaded.envProblems) {
      engine.log.warn(
        { event: 'config-env', problem: formatProblem(p) },
        `${formatProblem(p)}: steps that need it write to the log instead`,
      );
    }
    engine.routes();
    options.routes?.(engine.http, engine);
    const env = options.env;
    engine.port = await engine.http.listen(options.port ?? engineSettings(env).port, options.host);
    engine.announce(loaded.files.length);
    // connect() tries until it succeeds or the engine stops; it logs each failure with its cause and never rejects.
    engine.ready = engine.connect();
    if (options.watch !== false) engine.reloader.watch();
    return engine;
  }

  config(): Config {
    return this.current;
  }

  private announce(files: number): void {
    const { slos, policies, schedules } = this.current;
    this.log.info(
      { event: 'starting', port: this.port, slos: slos.length, files, owner: this.owner },
      `sloe run: ${slos.length} SLOs from ${files} file(s), HTTP on port ${this.port}`,
    );
    for (const [kind, channel] of Object.entries(this.channels)) {
      if (channel.logOnly)
        this.log.warn(
          { event: 'channel-log-only', channel: kind },
          `${kind} steps are written to the log instead of sent (${channel.logOnly})`,
        );
    }
    this.log.debug({ policies: policies.size, schedules: schedules.size }, 'configuration loaded');
  }

  private lastRedisError = 0;
  private redisError(connection: string, e: Error): void {
    // ioredis retries on its own; say so now and then rather than on every attempt.
    if (this.now() - this.lastRedisError < 5000) return;
    this.lastRedisError = this.now();
    this.log.error(
      { event: 'redis-unavailable', connection, error: e.message },
      `Redis unavailable (${e.message}); retrying`,
    );
  }

  /** Connects, retrying with back-off until it succeeds or the engine stops; every failure is logged with its cause. */
  private async connect(): Promise<void> {
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        await this.connectOnce();
        return;
      } catch (e) {
        if (this.stopping) return;
        const waitMs = Math.min(attempt * 1000, 10_000);
        const error = describeError(e);
        this.log.error(
          { event: 'start-failed', attempt, error },
          `could not start evaluating (attempt ${attempt}): ${error}; trying again in ${waitMs / 1000}s`,
        );
        await sleep(waitMs, this.stopped.signal);
      }
    }
  }

  private async connectOnce(): Promise<void> {
    await Promise.all([waitReady(this.redis, this.stopped.signal), waitReady(this.queueRedis, this.stopped.signal)]);
    if (this.stopping) return;
    await this.schedulers.sync('start');
    if (this.stopping) return;
    this.startWorkers();
    this.schedulers.start();
    this.started = true;
    await this.budgets?.announce();
    this.log.info({ event: 'ready' }, 'connected to Redis; evaluating');
  }

  private startWorkers(): void {
    this.queues.startWorkers({
      evaluate: async (job, lagMs) => {
        this.metrics.evaluationLag.observe(lagMs / 1000);
        const begun = this.now();
        this.evaluating++;
        try {
          const result = await this.evaluation.tickMany(shardMembers(this.current.slos, job), job);
          this.metrics.evaluationCompletion.observe((lagMs + this.now() - begun) / 1000);
          return result;
        } finally {
          this.evaluating--;
        }
      },
      step: (job: StepJob) => this.escalator.runStep(job),
      update: (job: UpdateJob) => this.escalator.runUpdate(job),
    });
    this.queues.onWorkerEvent(
      (queue, job, e, final) => {
        this.log.error(
          { event: 'job-failed', queue, job: job?.id, attempts: job?.attemptsMade, final, error: e.message },
          `${queue} job failed${final ? ' for good' : ''}: ${e.message}`,
        );
        if (final && job?.name === 'step') {
          this.escalator
            .abandoned(job.data as StepJob, e.message)
            .catch((err: Error) =>
              this.log.error(
                { event: 'step-failure-unrecorded', job: job.id, error: err.message },
                `could not record the failure of step job ${job.id}: ${err.message}`,
              ),
            );
        }
      },
      (queue, e) => this.log.error({ event: 'worker-error', queue, error: e.message }, `${queue} worker: ${e.message}`),
    );
  }

  /**
   * 'ok' when every job scheduler the configuration needs is in Redis; otherwise what is missing (being re-created
   * meanwhile). Readiness reports it.
   */
  async schedulersHealthy(): Promise<string> {
    return this.started ? this.schedulers.health() : 'waiting for Redis';
  }

  /**
   * Reloads the SLO files; never rejects. A configuration that cannot be loaded (invalid, unreadable) is reported
   * with its cause and the last good one kept. A valid one applies at once; if its job schedulers cannot be put in
   * place (Redis refusing writes), that is logged, readiness says so, and the periodic check tries again.
   */
  reload(): Promise<{ ok: boolean; problems: Problem[] }> {
    return this.reloader.reload();
  }

  /** Reloads in the background (a signal, a changed file), saying what asked for it. */
  requestReload(trigger: string): void {
    this.reloader.request(trigger);
  }

  private async apply(config: Config): Promise<void> {
    this.current = config;
    if (!this.started || this.stopping) return;
    try {
      await this.schedulers.sync('reload');
    } catch (e) {
      const error = describeError(e);
      this.log.error(
        { event: 'schedulers-sync-failed', reason: 'reload', error },
        `config reloaded, but its job schedulers could not be put in place: ${error}; trying again`,
      );
    }
  }

  acknowledge(id: string, by: string, via = 'api', deadline?: number): Promise<IncidentAction> {
    return this.commands.acknowledge(id, by, via, deadline);
  }

  /**
   * What holds escalation steps now: the silences of the SLO files and those made at run time, then the pages of
   * dependencies (dependsOn, inhibits). When the run-time silences or the pages cannot be read that is logged and
   * the rest applies: a hold lost errs towards paging, never towards quiet.
   */
  async holds(): Promise<Holds> {
    const now = this.now();
    const { slos } = this.current;
    const dependent = slos.filter((s) => s.inhibitedBy?.length);
    const [runtime, pages] = await Promise.all([
      this.store.silences(now).catch((e: unknown) => {
        this.log.error(
          { event: 'silences-unavailable', error: describeError(e) },
          `run-time silences cannot be read (${describeError(e)}): only the silences of the SLO files apply`,
        );
        return [];
      }),
      dependent.length === 0
        ? []
        : this.store
            .pages(now - Math.max(...dependent.map((s) => s.inhibitForMs ?? DEFAULT_INHIBIT_FOR_MS)))
            .catch((e: unknown) => {
              this.log.error(
                { event: 'dependencies-unavailable', error: describeError(e) },
                `the pages of dependencies cannot be read (${describeError(e)}): no page is held for a dependency`,
              );
              return [];
            }),
    ]);
    return combineHolds(silencer([...this.current.silences, ...runtime.map((r) => r.silence)]), inhibitor(slos, pages));
  }

  /** Makes a run-time silence (API, Slack button, slash command); an invalid request is an Error. */
  async silence(request: SilenceRequest, via: string): Promise<{ id: string; silence: Silence } | Error> {
    const now = this.now();
    const id = `${now.toString(36)}-${randomBytes(3).toString('hex')}`;
    const silence = runtimeSilence(request, now, id);
    if (silence instanceof Error) return silence;
    await this.store.addSilence(id, silence);
    this.log.info(
      {
        event: 'silence-created',
        silence: id,
        by: request.by,
        via,
        until: silence.window.kind === 'fixed' ? silence.window.endsAt : undefined,
        matchers: silence.matchers.map((m) => m.text),
      },
      `silence ${id} created by ${request.by} via ${via}: ${silence.matchers.map((m) => m.text).join(', ')}`,
    );
    return { id, silence };
  }

  /** The run-time silences that have not ended, with the SLO files' ones. */
  async listSilences(): Promise<Array<{ id: string; origin: 'spec' | 'runtime'; silence: Silence }>> {
    const runtime = await this.store.silences(this.now());
    return [
      ...this.current.silences.map((silence) => ({ id: silence.name, origin: 'spec' as const, silence })),
      ...runtime.map((r) => ({ ...r, origin: 'runtime' as const })),
    ];
  }

  resolve(id: string, by: string, via = 'api', deadline?: number): Promise<IncidentAction> {
    return this.commands.resolve(id, by, via, deadline);
  }

  snooze(id: string, ms: number, by: string, via = 'api', deadline?: number): Promise<IncidentAction> {
    return this.commands.snooze(id, ms, by, via, deadline);
  }

  /**
   * Stops taking jobs, lets the running ones finish for up to SLOE_DRAIN_TIMEOUT, and closes everything. Jobs still
   * running then are left: their locks expire and another replica takes them over (a delivery's claim keeps a step
   * from being sent twice). A Redis or a client that does not answer does not hold the stop either.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopped.abort();
    this.reloader.stop();
    this.schedulers.stop();
    const started = Date.now();
    this.log.info({ event: 'stopping' }, 'stopping: finishing running jobs');
    const drained = await withTimeout(this.drainMs, () =>
      this.queues.close().catch((e: Error) => this.log.warn({ error: e.message }, 'closing queues')),
    ).then(
      () => true,
      () => false,
    );
    if (!drained) {
      const seconds = this.drainMs / 1000;
      this.log.warn(
        { event: 'drain-timeout', seconds },
        `jobs still running after SLOE_DRAIN_TIMEOUT (${seconds} s): stopping without them; another replica takes them over once their locks expire`,
      );
      // No forced close here: BullMQ's Worker.close(true) returns the close already under way. The connections
      // are closed below, and `sloe run` exits even with the abandoned jobs' sockets and timers left.
    }
    // Whatever is left of the drain period, and at least CLOSE_MS, for answers under way and a clean Redis QUIT.
    const rest = Math.max(CLOSE_MS, this.drainMs - (Date.now() - started));
    await withTimeout(rest, () => this.http.close()).catch(() => this.http.closeAll());
    await Promise.all(
      [this.redis, this.queueRedis].map((redis) =>
        redis.status === 'ready'
          ? withTimeout(CLOSE_MS, () => redis.quit()).catch(() => redis.disconnect())
          : redis.disconnect(),
      ),
    );
    this.log.info({ event: 'stopped', ms: Date.now() - started }, 'stopped');
  }

  private routes(): void {
    const env = this.options.env;
    serveApi(this.http, this, {
      env,
      pingRedis: () => this.redis.ping(),
      prometheus: this.prometheus,
      workersStarted: () => this.started,
    });
    // Error budgets for /metrics and the status page, computed at most once per SLOE_BUDGET_REFRESH (default 1m).
    const refresh = env.SLOE_BUDGET_REFRESH;
    const refreshMs = refresh === 'off' ? 'off' : refresh ? parseDuration(refresh) : undefined;
    const budgets = new BudgetKeeper({
      prometheus: this.prometheus,
      slos: () => this.current.slos,
      now: this.now,
      log: this.log,
      busy: () => this.evaluating > 0,
      share: new RedisBudgetShare(this.redis, this.prefix, this.owner),
      ...(refreshMs ? { refreshMs } : {}),
    });
    this.budgets = budgets;
    registerSloMetrics(this.metrics.registry, {
      slos: () => this.current.slos,
      budgets,
      openIncidents: () => this.store.list({ open: true, limit: 10_000 }),
    });
    serveStatus(this.http, { config: () => this.current, store: this.store, budgets, env, now: this.now });
  }
}

/** Waits until the connection is ready, or until the engine stops (`signal`), whichever comes first. */
async function waitReady(redis: Redis, signal: AbortSignal): Promise<void> {
  while (redis.status !== 'ready' && !signal.aborted) {
    if (redis.status === 'end') throw new Error('Redis connection closed');
    await sleep(100, signal);
  }
}
