/** Engines under test: a real Redis, a real Prometheus scraping a local exporter once a second, log lines captured. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { Engine, type EngineOptions } from '../../src/engine/engine.js';
import { createLogger } from '../../src/observability/log.js';
import { Exporter } from '../../src/local/exporter.js';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { type LocalRedis, startRedis } from '../../src/local/redis.js';
import { sleep } from './time.js';

export interface LogLine {
  level: string;
  msg: string;
  event?: string;
  incidentId?: string;
  traceId?: string;
  step?: string;
  channel?: string;
  [k: string]: unknown;
}

/** A log destination that keeps every line. */
export class LogCapture {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  write(line: string): void {
    this.raw.push(line);
    this.lines.push(JSON.parse(line) as LogLine);
  }
  events(event: string): LogLine[] {
    return this.lines.filter((l) => l.event === event);
  }
}

export interface Stack {
  redis: LocalRedis;
  prometheus: LocalPrometheus;
  exporter: Exporter;
  dir: string;
  stop(): Promise<void>;
}

/** Starts Redis, an exporter and a Prometheus scraping it every second; waits for the first scrape. */
export async function startStack(options: { persistRedis?: boolean } = {}): Promise<Stack> {
  const exporter = new Exporter();
  const target = await exporter.start();
  exporter.gauge('demo_queue_depth').set(20);
  const [redis, prometheus] = await Promise.all([
    startRedis({ persist: options.persistRedis ?? false }),
    startPrometheus({ scrape: { targets: [target], interval: '1s' } }),
  ]);
  const dir = await mkdtemp(join(tmpdir(), 'sloe-engine-'));
  for (let i = 0; i < 100; i++) {
    const r = (await (await fetch(`${prometheus.url}/api/v1/query?query=demo_queue_depth`)).json()) as {
      data: { result: unknown[] };
    };
    if (r.data.result.length > 0) break;
    await sleep(200);
  }
  return {
    redis,
    prometheus,
    exporter,
    dir,
    async stop() {
      await Promise.all([redis.stop(), prometheus.stop(), exporter.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** SLO files for the engine tests: queue depth > 200 for 2s pages, Slack now, PagerDuty after 3s, on-call after 6s. */
export function queueSlo(
  extra: { for?: string; resolveAfter?: string; noDataFor?: string; after?: [string, string] } = {},
): string {
  const [pd, oncall] = extra.after ?? ['3s', '6s'];
  return `apiVersion: sloe/v1
kind: EscalationPolicy
name: demo
page:
  - notify: slack
    channel: "#demo-alerts"
  - after: ${pd}
    notify: pagerduty
    routingKey: \${PAGERDUTY_ROUTING_KEY}
  - after: ${oncall}
    notify: oncall
    schedule: demo-oncall
---
apiVersion: sloe/v1
kind: OnCallSchedule
name: demo-oncall
timezone: Europe/Berlin
rotation: { every: 1w, start: "2026-01-05T09:00" }
members: [{ name: alice, slack: U01ALICE }]
---
apiVersion: sloe/v1
kind: ServiceLevels
service: demo
owner: platform
escalation: demo
interval: 1s
dashboards: [{ id: queue, title: Approval queue, url: "https://grafana.example.com/d/queue", owner: bob }]
slos:
  - name: queue-depth
    signal: queue_depth
    dashboard: queue
    query: max(demo_queue_depth)
    objective: "< 50"
    noDataFor: ${extra.noDataFor ?? '5m'}
    alert: { when: "> 200", for: ${extra.for ?? '2s'}, resolveAfter: ${extra.resolveAfter ?? '2s'} }
`;
}

export async function writeSlos(dir: string, text: string): Promise<string> {
  const path = join(dir, 'slos');
  await import('node:fs/promises').then((fs) => fs.mkdir(path, { recursive: true }));
  await writeFile(join(path, 'demo.yaml'), text);
  return path;
}

/** Short job locks, so that a job held by a stopped engine is taken over within seconds. */
export const ENGINE_TEST_TUNING = { lockDurationMs: 3000, stalledIntervalMs: 1000 };

/** Starts an engine on the stack with a fresh Redis prefix (or the given one, to share with replicas). */
export async function startEngine(
  stack: Stack,
  paths: string[],
  { prefix: given, env: extraEnv, ...options }: Partial<EngineOptions> & { prefix?: string } = {},
) {
  const capture = new LogCapture();
  const prefix = given ?? `t${randomBytes(4).toString('hex')}`;
  const env = {
    REDIS_URL: stack.redis.url,
    PROMETHEUS_URL: stack.prometheus.url,
    SLOE_REDIS_PREFIX: prefix,
    LOG_LEVEL: 'debug',
    ...extraEnv,
  };
  const engine = await Engine.start({
    paths,
    env,
    port: 0,
    host: '127.0.0.1',
    watch: false,
    log: createLogger(env, capture),
    tuning: ENGINE_TEST_TUNING,
    retry: { attempts: 3, baseMs: 50, maxMs: 500 },
    ...options,
  });
  await engine.ready;
  return { engine, capture, prefix };
}

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Registers the hooks of an engine test file: one stack for the file; engines and `sloe run` processes started by a
 * test are stopped (processes killed) after it, and the exporter's gauge set back to healthy.
 */
export function useStack(options: { persistRedis?: boolean } = {}) {
  const ctx = {
    stack: undefined as unknown as Stack,
    engines: [] as Engine[],
    processes: [] as Array<{ child: { exitCode: number | null }; kill(signal?: NodeJS.Signals): void }>,
  };
  beforeAll(async () => {
    ctx.stack = await startStack(options);
  });
  afterEach(async () => {
    ctx.stack.exporter.gauge('demo_queue_depth').set(20);
    for (const p of ctx.processes.splice(0)) if (p.child.exitCode === null) p.kill('SIGKILL');
    await Promise.all(ctx.engines.splice(0).map((e) => e.stop()));
  });
  afterAll(() => ctx.stack?.stop());
  return ctx;
}
