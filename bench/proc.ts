/** What a child process costs, read from /proc (Linux): no request to the process, so measuring costs it nothing. */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

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
export function imageNodeFlags(): string[] {
  const dockerfile = readFileSync(join(import.meta.dirname, '..', 'Dockerfile'), 'utf8');
  const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile);
  if (!entrypoint) throw new Error('Dockerfile: no ENTRYPOINT in exec form');
  const args = JSON.parse(entrypoint[1]!) as string[];
  const script = args.indexOf('bin/sloe.js');
  if (args[0] !== 'node' || script < 0)
    throw new Error(`Dockerfile: ENTRYPOINT is not node … bin/sloe.js: ${entrypoint[1]}`);
  return args.slice(1, script);
}
