/** Finds the Prometheus and Redis (and Redis Sentinel) binaries that local runs (tests, demo, bench) start, installing them when allowed. */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const PACKAGES: Record<string, string> = {
  prometheus: 'prometheus',
  promtool: 'prometheus',
  'redis-server': 'redis-server',
  // Debian's redis-sentinel is a link to the redis-server binary, which runs as a sentinel under that name.
  'redis-sentinel': 'redis-sentinel',
  // The headless browser the status page is tested in.
  chromium: 'chromium',
};

/** The absolute path of an executable on PATH (or in /usr/bin, /usr/sbin), or undefined. */
export function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Makes sure the binaries exist. Missing ones are installed with apt-get when running as root; otherwise this
 * throws an error that says how to install them.
 */
export function ensureBinaries(
  names: readonly string[],
  log: (line: string) => void = () => {},
): Record<string, string> {
  const missing = names.filter((n) => !which(n));
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((n) => PACKAGES[n] ?? n))];
    const command = `apt-get install -y ${packages.join(' ')}`;
    if (process.getuid?.() !== 0 || !which('apt-get')) {
      throw new Error(
        `${missing.join(', ')} not found: install with \`sudo ${command}\` (Debian/Ubuntu) and run again`,
      );
    }
    log(`installing ${packages.join(', ')} (${command})`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let result = spawnSync('apt-get', ['install', '-y', ...packages], { env, encoding: 'utf8' });
    if (result.status !== 0) {
      spawnSync('apt-get', ['update'], { env, encoding: 'utf8' });
      result = spawnSync('apt-get', ['install', '-y', ...packages], { env, encoding: 'utf8' });
    }
    const still = names.filter((n) => !which(n));
    if (result.status !== 0 || still.length > 0) {
      throw new Error(
        `could not install ${packages.join(', ')} with \`${command}\`: ${(result.stderr || result.stdout || '').trim().split('\n').slice(-3).join(' ')}`,
      );
    }
  }
  return Object.fromEntries(names.map((n) => [n, which(n)!]));
}
