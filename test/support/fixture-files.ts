/** The YAML files the repository holds (fixtures, shipped examples) and a seeded generator, for tests that mutate them. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');

/** Every *.yaml / *.yml below `dir`. */
export function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

/** The fixtures of test/fixtures and the examples of slos/ and docs/examples, sorted. */
export function repositoryYamlFiles(): string[] {
  return [join(ROOT, 'test', 'fixtures'), join(ROOT, 'slos'), join(ROOT, 'docs', 'examples')].flatMap(yamlFiles).sort();
}

/** Numbers in [0, 1) from a seed (mulberry32), so that a failure can be replayed. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
