/** Configuration from YAML text, for tests of the pure code that needs real SLOs and policies. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProblem, loadRules } from '../../src/rules/index.js';
import type { Config } from '../../src/rules/model.js';

/** Loads SLO files given as text, as `sloe` would; any problem throws, naming it. */
export async function configFromText(yaml: string): Promise<Config> {
  const dir = await mkdtemp(join(tmpdir(), 'sloe-config-'));
  try {
    await writeFile(join(dir, 'slos.yaml'), yaml);
    const loaded = await loadRules([dir]);
    if (loaded.problems.length > 0) throw new Error(loaded.problems.map(formatProblem).join('\n'));
    return loaded.config;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
