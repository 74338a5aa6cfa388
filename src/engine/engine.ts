/**
 * The engine behind `sloe run`: keeps every SLO evaluated on its interval via BullMQ, turns sustained breaches into
 * incidents in Redis, walks each incident through its escalation policy, and serves the HTTP endpoints. Replicas
 * sharing one Redis split the work; every state change is atomic in Redis.
 */
import { randomBytes } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Channels, Escalator, type StepJob, type UpdateJob } from '../escalation/escalator.js';
import { LogChannel } from '../escalation/log-channel.js';
import type { RetryPolicy } from '../escalation/notifier.js';
import { PrometheusClient, prometheusConfigFromEnv, type PrometheusPort } from '../evaluator/prometheus.js';
import { type Config, type Problem, checkOptionsFromEnv, formatProblem, loadRules } from '../rules/index.js';
import { DEFAULT_TUNING, Queues, type WorkerTuning, shardMembers } from '../scheduler/queues.js';
import { HttpServer, readBody, sendJson } from '../server/http.js';
import { EngineMetrics } from '../server/metrics.js';
import { sleep } from '../util/async.js';
import { Evaluation } from './evaluation.js';
import type { AuditEntry, Incident } from './incident.js';
import { type Logger, createLogger } from './log.js';
import { engineConnections } from './redis.js';
import { IncidentStore } from './store.js';

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

export type IncidentAction = 'done' | 'already' | 'missing';

/** The initial configuration is invalid: nothing to run. */
export class ConfigError extends Error {
  constructor(readonly problems: Problem[]) {
    super(`the SLO files have ${problems.length} problem(s)`);
  }
}

export class Engine {
  readonly log: Logger;
  readonly metrics: EngineMetrics;
  readonly store: IncidentStore;
  readonly now: () => number;
  port = 0;
  /** Resolves when Redis is reachable, the schedulers are in place and the workers run. */
  ready!: Promise<void>;

  private current: Config;
  private readonly redis: Redis;
  private readonly queueRedis: Redis;
  private readonly queues: Queues;
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
    this.store = new IncidentStore(this.redis, prefix);
    this.metrics = new EngineMetrics(() => this.store.openCounts());
    this.queues = new Queues(this.queueRedis, prefix, this.now);
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
      ...(options.retry ? { retry: options.retry } : {}),
      postpone: (job, until) => this.queues.postpone(job, until),
      queueUpdate: (job) => this.queues.queueUpdate(job),
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
    engine.ready = engine.connect();
    engine.ready.catch(() => undefined);
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

  private async connect(): Promise<void> {
    await Promise.all([waitReady(this.redis), waitReady(this.queueRedis)]);
    if (this.stopping) return;
    const { removed } = await this.queues.syncSchedulers(this.current.slos);
    if (removed.length) this.log.info({ event: 'schedulers-removed', schedulers: removed }, `removed ${removed.length} job scheduler(s) no longer needed`);
    if (this.stopping) return;
    this.queues.startWorkers(
      {
        evaluate: async (job, lagMs) => {
          this.metrics.evaluationLag.observe(lagMs / 1000);
          const begun = this.now();
          const result = await this.evaluation.tickMany(shardMembers(this.current.slos, job));
          this.metrics.evaluationCompletion.observe((lagMs + this.now() - begun) / 1000);
          return result;
        },
        step: (job: StepJob) => this.escalator.runStep(job),
        update: (job: UpdateJob) => this.escalator.runUpdate(job),
      },
      { ...DEFAULT_TUNING, ...tuningFromEnv(this.options.env), ...this.options.tuning },
    );
    this.queues.onWorkerEvent(
      (queue, job, e) => this.log.error({ event: 'job-failed', queue, job: job?.id, attempts: job?.attemptsMade, error: e.message }, `${queue} job failed: ${e.message}`),
      (queue, e) => this.log.error({ event: 'worker-error', queue, error: e.message }, `${queue} worker: ${e.message}`),
    );
    this.started = true;
    this.log.info({ event: 'ready' }, 'connected to Redis; evaluating');
  }

  /** Reloads the SLO files; an invalid configuration is reported and the last good one kept. */
  async reload(): Promise<{ ok: boolean; problems: Problem[] }> {
    const loaded = await loadRules(this.options.paths, { ...checkOptionsFromEnv(this.options.env), env: this.options.env }).catch((e: unknown) => {
      return { problems: [{ file: String(this.options.paths[0]), line: 1, col: 1, message: e instanceof Error ? e.message : String(e) }], config: undefined, envProblems: [], files: [] };
    });
    if (loaded.problems.length > 0 || !loaded.config) {
      this.metrics.configReloads.inc({ result: 'invalid' });
      for (const p of loaded.problems) this.log.error({ event: 'config-invalid', problem: formatProblem(p) }, formatProblem(p));
      this.log.error({ event: 'config-reload-failed', problems: loaded.problems.length }, `config reload failed (${loaded.problems.length} problem(s)); keeping the last good configuration`);
      return { ok: false, problems: loaded.problems };
    }
    this.current = loaded.config;
    this.metrics.configReloads.inc({ result: 'ok' });
    if (this.started) await this.queues.syncSchedulers(this.current.slos);
    this.log.info({ event: 'config-reloaded', slos: this.current.slos.length }, `config reloaded: ${this.current.slos.length} SLOs`);
    return { ok: true, problems: [] };
  }

  private watchFiles(): void {
    for (const path of this.options.paths) {
      try {
        const w = watch(path, { recursive: true }, (_event, file) => {
          if (file && !/\.ya?ml$/i.test(String(file))) return;
          clearTimeout(this.reloadTimer);
          this.reloadTimer = setTimeout(() => void this.reload(), 300);
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

  /** Acknowledges a firing incident: its remaining steps will not run. */
  async acknowledge(id: string, by: string, via = 'api'): Promise<IncidentAction> {
    const at = this.now();
    const before = await this.store.acknowledge(id, at, by, { at, type: 'acknowledged', by, detail: `acknowledged via ${via}` });
    return this.after(id, before, 'acknowledged', `acknowledged by ${by} via ${via}`, via);
  }

  /** Resolves an incident by hand: what was opened is resolved; a breach that persists fires anew after `for`. */
  async resolve(id: string, by: string, via = 'api'): Promise<IncidentAction> {
    const incident = await this.store.get(id);
    if (!incident) return 'missing';
    const at = this.now();
    const before = await this.store.resolve(incident, at, by, { at, type: 'resolved', by, detail: `resolved via ${via}` });
    return this.after(id, before === 'resolved' ? 'resolved' : 'firing', 'resolved', `resolved by ${by} via ${via}`, via);
  }

  /** Holds the escalation of a firing incident for `ms`. */
  async snooze(id: string, ms: number, by: string, via = 'api'): Promise<IncidentAction> {
    const at = this.now();
    const until = at + ms;
    const before = await this.store.snooze(id, until, { at, type: 'snoozed', by, detail: `snoozed until ${new Date(until).toISOString()} via ${via}` });
    return this.after(id, before, 'snoozed', `snoozed by ${by} via ${via}`, via, String(until));
  }

  private async after(id: string, before: string, update: UpdateJob['update'], what: string, origin: string, seq = 'manual'): Promise<IncidentAction> {
    if (before === 'missing') return 'missing';
    if (before !== 'firing') return 'already';
    const incident = await this.store.get(id);
    this.log.info({ event: `incident-${update}`, incidentId: id, traceId: incident?.traceId, slo: incident?.sloId }, what);
    await this.queues.queueUpdate({ incidentId: id, update, seq, origin });
    return 'done';
  }

  /** Stops taking jobs, lets the running ones finish, and closes everything. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.reloadTimer);
    for (const w of this.watchers) w.close();
    this.log.info({ event: 'stopping' }, 'stopping: finishing running jobs');
    await this.queues.close().catch((e: Error) => this.log.warn({ error: e.message }, 'closing queues'));
    await this.http.close();
    await Promise.all([this.redis.quit().catch(() => this.redis.disconnect()), this.queueRedis.quit().catch(() => this.queueRedis.disconnect())]);
    this.log.info({ event: 'stopped' }, 'stopped');
  }

  private routes(): void {
    const http = this.http;
    http.route('GET', '/healthz', (_req, res) => sendJson(res, 200, { status: 'ok' }));
    http.route('GET', '/readyz', async (_req, res) => {
      const checks = await this.readiness();
      sendJson(res, Object.values(checks).every((c) => c === 'ok') ? 200 : 503, checks);
    });
    http.route('GET', '/metrics', async (_req, res) => {
      const body = await this.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
      res.end(body);
    });
    http.route('GET', '/api/incidents', async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const open = url.searchParams.get('status') === 'open';
      const limit = Math.min(1000, Number(url.searchParams.get('limit') ?? 100) || 100);
      const incidents = await withTimeout(this.store.list({ open, limit }), 5000);
      sendJson(res, 200, { incidents: incidents.map(view) });
    });
    http.route('GET', '/api/incidents/:id', async (_req, res, { id }) => {
      const incident = await withTimeout(this.store.get(id!), 5000);
      if (!incident) return sendJson(res, 404, { error: `no incident ${id}` });
      sendJson(res, 200, { incident: view(incident), audit: (await this.store.audit(id!)).map(auditView) });
    });
    const action = (run: (id: string, by: string, body: Record<string, unknown>) => Promise<IncidentAction>) => async (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => {
      const token = this.options.env.SLOE_API_TOKEN;
      if (!token) return sendJson(res, 403, { error: 'set SLOE_API_TOKEN to allow changing incidents over HTTP' });
      if (req.headers.authorization !== `Bearer ${token}`) return sendJson(res, 401, { error: 'missing or wrong bearer token' });
      const body = (JSON.parse((await readBody(req)) || '{}') ?? {}) as Record<string, unknown>;
      const by = typeof body.by === 'string' && body.by ? body.by : 'api';
      const result = await run(params.id!, by, body);
      sendJson(res, result === 'missing' ? 404 : 200, { result });
    };
    http.route('POST', '/api/incidents/:id/acknowledge', action((id, by) => this.acknowledge(id, by)));
    http.route('POST', '/api/incidents/:id/resolve', action((id, by) => this.resolve(id, by)));
    http.route('POST', '/api/incidents/:id/snooze', action((id, by, body) => this.snooze(id, (Number(body.minutes) || 60) * 60_000, by)));
  }

  private async readiness(): Promise<Record<string, string>> {
    const redis = await withTimeout(this.redis.ping(), 1000).then(() => 'ok', (e: Error) => `unreachable: ${e.message}`);
    const prometheus = await withTimeout(this.prometheus.instant('vector(1)', this.now()), 3000).then(() => 'ok', (e: Error) => `unreachable: ${e.message}`);
    return { redis, prometheus, config: this.current.slos.length > 0 ? 'ok' : 'no SLOs loaded', workers: this.started ? 'ok' : 'waiting for Redis' };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
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

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** An incident as the API shows it. */
export function view(i: Incident) {
  const { policy, refs, ...rest } = i;
  return {
    ...rest,
    firedAt: iso(i.firedAt),
    escalatedAt: iso(i.escalatedAt),
    acknowledgedAt: iso(i.acknowledgedAt),
    resolvedAt: iso(i.resolvedAt),
    snoozedUntil: iso(i.snoozedUntil),
    escalation: policy.name,
    refs,
  };
}

function auditView(a: AuditEntry) {
  return { ...a, at: iso(a.at) };
}
