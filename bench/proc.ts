/** What a child process costs, read from /proc (Linux): no request to the process, so measuring costs it nothing. */
import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep } from '../src/util/async.js';

const ROOT = join(import.meta.dirname, '..');
const dockerfile = () => readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
export async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces, in parentheses): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ = 100 on Linux)
}

/** Resident memory of a process now and at its peak, in MB, from /proc/<pid>/status. */
export async function processRssMb(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/**
 * The node flags the image runs the engine with: those between `node` and `bin/sloe.js` in the Dockerfile's
 * ENTRYPOINT. The benchmarks start `sloe run` as the image does.
 */
function imageNodeFlags(): string[] {
  const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile());
  if (!entrypoint) throw new Error('Dockerfile: no ENTRYPOINT in exec form');
  const args = JSON.parse(entrypoint[1]!) as string[];
  const script = args.indexOf('bin/sloe.js');
  if (args[0] !== 'node' || script < 0)
    throw new Error(`Dockerfile: ENTRYPOINT is not node … bin/sloe.js: ${entrypoint[1]}`);
  return args.slice(1, script);
}

/** The node flags of a CPU profile into BENCH_PROFILE (a directory), when it is set. */
export function profileFlags(): string[] {
  return process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
}

/**
 * The environment the image gives the engine: the `ENV KEY=VALUE …` lines of the Dockerfile's last stage (NODE_ENV,
 * and LD_PRELOAD, the memory allocator).
 */
function imageEnv(): Record<string, string> {
  const text = dockerfile();
  const stage = text.slice(text.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const line of stage.matchAll(/^ENV\s+(.+)$/gm)) {
    for (const pair of line[1]!.trim().split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq <= 0 || /["'\\$]/.test(pair))
        throw new Error(`Dockerfile: ENV ${line[1]}: only unquoted KEY=VALUE pairs are read`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/**
 * Starts `sloe <args>` as the image does: node with the ENTRYPOINT's flags (then `flags`, e.g. a profiler's), under
 * the image's ENV, then `env`. A library the image preloads (LD_PRELOAD) that this machine lacks would be ignored by
 * the loader with a warning, and the figures would be another allocator's: that is an error here instead.
 */
export async function startEngine(
  args: string[],
  env: NodeJS.ProcessEnv,
  stdio: StdioOptions,
  flags: string[] = [],
): Promise<ChildProcess> {
  const image = imageEnv();
  const child = spawn(process.execPath, [...imageNodeFlags(), ...flags, join(ROOT, 'bin', 'sloe.js'), ...args], {
    env: { ...process.env, ...image, ...env },
    stdio,
  });
  await once(child, 'spawn');
  const preload = (image.LD_PRELOAD ?? '').split(/[\s:]+/).filter(Boolean);
  // The loader maps the preloaded libraries before node starts: a moment after the spawn.
  for (const since = Date.now(); ; await sleep(20)) {
    const maps = await readFile(`/proc/${child.pid}/maps`, 'utf8').catch(() => '');
    const missing = preload.filter((lib) => !maps.includes(lib.includes('/') ? lib : `/${lib}`));
    if (missing.length === 0) return child;
    const ended = child.exitCode ?? child.signalCode;
    if (ended !== null || Date.now() - since > 5000) {
      child.kill('SIGKILL');
      const when = ended === null ? 'within 5 s' : `before sloe ${args.join(' ')} ended as it started (${ended})`;
      throw new Error(
        `the image preloads ${missing.join(', ')} (Dockerfile: ENV LD_PRELOAD) and it was not seen loaded ${when}: where this machine lacks it, install it (Debian: apt-get install libjemalloc2)`,
      );
    }
  }
}
