/** Loading SLO files for the commands that act on them (eval, backtest, run). */
import { type Config, formatProblem, loadRules } from '../rules/index.js';
import { EXIT, type Io } from './io.js';
import { checkOptions } from './options.js';

/**
 * Loads and checks the SLO files with `${VAR}` references filled in from the environment. Prints problems and
 * returns an exit code instead of a configuration when the files are invalid (1) or a needed variable is unset (2).
 * `needs` says whose variables must be set: the SLO documents only, or every document.
 */
export async function loadConfig(paths: readonly string[], io: Io, needs: 'slos' | 'all'): Promise<Config | number> {
  const { config, problems, envProblems } = await loadRules(paths, { ...checkOptions(undefined, io.env), env: io.env });
  if (problems.length > 0) {
    for (const p of problems) io.stderr.write(formatProblem(p) + '\n');
    io.stderr.write(`sloe: ${problems.length} problem(s) in the SLO files (see sloe validate)\n`);
    return EXIT.problem;
  }
  const missing = envProblems.filter((p) => needs === 'all' || p.kind === 'ServiceLevels');
  if (missing.length > 0) {
    for (const p of missing) io.stderr.write(formatProblem(p) + '\n');
    return EXIT.usage;
  }
  return config;
}
