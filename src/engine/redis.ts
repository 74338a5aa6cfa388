/**
 * The engine's Redis connections: one server (`REDIS_URL`), or the master of a Redis Sentinel group
 * (`REDIS_SENTINELS`, `REDIS_SENTINEL_NAME`) that follows a failover to the promoted replica. Also checks at every
 * connect that Redis will not evict keys, which BullMQ and the incident store cannot survive.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../observability/log.js';

export interface SentinelAddress {
  host: string;
  port: number;
}

/** Where the engine's Redis is. Passwords come from the environment only. */
export type RedisTarget =
  | { kind: 'url'; url: string }
  | {
      kind: 'sentinel';
      sentinels: SentinelAddress[];
      name: string;
      /** AUTH of the data nodes (REDIS_USERNAME, REDIS_PASSWORD). */
      username?: string;
      password?: string;
      /** AUTH of the sentinels themselves (REDIS_SENTINEL_USERNAME, REDIS_SENTINEL_PASSWORD). */
      sentinelUsername?: string;
      sentinelPassword?: string;
    };

export const DEFAULT_REDIS_URL = 'redis://localhost:6379';
export const DEFAULT_SENTINEL_PORT = 26379;
export const DEFAULT_SENTINEL_NAME = 'mymaster';

/** Parses `host:port,host:port` (`[::1]:26379` for IPv6; the port defaults to 26379). */
export function parseSentinels(value: string): SentinelAddress[] {
  const parts = value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0)
    throw new Error('REDIS_SENTINELS is empty: give host:port of one or more sentinels, separated by commas');
  return parts.map((part) => {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(part);
    const port = m?.[3] === undefined ? DEFAULT_SENTINEL_PORT : Number(m[3]);
    if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`REDIS_SENTINELS: "${part}" is not host:port (e.g. sentinel-1:26379,sentinel-2:26379)`);
    }
    return { host: (m[1] ?? m[2])!, port };
  });
}

/** The Redis the environment names: Sentinel when REDIS_SENTINELS is set, otherwise REDIS_URL. */
export function redisTargetFromEnv(env: NodeJS.ProcessEnv): RedisTarget {
  if (!env.REDIS_SENTINELS) return { kind: 'url', url: env.REDIS_URL || DEFAULT_REDIS_URL };
  return {
    kind: 'sentinel',
    sentinels: parseSentinels(env.REDIS_SENTINELS),
    name: env.REDIS_SENTINEL_NAME || DEFAULT_SENTINEL_NAME,
    username: env.REDIS_USERNAME || undefined,
    password: env.REDIS_PASSWORD || undefined,
    sentinelUsername: env.REDIS_SENTINEL_USERNAME || undefined,
    sentinelPassword: env.REDIS_SENTINEL_PASSWORD || undefined,
  };
}

/** The target for a log line: no password, ever. */
export function describeRedisTarget(target: RedisTarget): string {
  if (target.kind === 'sentinel')
    return `master "${target.name}" of sentinels ${target.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
  try {
    const url = new URL(target.url);
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return 'REDIS_URL (unparsable)';
  }
}

/**
 * A failover leaves clients that still talk to the old master (now a replica) with READONLY errors, and a node
 * loading its data answers LOADING: reconnect (to the master the sentinels name now) and send the command again.
 */
export function reconnectOnError(e: Error): 2 | false {
  return e.message.startsWith('READONLY') || e.message.startsWith('LOADING') ? 2 : false;
}

/** Opens one connection to the target; BullMQ needs `maxRetriesPerRequest: null`, which the engine passes. */
export function connectRedis(target: RedisTarget, options: RedisOptions = {}): Redis {
  const common: RedisOptions = { reconnectOnError, ...options };
  if (target.kind === 'url') return new Redis(target.url, common);
  return new Redis({
    ...common,
    sentinels: target.sentinels,
    name: target.name,
    username: target.username,
    password: target.password,
    sentinelUsername: target.sentinelUsername,
    sentinelPassword: target.sentinelPassword,
    // Ask the sentinels again for ever (they may all be restarting): a connection whose sentinels give up ends for
    // good. (ioredis' failoverDetector is left off: its +switch-master handler aborts a reconnect already under way,
    // which also ends the connection for good.)
    sentinelRetryStrategy: (n: number) => Math.min(n * 200, 2000),
  });
}

/** What CONFIG GET maxmemory-policy said. */
export type EvictionPolicy =
  | { status: 'ok'; policy: 'noeviction' }
  | { status: 'evicting'; policy: string }
  | { status: 'unknown'; error: string };

/** Asks Redis for its eviction policy; managed services often refuse CONFIG, which is `unknown`, not an error. */
export async function evictionPolicy(redis: Redis): Promise<EvictionPolicy> {
  try {
    const reply = await redis.call('CONFIG', 'GET', 'maxmemory-policy');
    const policy = Array.isArray(reply) && reply.length >= 2 ? String(reply[1]) : undefined;
    if (policy === undefined) return { status: 'unknown', error: 'CONFIG GET maxmemory-policy gave no value' };
    return policy === 'noeviction' ? { status: 'ok', policy } : { status: 'evicting', policy };
  } catch (e) {
    return { status: 'unknown', error: e instanceof Error ? e.message : String(e) };
  }
}

/** Logs a warning when Redis may evict keys, or when that could not be checked. */
export async function warnOnEviction(redis: Redis, log: Logger): Promise<EvictionPolicy> {
  const found = await evictionPolicy(redis);
  if (found.status === 'evicting') {
    log.warn(
      { event: 'redis-eviction-policy', policy: found.policy },
      `Redis maxmemory-policy is "${found.policy}": under memory pressure Redis may delete queued escalation steps and incidents; set it to "noeviction"`,
    );
  } else if (found.status === 'ok') {
    log.debug({ event: 'redis-eviction-policy', policy: found.policy }, 'Redis maxmemory-policy is "noeviction"');
  } else {
    log.warn(
      { event: 'redis-eviction-policy', policy: 'unknown', error: found.error },
      `could not check Redis' maxmemory-policy (${found.error}); make sure it is "noeviction", or escalation steps and incidents may be evicted`,
    );
  }
  return found;
}

/** The engine's two connections (store, queues), each checked for its eviction policy whenever it (re)connects. */
export function engineConnections(
  env: NodeJS.ProcessEnv,
  log: Logger,
): { store: Redis; queues: Redis; target: RedisTarget } {
  const target = redisTargetFromEnv(env);
  const options: RedisOptions = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (n: number) => Math.min(n * 200, 2000),
  };
  // The store's commands of one shard's evaluations go out as one pipeline.
  const store = connectRedis(target, { ...options, enableAutoPipelining: true });
  const queues = connectRedis(target, options);
  // A failover or a restart may land on a node configured differently: check whenever the connection is ready.
  queues.on('ready', () => void warnOnEviction(queues, log));
  log.info({ event: 'redis-target', redis: describeRedisTarget(target) }, `Redis: ${describeRedisTarget(target)}`);
  return { store, queues, target };
}
