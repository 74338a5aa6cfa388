import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBinaries } from '../../src/local/binaries.js';

const ROOT = join(import.meta.dirname, '..', '..');

function newest(dir: string): number {
  return Math.max(
    0,
    ...readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => statSync(join(e.parentPath, e.name)).mtimeMs),
  );
}

/**
 * Runs once before all tests: installs (as root) or demands the real servers the tests talk to, and rebuilds
 * dist/ when src/ changed since, so that tests of the `sloe` binary never run stale code.
 */
export default function setup(): void {
  ensureBinaries(['prometheus', 'promtool', 'redis-server', 'redis-sentinel', 'chromium'], (line) =>
    process.stderr.write(`test setup: ${line}\n`),
  );
  let built = 0;
  try {
    built = statSync(join(ROOT, 'dist', 'cli', 'main.js')).mtimeMs;
  } catch {
    // not built yet
  }
  if (built < newest(join(ROOT, 'src'))) {
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')],
      { stdio: 'inherit' },
    );
  }
}
