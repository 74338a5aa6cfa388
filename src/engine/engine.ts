/**
 * The engine behind `sloe run`: keeps every SLO evaluated on its interval via BullMQ, turns sustained breaches into
 * incidents in Redis, walks each incident through its escalation policy, and serves the HTTP endpoints. Replicas
 * sharing one Redis split the work; every state change is atomic in Redis.
 */
import { randomBytes } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { type Channels, Escalator } from '../escalation/escalator.js';
import type { StepJob, UpdateJob } from '../incident/jobs.js';
import type { IncidentAction, IncidentActions } from '../incident/ports.js';
import { LogChannel } from '../escalation/log-channel.js';
import type { RetryPolicy } from '../escalation/notifier.js';
import { PrometheusClient, prometheusConfigFromEnv, type PrometheusPort } from '../evaluator/prometheus.js';
import { type Config, type Problem, checkOptionsFromEnv, formatProblem, loadRules } from '../rules/index.js';
import { DEFAULT_TUNING, Queues, type WorkerTuning, shardMembers } from '../scheduler/queues.js';
import { SchedulerKeeper } from '../scheduler/scheduler-keeper.js';
import { HttpServer } from '../server/http.js';
import { EngineMetrics } from '../observability/metrics.js';
import { BudgetKeeper } from '../budget/keeper.js';
import { registerSloMetrics } from '../budget/metrics.js';
import { parseDuration } from '../rules/duration.js';
import { serveStatus } from '../status/routes.js';
import { sleep } from '../util/async.js';
import { describeError } from '../util/errors.js';
import { serveApi } from './api.js';
import { Evaluation } from './evaluation.js';
import { Heartbeat } from './heartbeat.js';
import { type Logger, createLogger } from '../observability/log.js';
import { engineConnections } from './redis.js';
import { RedisIncidentStore } from './store.js';
import { type Holds, type Silence, type SilenceRequest, runtimeSilence, silencer } from '../rules/silence.js';

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
}

/** The initial configuration is invalid: nothing to run. */
export class ConfigError extends Error {
  constructor(readonly problems: Problem[]) {
    super(`the SLO files have ${problems.length} problem(s)`);
  }
}

export class Engine implements IncidentActions {
  readonly log: Logger;
  readonly metrics: EngineMetrics;
  readonly store: RedisIncidentStore;
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
  private readonly owner = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private watchers: FSWatcher[] = [];
  private reloadTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private started = false;
  private readonly channels: Channels;

  private constructor(
    private readonly options: EngineOptions,
    config: Config,
  ) {
    const env = options.env;
    this.current = config;
    this.log = options.log ?? createLogger(env);
    this.now = options.now ?? Date.now;
    const prefix = env.SLOE_REDIS_PREFIX || 'sloe';
    ({ store: this.redis, queues: this.queueRedis } = engineConnections(env, this.log));
    for (const [name, r] of [['store', this.redis], ['queues', this.queueRedis]] as const) {
      r.on('error', (e: Error) => this.redisError(name, e));
    }
    this.store = new RedisIncidentStore(this.redis, prefix);
    this.metrics = new EngineMetrics(() => this.store.openCounts());
    const tuning = { ...DEFAULT_TUNING, ...tuningFromEnv(env), ...options.tuning };
    this.queues = new Queues(this.queueRedis, prefix, this.now, tuning);
    this.schedulers = new SchedulerKeeper({
      queues: this.queues,
      connection: this.queueRedis,
      slos: () => this.current.slos,
      log: this.log,
      ...(Number(env.SLOE_SCHEDULER_CHECK_MS) > 0 ? { checkEveryMs: Number(env.SLOE_SCHEDULER_CHECK_MS) } : {}),
    });
    this.prometheus = options.prometheus ?? new PrometheusClient(prometheusConfigFromEnv(env));
    const given = typeof options.channels === 'function' ? options.channels(this) : (options.channels ?? {});
    this.channels = {
      slack: given.slack ?? new LogChannel('slack', true, 'SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set'),
      pagerduty: given.pagerduty ?? new LogChannel('pagerduty', false, 'no PagerDuty routing key is set (PAGERDUTY_ROUTING_KEY)'),
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
      claimTtlMs: Number(env.SLOE_CLAIM_TTL_MS) > 0 ? Number(env.SLOE_CLAIM_TTL_MS) : tuning.lockDurationMs,
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
      heartbeat: new Heartbeat({ env, log: this.log, metrics: this.metrics, now: this.now, config: () => this.current }),
    });
    this.http = new HttpServer(this.log);
  }

  /** Loads the configuration and starts; the HTTP server answers at once, the rest once Redis is reachable. */
  static async start(options: EngineOptions): Promise<Engine> {
    const loaded = await loadRules(options.paths, { ...checkOptionsFromEnv(options.env), env: options.env });
    if (loaded.problems.length > 0) throw new ConfigError(loaded.problems);
    const engine = new Engine(options, loaded.config);
    for (const p of loaded.envProblems) {
      engine.log.warn({ event: 'config-env', problem: formatProblem(p) }, `${formatProblem(p)}: steps that need it write to the log instead`);
    }
    engine.routes();
    options.routes?.(engine.http, engine);
    const env = options.env;
    engine.port = await engine.http.listen(options.port ?? Number(env.SLOE_PORT || 3000), options.host);
    engine.announce(loaded.files.length);
    // connect() tries until it succeeds or the engine stops; it logs each failure with its cause and never rejects.
    engine.ready = engine.connect();
    if (options.watch !== false) engine.watchFiles();
    return engine;
  }

  config(): Config {
    return this.current;
  }

  private announce(files: number): void {
    const { slos, policies, schedules } = this.current;
    this.log.info({ event: 'starting', port: this.port, slos: slos.length, files, owner: this.owner }, `sloe run: ${slos.length} SLOs from ${files} file(s), HTTP on port ${this.port}`);
    for (const [kind, channel] of Object.entries(this.channels)) {
      if (channel.logOnly) this.log.warn({ event: 'channel-log-only', channel: kind }, `${kind} steps are written to the log instead of sent (${channel.logOnly})`);
    }
    this.log.debug({ policies: policies.size, schedules: schedules.size }, 'configuration loaded');
  }

  private lastRedisError = 0;
  private redisError(connection: string, e: Error): void {
    // ioredis retries on its own; say so now and then rather than on every attempt.
    if (this.now() - this.lastRedisError < 5000) return;
    this.lastRedisError = this.now();
    this.log.error({ event: 'redis-unavailable', connection, error: e.message }, `Redis unavailable (${e.message}); retrying`);
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
        this.log.error({ event: 'start-failed', attempt, error }, `could not start evaluating (attempt ${attempt}): ${error}; trying again in ${waitMs / 1000}s`);
        await sleep(waitMs);
      }
    }
  }

  private async connectOnce(): Promise<void> {
    await Promise.all([waitReady(this.redis), waitReady(this.queueRedis)]);
    if (this.stopping) return;
    await this.schedulers.sync('start');
    if (this.stopping) return;
    this.startWorkers();
    this.schedulers.start();
    this.started = true;
    this.log.info({ event: 'ready' }, 'connected to Redis; evaluating');
  }

  private startWorkers(): void {
    this.queues.startWorkers(
      {
        evaluate: async (job, lagMs) => {
          this.metrics.evaluationLag.observe(lagMs / 1000);
          const begun = this.now();
          const result = await this.evaluation.tickMany(shardMembers(this.current.slos, job), job);
          this.metrics.evaluationCompletion.observe((lagMs + this.now() - begun) / 1000);
          return result;
        },
        step: (job: StepJob) => this.escalator.runStep(job),
        update: (job: UpdateJob) => this.escalator.runUpdate(job),
      },
    );
    this.queues.onWorkerEvent(
      (queue, job, e, final) => {
        this.log.error({ event: 'job-failed', queue, job: job?.id, attempts: job?.attemptsMade, final, error: e.message }, `${queue} job failed${final ? ' for good' : ''}: ${e.message}`);
        if (final && job?.name === 'step') {
          this.escalator.abandoned(job.data as StepJob, e.message).catch((err: Error) => this.log.error({ event: 'step-failure-unrecorded', job: job.id, error: err.message }, `could not record the failure of step job ${job.id}: ${err.message}`));
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
  async reload(): Promise<{ ok: boolean; problems: Problem[] }> {
    const loaded = await loadRules(this.options.paths, { ...checkOptionsFromEnv(this.options.env), env: this.options.env }).catch((e: unknown) => {
      return { problems: [{ file: String(this.options.paths[0]), line: 1, col: 1, message: `could not load the SLO files: ${describeError(e)}` }], config: undefined, envProblems: [], files: [] };
    });
    if (loaded.problems.length > 0 || !loaded.config) {
      this.metrics.configReloads.inc({ result: 'invalid' });
      for (const p of loaded.problems) this.log.error({ event: 'config-invalid', problem: formatProblem(p) }, formatProblem(p));
      this.log.error({ event: 'config-reload-failed', problems: loaded.problems.length }, `config reload failed (${loaded.problems.length} problem(s)); keeping the last good configuration`);
      return { ok: false, problems: loaded.problems };
    }
    this.current = loaded.config;
    this.metrics.configReloads.inc({ result: 'ok' });
    this.log.info({ event: 'config-reloaded', slos: this.current.slos.length }, `config reloaded: ${this.current.slos.length} SLOs`);
    if (this.started && !this.stopping) {
      try {
        await this.schedulers.sync('reload');
      } catch (e) {
        const error = describeError(e);
        this.log.error({ event: 'schedulers-sync-failed', reason: 'reload', error }, `config reloaded, but its job schedulers could not be put in place: ${error}; trying again`);
      }
    }
    return { ok: true, problems: [] };
  }

  /** Reloads in the background (a signal, a changed file), saying what asked for it. */
  requestReload(trigger: string): void {
    this.log.info({ event: 'config-reload', trigger }, `reloading the SLO files (${trigger})`);
    this.reload().catch((e: unknown) => this.log.error({ event: 'config-reload-failed', trigger, error: describeError(e) }, `config reload failed: ${describeError(e)}; keeping the last good configuration`));
  }

  private watchFiles(): void {
    for (const path of this.options.paths) {
      try {
        const w = watch(path, { recursive: true }, (_event, file) => {
          if (file && !/\.ya?ml$/i.test(String(file))) return;
          clearTimeout(this.reloadTimer);
          this.reloadTimer = setTimeout(() => this.requestReload(`file changed: ${String(file ?? path)}`), 300);
        });
        w.on('error', (e) => this.log.warn({ event: 'watch-error', path, error: e.message }, `cannot watch ${path}: ${e.message}; send SIGHUP to reload`));
        this.watchers.push(w);
      } catch (e) {
        this.log.warn({ event: 'watch-error', path, error: (e as Error).message }, `cannot watch ${path}; send SIGHUP to reload`);
      }
    }
  }

  /** Evaluates an SLO once, now. */
  evaluate(sloId: string) {
    const slo = this.current.slos.find((s) => s.id === sloId);
    return slo ? this.evaluation.tick(slo) : Promise.resolve('unknown-slo' as const);
  }

  /**
   * The silences in force: those of the SLO files and those made at run time. When the run-time ones cannot be read
   * that is logged and the files' silences alone apply: a silence lost errs towards paging, never towards quiet.
   */
  async holds(): Promise<Holds> {
    const runtime = await this.store.silences(this.now()).catch((e: unknown) => {
      this.log.error({ event: 'silences-unavailable', error: describeError(e) }, `run-time silences cannot be read (${describeError(e)}): only the silences of the SLO files apply`);
      return [];
    });
    return silencer([...this.current.silences, ...runtime.map((r) => r.silence)]);
  }

  /** Makes a run-time silence (API, Slack button, slash command); an invalid request is an Error. */
  async silence(request: SilenceRequest, via: string): Promise<{ id: string; silence: Silence } | Error> {
    const now = this.now();
    const id = `${now.toString(36)}-${randomBytes(3).toString('hex')}`;
    const silence = runtimeSilence(request, now, id);
    if (silence instanceof Error) return silence;
    await this.store.addSilence(id, silence);
    this.log.info(
      { event: 'silence-created', silence: id, by: request.by, via, until: silence.window.kind === 'fixed' ? silence.window.endsAt : undefined, matchers: silence.matchers.map((m) => m.text) },
      `silence ${id} created by ${request.by} via ${via}: ${silence.matchers.map((m) => m.text).join(', ')}`,
    );
    return { id, silence };
  }

  /** The run-time silences that have not ended, with the SLO files' ones. */
  async listSilences(): Promise<Array<{ id: string; origin: 'spec' | 'runtime'; silence: Silence }>> {
    const runtime = await this.store.silences(this.now());
    return [...this.current.silences.map((silence) => ({ id: silence.name, origin: 'spec' as const, silence })), ...runtime.map((r) => ({ ...r, origin: 'runtime' as const }))];
  }

  /**
   * Acknowledges a firing incident: its remaining steps will not run. With a `deadline` (epoch ms), nothing changes
   * once Redis' clock has passed it ('expired'): the one who asked was told it did not happen.
   */
  async acknowledge(id: string, by: string, via = 'api', deadline?: number): Promise<IncidentAction> {
    const at = this.now();
    const before = await this.store.acknowledge(id, at, by, { at, type: 'acknowledged', by, detail: `acknowledged via ${via}` }, deadline);
    return this.after(id, before, 'acknowledged', `acknowledged by ${by} via ${via}`, via);
  }

  /** Resolves an incident by hand: what was opened is resolved; a breach that persists fires anew after `for`. */
  async resolve(id: string, by: string, via = 'api', deadline?: number): Promise<IncidentAction> {
    const incident = await this.store.get(id);
    if (!incident) return 'missing';
    const at = this.now();
    const before = await this.store.resolve(incident, at, by, { at, type: 'resolved', by, detail: `resolved via ${via}` }, deadline);
    return this.after(id, before === 'resolved' || before === 'expired' ? before : 'firing', 'resolved', `resolved by ${by} via ${via}`, via);
  }

  /** Holds the escalation of a firing incident for `ms`. */
  async snooze(id: string, ms: number, by: string, via = 'api', deadline?: number): Promise<IncidentAction> {
    const at = this.now();
    const until = at + ms;
    const before = await this.store.snooze(id, until, { at, type: 'snoozed', by, detail: `snoozed until ${new Date(until).toISOString()} via ${via}` }, deadline);
    return this.after(id, before, 'snoozed', `snoozed by ${by} via ${via}`, via, String(until));
  }

  private async after(id: string, before: string, update: UpdateJob['update'], what: string, origin: string, seq = 'manual'): Promise<IncidentAction> {
    if (before === 'missing' || before === 'expired') return before;
    if (before !== 'firing') return 'already';
    const incident = await this.store.get(id);
    this.log.info({ event: `incident-${update}`, incidentId: id, traceId: incident?.traceId, slo: incident?.sloId }, what);
    // A re-armed incident is acknowledged once per arming.
    const arming = update === 'acknowledged' && incident?.rearms ? `.${incident.rearms}` : '';
    await this.queues.queueUpdate({ incidentId: id, update, seq: `${seq}${arming}`, origin });
    return 'done';
  }

  /** Stops taking jobs, lets the running ones finish, and closes everything. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.reloadTimer);
    this.schedulers.stop();
    for (const w of this.watchers) w.close();
    this.log.info({ event: 'stopping' }, 'stopping: finishing running jobs');
    await this.queues.close().catch((e: Error) => this.log.warn({ error: e.message }, 'closing queues'));
    await this.http.close();
    await Promise.all([this.redis.quit().catch(() => this.redis.disconnect()), this.queueRedis.quit().catch(() => this.queueRedis.disconnect())]);
    this.log.info({ event: 'stopped' }, 'stopped');
  }

  private routes(): void {
    const env = this.options.env;
    serveApi(this.http, this, { env, pingRedis: () => this.redis.ping(), prometheus: this.prometheus, workersStarted: () => this.started });
    // Error budgets for /metrics and the status page, computed at most once per SLOE_BUDGET_REFRESH (default 1m).
    const refreshMs = env.SLOE_BUDGET_REFRESH ? parseDuration(env.SLOE_BUDGET_REFRESH) : undefined;
    const budgets = new BudgetKeeper({ prometheus: this.prometheus, slos: () => this.current.slos, now: this.now, log: this.log, ...(refreshMs ? { refreshMs } : {}) });
    registerSloMetrics(this.metrics.registry, { slos: () => this.current.slos, budgets, openIncidents: () => this.store.list({ open: true, limit: 10_000 }) });
    serveStatus(this.http, { config: () => this.current, store: this.store, budgets, env, now: this.now });
  }
}

async function waitReady(redis: Redis): Promise<void> {
  while (redis.status !== 'ready') {
    if (redis.status === 'end') throw new Error('Redis connection closed');
    await sleep(100);
  }
}

/** Worker tuning from the environment (SLOE_LOCK_DURATION_MS, SLOE_STALLED_INTERVAL_MS, SLOE_*_CONCURRENCY). */
function tuningFromEnv(env: NodeJS.ProcessEnv): Partial<WorkerTuning> {
  const n = (v: string | undefined) => (v && Number(v) > 0 ? Number(v) : undefined);
  const t: Partial<WorkerTuning> = {};
  const lock = n(env.SLOE_LOCK_DURATION_MS);
  const stalled = n(env.SLOE_STALLED_INTERVAL_MS);
  const evaluate = n(env.SLOE_EVALUATE_CONCURRENCY);
  const deliver = n(env.SLOE_DELIVER_CONCURRENCY);
  if (lock) t.lockDurationMs = lock;
  if (stalled) t.stalledIntervalMs = stalled;
  if (evaluate) t.evaluateConcurrency = evaluate;
  if (deliver) t.deliverConcurrency = deliver;
  return t;
}
