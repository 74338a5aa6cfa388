/**
 * The SLO files of a git revision: the blobs below the given paths, read with git from the repository the paths
 * live in and written to a temporary directory, so that they load like any other files.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UsageError } from '../rules/index.js';

/** A snapshot of spec paths at some base, ready to load. */
export interface BaseSpecs {
  /** How to call the base in output: the ref as given, or the directory. */
  label: string;
  /** The commit the ref named (git bases only). */
  commit?: string;
  /** Where the base's files are now; paths that did not exist at the base are left out. */
  paths: string[];
  /** Turns a path below `paths` back into how the base calls it (`REF:slos/x.yaml`), for messages. */
  display(file: string): string;
  /** Removes the temporary copy. */
  dispose(): Promise<void>;
}

function git(cwd: string, args: string[], encoding: 'utf8' | 'buffer' = 'utf8'): Promise<string | Buffer> {
  return new Promise((resolvePromise, reject) => {
    execFile('git', args, { cwd, encoding, maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const detail = String(stderr).trim() || error.message;
        reject(new Error(`git ${args[0]} failed: ${detail}`, { cause: error }));
      } else resolvePromise(stdout);
    });
  });
}

/**
 * The base of `sloe backtest --base`: an existing directory is the base's SLO files themselves; anything else is a
 * git revision of the repository that holds `paths`, whose files below those same paths are the base.
 */
export async function baseSpecs(base: string, paths: readonly string[]): Promise<BaseSpecs> {
  const asDir = await stat(base).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (asDir) return { label: base, paths: [base], display: (f) => f, dispose: async () => {} };
  if (base === '' || base.startsWith('-') || /[\s\0]/.test(base))
    throw new UsageError(`--base must be a git revision or a directory (got ${JSON.stringify(base)})`);

  const first = resolve(paths[0] ?? '.');
  const from = await stat(first).then(
    (s) => (s.isDirectory() ? first : dirname(first)),
    () => dirname(first),
  );
  let top: string;
  try {
    top = await realpath(String(await git(from, ['rev-parse', '--show-toplevel'])).trim());
  } catch (e) {
    throw new UsageError(
      `--base ${base}: neither a directory nor usable as a git revision, as ${from} is not in a git repository (${(e as Error).message})`,
    );
  }
  let commit: string;
  try {
    commit = String(
      await git(top, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${base}^{commit}`]),
    ).trim();
  } catch {
    throw new UsageError(
      `--base ${base}: no such directory, and no such git revision in ${top} (a shallow clone may need \`git fetch\` of it)`,
    );
  }

  const relPaths: string[] = [];
  for (const p of paths) {
    const abs = await realpath(resolve(p)).catch(() => resolve(p));
    const rel = relative(top, abs);
    if (rel.startsWith('..') || isAbsolute(rel))
      throw new UsageError(`--base ${base}: ${p} is outside the git repository ${top}`);
    relPaths.push(rel);
  }
  const dir = await mkdtemp(join(tmpdir(), 'sloe-base-'));
  try {
    // -z: NUL-separated "mode type object\tpath"; only regular blobs are specs (links and submodules are not followed).
    const listing = String(
      await git(top, ['ls-tree', '-r', '-z', '--full-tree', commit, '--', ...relPaths.map((r) => r || '.')]),
    );
    for (const entry of listing.split('\0')) {
      const m = /^(\d+) blob ([0-9a-f]+)\t(.+)$/s.exec(entry);
      if (!m || (m[1] !== '100644' && m[1] !== '100755')) continue;
      const target = join(dir, m[3]!);
      if (!target.startsWith(dir + sep)) continue;
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, (await git(top, ['cat-file', 'blob', m[2]!], 'buffer')) as Buffer);
    }
    const present: string[] = [];
    for (const rel of relPaths) {
      const p = join(dir, rel);
      if (
        await stat(p).then(
          () => true,
          () => false,
        )
      )
        present.push(p);
    }
    return {
      label: base,
      commit,
      paths: present,
      display: (f) => (f.startsWith(dir + sep) ? `${base}:${relative(dir, f).split(sep).join('/')}` : f),
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
