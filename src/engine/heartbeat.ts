/**
 * The dead man's switch: what tells the outside that sloe evaluates. Each shard evaluated in full without a
 * Prometheus or store error sets `sloe_last_evaluation_success_timestamp_seconds{interval, shard}`, which an alert
 * rule watches going stale; with `SLOE_HEARTBEAT_URL`, each replica also GETs that URL after every clean period, for
 * a monitor (healthchecks.io, a PagerDuty heartbeat…) that pages when the GETs stop.
 *
 * A period lasts at least the shortest evaluation interval of the configuration. A shard evaluation on a replica
 * whose current period began at least that long ago ends the period: if no shard evaluation on the replica failed
 * during it (this one included), the replica sends a heartbeat; either way a new period begins. So a replica sends
 * at most one heartbeat per interval, and none while any of its evaluations fail. The GET runs beside evaluation, never in its
 * way: one at a time per replica, with a timeout; a failure is logged and counted.
 */
import type { Config } from '../rules/model.js';
import { formatDuration } from '../rules/duration.js';
import { type ShardJob, shards } from '../scheduler/queues.js';
import type { EngineMetrics } from '../observability/metrics.js';
import type { Logger } from '../observability/log.js';

export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000;
/** The period when the configuration has no SLOs. */
const DEFAULT_PERIOD_MS = 60_000;

/** Where the heartbeat goes: the URL without credentials, the Authorization they become, and what logs may show. */
interface Target {
  url: string;
  headers: Record<string, string>;
  origin: string;
}

/** Parses SLOE_HEARTBEAT_URL: an http(s) URL; `user:password@` becomes basic auth (fetch refuses it in the URL). */
export function heartbeatTarget(raw: string): Target | { problem: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { problem: 'SLOE_HEARTBEAT_URL is not a URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { problem: `SLOE_HEARTBEAT_URL must be an http(s) URL, not ${url.protocol}` };
  const headers: Record<string, string> = {};
  if (url.username || url.password) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  return { url: url.href, headers, origin: url.origin };
}

export interface HeartbeatOptions {
  env: NodeJS.ProcessEnv;
  log: Logger;
  metrics: EngineMetrics;
  now(): number;
  /** The configuration in force: its shards and its shortest interval. */
  config(): Config;
}

/** Records each shard evaluation's outcome; sends heartbeats. */
export class Heartbeat {
  private readonly target: Target | undefined;
  private readonly timeoutMs: number;
  private periodStart = -Infinity;
  private failedInPeriod = false;
  private sending = false;
  /** The configuration whose shards and period are worked out below. */
  private seen: Config | undefined;
  private periodMs = DEFAULT_PERIOD_MS;
  private readonly series = new Set<string>();

  constructor(private readonly options: HeartbeatOptions) {
    const { env, log } = options;
    const timeout = Number(env.SLOE_HEARTBEAT_TIMEOUT) * 1000;
    this.timeoutMs =
      env.SLOE_HEARTBEAT_TIMEOUT && Number.isFinite(timeout) && timeout > 0 ? timeout : DEFAULT_HEARTBEAT_TIMEOUT_MS;
    if (!env.SLOE_HEARTBEAT_URL) return;
    const target = heartbeatTarget(env.SLOE_HEARTBEAT_URL);
    if ('problem' in target) {
      log.error(
        { event: 'heartbeat-disabled', problem: target.problem },
        `${target.problem}: no heartbeats will be sent`,
      );
      return;
    }
    this.target = target;
    log.info(
      { event: 'heartbeat-enabled', url: target.origin, timeoutMs: this.timeoutMs },
      `heartbeat: GET ${target.origin}/… after each clean evaluation period`,
    );
  }

  /** The outcome of a shard's evaluation at `at`: `ok` when every SLO of it was evaluated without an error. */
  shardEvaluated(shard: ShardJob, ok: boolean, at: number): void {
    this.follow(this.options.config());
    if (ok) {
      const labels = { interval: formatDuration(shard.intervalMs), shard: String(shard.shard) };
      this.options.metrics.lastEvaluationSuccess.set(labels, at / 1000);
      this.series.add(JSON.stringify(labels));
    } else {
      this.failedInPeriod = true;
    }
    const now = this.options.now();
    if (now - this.periodStart < this.periodMs) return;
    const clean = !this.failedInPeriod;
    this.periodStart = now;
    this.failedInPeriod = false;
    if (clean && this.target) void this.send(this.target);
  }

  /** After a reload: the new period, and no series left for shards that are gone (they would look stale). */
  private follow(config: Config): void {
    if (config === this.seen) return;
    this.seen = config;
    this.periodMs = config.slos.reduce((shortest, s) => Math.min(shortest, s.intervalMs), Infinity);
    if (!Number.isFinite(this.periodMs)) this.periodMs = DEFAULT_PERIOD_MS;
    const wanted = new Set(
      shards(config.slos).map((s) =>
        JSON.stringify({ interval: formatDuration(s.intervalMs), shard: String(s.shard) }),
      ),
    );
    for (const key of this.series) {
      if (wanted.has(key)) continue;
      this.options.metrics.lastEvaluationSuccess.remove(JSON.parse(key) as Record<string, string>);
      this.series.delete(key);
    }
  }

  private async send(target: Target): Promise<void> {
    const { log, metrics } = this.options;
    if (this.sending) {
      metrics.heartbeats.inc({ outcome: 'skipped' });
      log.warn(
        { event: 'heartbeat-skipped', url: target.origin },
        `heartbeat to ${target.origin} skipped: the previous one is still waiting for an answer`,
      );
      return;
    }
    this.sending = true;
    try {
      const res = await fetch(target.url, { headers: target.headers, signal: AbortSignal.timeout(this.timeoutMs) });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`answered HTTP ${res.status}`);
      metrics.heartbeats.inc({ outcome: 'sent' });
      log.debug({ event: 'heartbeat-sent', url: target.origin }, `heartbeat sent to ${target.origin}`);
    } catch (e) {
      metrics.heartbeats.inc({ outcome: 'failed' });
      const why = failure(e, this.timeoutMs);
      log.error(
        { event: 'heartbeat-failed', url: target.origin, error: why },
        `heartbeat to ${target.origin} failed: ${why}`,
      );
    } finally {
      this.sending = false;
    }
  }
}

/** Why a heartbeat GET failed, without its URL (error messages of fetch may carry it). */
function failure(e: unknown, timeoutMs: number): string {
  const err = e as Error & { cause?: { code?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs / 1000}s`;
  if (err.message.startsWith('answered HTTP')) return err.message;
  return err.cause?.code ?? err.name;
}
