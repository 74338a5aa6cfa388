/** Starts a real redis-server on a free port in a temporary directory. */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { ensureBinaries } from './binaries.js';
import { freePort, startLogged, stopProcess, tail, waitUntil } from './process.js';

export interface LocalRedis {
  url: string;
  port: number;
  /** Stops the server for good and removes its directory. */
  stop(): Promise<void>;
  /** Makes the server unreachable (SIGSTOP) until resume(): an outage without data loss. */
  pause(): void;
  resume(): void;
  /** Kills the server (SIGKILL) and starts it again on the same port; with `persist`, data survives unless `wipe`. */
  restart(options?: { wipe?: boolean }): Promise<void>;
  /** Kills the server (SIGKILL) and leaves it down; stop() still cleans up. */
  kill(): Promise<void>;
}

export interface RedisOptions {
  /** Keep data across restart() with an append-only file. */
  persist?: boolean;
  /** Listen on this port instead of a free one. */
  port?: number;
  /** More configuration directives as command-line arguments (`['--maxmemory-policy', 'allkeys-lru']`). */
  args?: readonly string[];
}

/** Answers PONG to PING over a plain socket. */
export function pingRedis(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** Starts redis-server; the caller must call stop(). */
export async function startRedis(options: RedisOptions = {}): Promise<LocalRedis> {
  const bin = ensureBinaries(['redis-server'])['redis-server']!;
  const dir = await mkdtemp(join(tmpdir(), 'sloe-redis-'));
  const log = join(dir, 'redis.log');
  const port = options.port ?? (await freePort());
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.persist ? 'yes' : 'no',
    '--appendfsync',
    'always',
    '--daemonize',
    'no',
    ...(options.args ?? []),
  ];
  let child: ChildProcess;
  const start = async () => {
    child = startLogged(bin, args, log);
    try {
      await waitUntil('redis-server', child, () => pingRedis(port), 20_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}: ${await tail(log)}`);
    }
  };
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      child.kill('SIGCONT');
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    },
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
    async restart(how = {}) {
      await kill();
      // Redis 7 keeps the append-only file in appendonlydir/; an RDB snapshot would be dump.rdb.
      if (how.wipe)
        await Promise.all(['appendonlydir', 'dump.rdb'].map((f) => rm(join(dir, f), { recursive: true, force: true })));
      await start();
    },
    kill,
  };
}
