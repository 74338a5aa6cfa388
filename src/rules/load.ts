/** Finds SLO files below the given paths, parses and checks them. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type CheckOptions, type EnvProblem, check } from './check.js';
import type { Config } from './model.js';
import { type Problem, sortProblems } from './problem.js';
import { readSource } from './source.js';

/** A command was called wrongly or its environment is missing something (exit code 2). */
export class UsageError extends Error {}

export interface LoadResult {
  config: Config;
  /** Problems in the files; the configuration is usable only when this is empty. */
  problems: Problem[];
  /** `${NAME}` references to unset variables (only when an environment was given). */
  envProblems: EnvProblem[];
  files: string[];
}

const SLO_FILE = /\.ya?ml$/i;

/** Lists the YAML files below each path (a file given by name is taken whatever its extension). */
export async function findFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    const s = await stat(p).catch(() => undefined);
    if (!s) throw new UsageError(`no such file or directory: ${p}`);
    if (s.isFile()) {
      files.push(p);
      continue;
    }
    const entries = await readdir(p, { recursive: true, withFileTypes: true });
    const found = entries
      .filter((e) => e.isFile() && SLO_FILE.test(e.name))
      .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
      .filter((f) => !f.split(/[\\/]/).some((part) => part.startsWith('.') && part !== '.' && part !== '..'))
      .sort();
    files.push(...found);
  }
  return [...new Set(files)];
}

/** Loads every SLO file below `paths` into one checked configuration. */
export async function loadRules(paths: readonly string[], options: CheckOptions = {}): Promise<LoadResult> {
  const files = await findFiles(paths);
  const sources = await Promise.all(files.map((f) => readSource(f)));
  const result = check(
    sources.flatMap((s) => s.docs),
    options,
  );
  return {
    config: result.config,
    problems: sortProblems([...sources.flatMap((s) => s.problems), ...result.problems]),
    envProblems: sortProblems(result.envProblems),
    files,
  };
}
