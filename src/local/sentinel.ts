/**
 * Starts a Redis Sentinel group for local runs: a master, a replica and three sentinels, all real processes on free
 * ports, so a test can kill the master and watch the sentinels promote the replica.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { ensureBinaries } from './binaries.js';
import { freePort, startLogged, stopProcess, tail, waitUntil } from './process.js';
import { type LocalRedis, pingRedis, startRedis } from './redis.js';
import { sleep } from '../util/async.js';

export interface SentinelAddress {
  host: string;
  port: number;
}

export interface LocalSentinelGroup {
  /** The master group's name (`sentinel monitor <name> …`). */
  name: string;
  sentinels: SentinelAddress[];
  /** The environment that points sloe at the group: REDIS_SENTINELS and REDIS_SENTINEL_NAME. */
  env: { REDIS_SENTINELS: string; REDIS_SENTINEL_NAME: string };
  /** The data nodes, by port (the master and the replica as started). */
  nodes: Map<number, LocalRedis>;
  /** The master's address as the sentinels report it. */
  master(): Promise<SentinelAddress>;
  /** Kills the current master with SIGKILL; returns its port. */
  killMaster(): Promise<number>;
  /** Waits until the sentinels report a master other than `port`, and it answers as a master. */
  waitForFailover(port: number, timeoutMs?: number): Promise<SentinelAddress>;
  stop(): Promise<void>;
}

export interface SentinelGroupOptions {
  name?: string;
  /** How long the master must be unreachable before the sentinels consider it down (default 1000 ms). */
  downAfterMs?: number;
}

const HOST = '127.0.0.1';

/** Asks one server a command over a short-lived connection. */
async function ask(port: number, ...command: [string, ...Array<string | number>]): Promise<unknown> {
  const client = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
    enableOfflineQueue: false,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(...command);
  } finally {
    client.disconnect();
  }
}

/** A flat `[k, v, k, v…]` reply as a record. */
function record(reply: unknown): Record<string, string> {
  const flat = Array.isArray(reply) ? (reply as unknown[]).map(String) : [];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

/** Starts the group and waits until every sentinel knows the replica and the two other sentinels. */
export async function startSentinelGroup(options: SentinelGroupOptions = {}): Promise<LocalSentinelGroup> {
  const bin = ensureBinaries(['redis-sentinel'])['redis-sentinel']!;
  const name = options.name ?? 'sloe';
  const downAfterMs = options.downAfterMs ?? 1000;
  const dir = await mkdtemp(join(tmpdir(), 'sloe-sentinel-'));
  const master = await startRedis();
  const replica = await startRedis({ args: ['--replicaof', HOST, String(master.port)] });
  const nodes = new Map<number, LocalRedis>([
    [master.port, master],
    [replica.port, replica],
  ]);
  const sentinels: Array<SentinelAddress & { child: ChildProcess }> = [];
  const stop = async () => {
    await Promise.all(sentinels.map((s) => stopProcess(s.child)));
    await Promise.all([...nodes.values()].map((n) => n.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(
      'the replica',
      undefined,
      async () => /master_link_status:up/.test(String(await ask(replica.port, 'INFO', 'replication'))),
      20_000,
    );
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${i}.conf`);
      // A sentinel rewrites its own configuration file (what it learns about the group), so each has its own.
      await writeFile(
        conf,
        [
          `port ${port}`,
          `bind ${HOST}`,
          'daemonize no',
          `dir ${dir}`,
          `sentinel monitor ${name} ${HOST} ${master.port} 2`,
          `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      const log = join(dir, `sentinel-${i}.log`);
      const child = startLogged(bin, [conf], log);
      sentinels.push({ host: HOST, port, child });
      try {
        await waitUntil('redis-sentinel', child, () => pingRedis(port), 20_000);
      } catch (e) {
        throw new Error(`${(e as Error).message}: ${await tail(log)}`);
      }
    }
    // Sentinels find each other and the replica through the master's hello channel (every 2 s).
    for (const s of sentinels) {
      await waitUntil(
        'the sentinels to know each other',
        s.child,
        async () => {
          const m = record(await ask(s.port, 'SENTINEL', 'MASTER', name));
          return Number(m['num-slaves']) >= 1 && Number(m['num-other-sentinels']) >= 2;
        },
        30_000,
      );
    }
  } catch (e) {
    await stop();
    throw e;
  }

  const group: LocalSentinelGroup = {
    name,
    sentinels: sentinels.map(({ host, port }) => ({ host, port })),
    env: { REDIS_SENTINELS: sentinels.map((s) => `${s.host}:${s.port}`).join(','), REDIS_SENTINEL_NAME: name },
    nodes,
    async master() {
      for (const s of sentinels) {
        const reply = await ask(s.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name).catch(() => undefined);
        if (Array.isArray(reply) && reply.length === 2) return { host: String(reply[0]), port: Number(reply[1]) };
      }
      throw new Error(`no sentinel knows the master of "${name}"`);
    },
    async killMaster() {
      const { port } = await group.master();
      const node = nodes.get(port);
      if (!node) throw new Error(`the master of "${name}" is on port ${port}, which this group did not start`);
      await node.kill();
      return port;
    },
    async waitForFailover(port, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const now = await group.master().catch(() => undefined);
        if (now && now.port !== port) {
          const role = String(
            await ask(now.port, 'ROLE')
              .then((r) => (Array.isArray(r) ? r[0] : r))
              .catch(() => ''),
          );
          if (role === 'master') return now;
        }
        await sleep(100);
      }
      throw new Error(`the sentinels of "${name}" did not promote a new master within ${timeoutMs} ms`);
    },
    stop,
  };
  return group;
}
