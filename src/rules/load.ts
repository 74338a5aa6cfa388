/** Finds SLO files below the given paths, parses and checks them. */
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { CheckOptions, EnvProblem, SilenceWarning } from './check/context.js';
import { checkDocuments, holdsTimes, knownValid } from './check/run.js';
import type { Config } from './model.js';
import { type Problem, sortProblems } from './problem.js';
import { readText } from './read-text.js';
import { NOT_VALID } from './schema-fast.js';
import { type SourceDoc, type SourceFile, plainSource } from './source-doc.js';
import { UsageError } from './usage-error.js';

export { UsageError };

export interface LoadResult {
  config: Config;
  /** Problems in the files; the configuration is usable only when this is empty. */
  problems: Problem[];
  /** `${NAME}` references to unset variables (only when an environment was given). */
  envProblems: EnvProblem[];
  /** Valid but probably not meant (an expired silence, one that matches nothing): `validate --strict` fails on them. */
  warnings: SilenceWarning[];
  files: string[];
  /** The documents that could be read, with their positions (the lint rules read them). */
  docs: SourceDoc[];
}

const SLO_FILE = /\.ya?ml$/i;

/**
 * Lists the YAML files below each path (a file given by name is taken whatever its extension). Symbolic links below
 * a path are followed as long as they stay inside it, so that a Kubernetes ConfigMap mount
 * (`spec.yaml -> ..data/spec.yaml`, `..data -> ..2026_11_28_…`) loads. Names starting with `.` are skipped: hidden
 * files, and the kubelet's `..data` and `..<timestamp>` entries that the links lead into. A file or directory
 * reached by two ways is read once. A link that leads nowhere, outside its path, or back into a directory being
 * read, and a path with no SLO files, are problems.
 */
export async function findFiles(paths: readonly string[]): Promise<{ files: string[]; problems: Problem[] }> {
  const problems: Problem[] = [];
  const at = (file: string, message: string) => problems.push({ file, line: 1, col: 1, message });
  const found: string[] = [];
  const walked = new Set<string>();

  const walk = async (
    root: { path: string; real: string },
    dir: string,
    ancestors: ReadonlySet<string>,
  ): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
      at(dir, `cannot read the directory: ${e.code ?? e.message}`);
      return [];
    });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      let isDir = entry.isDirectory();
      let real: string | undefined;
      if (entry.isSymbolicLink()) {
        const target = await stat(path).catch((e: NodeJS.ErrnoException) => e);
        if (target instanceof Error) {
          if (SLO_FILE.test(entry.name))
            at(path, target.code === 'ELOOP' ? 'symbolic link loop' : 'broken symbolic link: it points at nothing');
          continue;
        }
        isDir = target.isDirectory();
        if (!isDir && !SLO_FILE.test(entry.name)) continue;
        real = await realpath(path);
        if (real !== root.real && !real.startsWith(root.real + sep)) {
          at(
            path,
            `symbolic link leads outside ${root.path} (to ${real}): links below an SLO path must stay inside it`,
          );
          continue;
        }
      }
      if (isDir) {
        real ??= await realpath(path);
        if (ancestors.has(real)) {
          at(path, `symbolic link loop: ${path} leads back to ${real}, which is already being read`);
        } else if (!walked.has(real)) {
          walked.add(real);
          await walk(root, path, new Set([...ancestors, real]));
        }
      } else if (SLO_FILE.test(entry.name)) {
        // A FIFO or device with an SLO file's name is reported by the reader, not skipped in silence.
        found.push(path);
      }
    }
  };

  for (const p of paths) {
    const s = await stat(p).catch((e: NodeJS.ErrnoException) => e);
    if (s instanceof Error) {
      // The path exists (as a link) but leads nowhere: a problem of that file, not a usage error.
      if (
        await lstat(p).then(
          () => true,
          () => false,
        )
      ) {
        at(p, s.code === 'ELOOP' ? 'symbolic link loop' : 'broken symbolic link: it points at nothing');
        continue;
      }
      throw new UsageError(`no such file or directory: ${p}`);
    }
    if (!s.isDirectory()) {
      found.push(p);
      continue;
    }
    const before = { files: found.length, problems: problems.length };
    const real = await realpath(p);
    walked.add(real);
    await walk({ path: p, real }, p, new Set([real]));
    if (found.length === before.files && problems.length === before.problems)
      at(p, 'no SLO files (*.yaml, *.yml) found');
  }
  // Sorted, so that "already declared at" always names the same file; each real file once.
  const files = new Map<string, string>();
  for (const f of found.sort()) {
    const real = await realpath(f).catch(() => f);
    if (!files.has(real)) files.set(real, f);
  }
  return { files: [...files.values()], problems };
}

/** The most problems listed per file; the rest are counted in one more line. */
export const MAX_PROBLEMS_PER_FILE = 100;
/** The most bytes all SLO files of one run may hold together (each is at most MAX_FILE_BYTES). */
export const MAX_TOTAL_BYTES = 32 * 1024 * 1024;

/** Loads every SLO file below `paths` into one checked configuration. */
export async function loadRules(paths: readonly string[], options: CheckOptions = {}): Promise<LoadResult> {
  const { files, problems: found } = await findFiles(paths);
  // The files together are bounded too: those past the total are reported, unread.
  const sizes = await Promise.all(
    files.map((f) =>
      stat(f).then(
        (s) => (s.isFile() ? s.size : 0),
        () => 0,
      ),
    ),
  );
  let total = 0;
  const readable = files.filter((f, i) => {
    total += sizes[i]!;
    if (total <= MAX_TOTAL_BYTES) return true;
    found.push({
      file: f,
      line: 1,
      col: 1,
      message: `the SLO files together are over ${MAX_TOTAL_BYTES / 1024 / 1024} MiB from this file on: it is not read`,
    });
    return false;
  });
  const sources = await Promise.all(readable.map((f) => readSource(f)));
  const docs = sources.flatMap((s) => s.docs);
  // The schema library is loaded only when a document is not known to be valid: it is what says what is wrong. The
  // checks of silences and schedules, with the date library, only when there is one.
  const valid = knownValid(docs);
  const zod = valid.includes(NOT_VALID) ? (await import('./check.js')).ZOD : undefined;
  const timed = holdsTimes(docs) ? await import('./check/timed.js') : undefined;
  const result = checkDocuments(docs, valid, options, { zod, timed });
  return {
    config: result.config,
    problems: capPerFile(sortProblems([...found, ...sources.flatMap((s) => s.problems), ...result.problems])),
    envProblems: sortProblems(result.envProblems),
    warnings: sortProblems(result.warnings),
    files,
    docs,
  };
}

/**
 * Reads and parses one file; a file that cannot be read, is too large or is not UTF-8 text is one problem. The yaml
 * library is loaded for the first file that is not of the plain shape.
 */
export async function readSource(file: string): Promise<SourceFile> {
  const read = await readText(file);
  if ('problem' in read) return { file, docs: [], problems: [{ file, ...read.problem }] };
  return plainSource(file, read.text) ?? (await import('./source.js')).parseWithYaml(file, read.text);
}

/** The first MAX_PROBLEMS_PER_FILE problems of each file (sorted), and one line saying how many more it has. */
function capPerFile(problems: Problem[]): Problem[] {
  const out: Problem[] = [];
  const counts = new Map<string, number>();
  for (const p of problems) {
    const n = (counts.get(p.file) ?? 0) + 1;
    counts.set(p.file, n);
    if (n <= MAX_PROBLEMS_PER_FILE) out.push(p);
    else if (n === MAX_PROBLEMS_PER_FILE + 1) out.push({ ...p, message: '' });
  }
  for (const p of out) {
    if (p.message !== '') continue;
    const more = counts.get(p.file)! - MAX_PROBLEMS_PER_FILE;
    p.message = `…and ${more} more problem${more === 1 ? '' : 's'} in this file (only the first ${MAX_PROBLEMS_PER_FILE} are listed)`;
  }
  return out;
}
