/** `sloe run` as a real process: its JSON log lines collected as they come. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, readdir, readlink } from 'node:fs/promises';
import { SLOE, ROOT } from './cli.js';
import type { LogLine } from './engine.js';
import { sleep } from './time.js';

export interface SloeProcess {
  child: ChildProcess;
  lines: LogLine[];
  stderr: string[];
  port: number;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  waitFor(what: string, match: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  kill(signal?: NodeJS.Signals): void;
}

export function spawnSloe(
  args: string[],
  env: NodeJS.ProcessEnv,
  port: number,
  nodeArgs: readonly string[] = [],
): SloeProcess {
  const child = spawn(process.execPath, [...nodeArgs, SLOE, ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'debug', SLOE_PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const stderr: string[] = [];
  let buffer = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim()) lines.push(JSON.parse(line) as LogLine);
    }
  });
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    stderr,
    port,
    exited,
    kill: (signal = 'SIGTERM') => child.kill(signal),
    async waitFor(what, match, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(match);
        if (found) return found;
        if (child.exitCode !== null)
          throw new Error(`sloe exited (${child.exitCode}) while waiting for ${what}: ${stderr.join('')}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(50);
      }
    },
  };
}

/**
 * Which of `pids` owns the TCP connection from local port `clientPort` (to `serverPort`, when given) on this machine:
 * a request a stand-in holds, by the stand-in's view of its peer. Linux: the socket's inode in /proc/net/tcp, then the
 * process whose file descriptors include it.
 */
export async function pidOfConnection(
  clientPort: number,
  pids: readonly number[],
  serverPort?: number,
): Promise<number | undefined> {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || !cols[1]!.endsWith(`:${hex(clientPort)}`)) continue;
      if (serverPort !== undefined && !cols[2]!.endsWith(`:${hex(serverPort)}`)) continue;
      if (cols[9] !== '0') inodes.add(cols[9]!);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const inode = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''))?.[1];
      if (inode && inodes.has(inode)) return pid;
    }
  }
  return undefined;
}
