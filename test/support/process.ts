/** `sloe run` as a real process: its JSON log lines collected as they come. */
import { type ChildProcess, spawn } from 'node:child_process';
import { SLOE, ROOT } from './cli.js';
import type { LogLine } from './engine.js';

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

export function spawnSloe(args: string[], env: NodeJS.ProcessEnv, port: number): SloeProcess {
  const child = spawn(process.execPath, [SLOE, ...args], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'debug', SLOE_PORT: String(port), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
        if (child.exitCode !== null) throw new Error(`sloe exited (${child.exitCode}) while waiting for ${what}: ${stderr.join('')}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
