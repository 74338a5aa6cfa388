/** Runs the real `sloe` binary, as users do. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = join(import.meta.dirname, '..', '..');
export const SLOE = join(ROOT, 'bin', 'sloe.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall-clock time from spawn to exit. */
  ms: number;
  /** CPU time the process used (user + system), when asked for with `cpuTime`. */
  cpuMs?: number;
}

const REPORT_CPU = join(import.meta.dirname, 'report-cpu.mjs');

export function runSloe(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; cpuTime?: boolean } = {},
): Promise<CliResult> {
  const cpuFile = options.cpuTime
    ? join(tmpdir(), `sloe-cpu-${process.pid}-${randomBytes(4).toString('hex')}`)
    : undefined;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [...(cpuFile ? ['--import', pathToFileURL(REPORT_CPU).href] : []), SLOE, ...args],
      {
        cwd: options.cwd ?? ROOT,
        env: { ...process.env, ...options.env, ...(cpuFile ? { SLOE_TEST_CPU_FILE: cpuFile } : {}) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      let cpuMs: number | undefined;
      if (cpuFile) {
        try {
          cpuMs = Number(readFileSync(cpuFile, 'utf8'));
          rmSync(cpuFile, { force: true });
        } catch {
          cpuMs = undefined;
        }
      }
      resolve({ code, stdout, stderr, ms, ...(cpuMs !== undefined ? { cpuMs } : {}) });
    });
  });
}
