/**
 * The plain reader (src/rules/yaml-plain.ts) against the yaml library: wherever the plain reader reads a file, the
 * yaml library must read it without any problem, to the same value, with every node at the same position.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT, repositoryYamlFiles, seededRandom, yamlFiles } from '../support/fixture-files.js';
import { type SourceDoc, parseSource } from '../../src/rules/source.js';
import { readPlainYaml } from '../../src/rules/yaml-plain.js';

const FILES = repositoryYamlFiles();

type Path = Array<string | number>;

/** Every path of a value, with the paths one step past each (which lead nowhere). */
function paths(value: unknown, base: Path = []): Path[] {
  const out: Path[] = [base, [...base, 'nothing-here'], [...base, 99]];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...base, i])));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...base, k]));
  return out;
}

function valueAt(value: unknown, path: Path): unknown {
  let v = value;
  for (const s of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[s] : undefined;
  return v;
}

/**
 * Reads `text` with the plain reader and with the yaml library, and describes the first difference (undefined when
 * there is none); `read` says whether the plain reader read it.
 */
function compare(text: string): { read: boolean; difference?: string } {
  const plain = readPlainYaml(text);
  if (!plain) return { read: false };
  const fast = parseSource('f.yaml', text);
  // A tab in a comment at the end leaves the text to the yaml library, and moves nothing.
  const full = parseSource('f.yaml', `${text}\n#\t`);
  if (full.problems.length > 0 || full.docs.length !== fast.docs.length)
    return { read: true, difference: `yaml: ${JSON.stringify(full.problems)} (${full.docs.length} documents)` };
  for (let d = 0; d < fast.docs.length; d++) {
    const difference = compareDoc(fast.docs[d]!, full.docs[d]!);
    if (difference) return { read: true, difference };
  }
  return { read: true };
}

function compareDoc(a: SourceDoc, b: SourceDoc): string | undefined {
  if (a.index !== b.index) return `index ${a.index} != ${b.index}`;
  if (!isDeepStrictEqual(a.value, b.value) || JSON.stringify(a.value) !== JSON.stringify(b.value))
    return `value ${JSON.stringify(a.value)} != ${JSON.stringify(b.value)}`;
  for (const path of paths(a.value)) {
    for (const at of ['value', 'key'] as const) {
      const x = a.position(path, at);
      const y = b.position(path, at);
      if (!isDeepStrictEqual(x, y)) return `${at} of ${JSON.stringify(path)}: ${JSON.stringify([x, y])}`;
    }
    const v = valueAt(a.value, path);
    if (typeof v !== 'string') continue;
    for (const offset of [0, 1, Math.floor(v.length / 2), v.length]) {
      if (offset > v.length) continue;
      const x = a.problemInString(path, offset, '');
      const y = b.problemInString(path, offset, '');
      if (x.line !== y.line || x.col !== y.col)
        return `offset ${offset} in ${JSON.stringify(path)}: ${JSON.stringify([x, y])}`;
    }
  }
  return undefined;
}

const INSERTS = [
  ' ',
  '  ',
  '\n',
  ':',
  ': ',
  '-',
  '- ',
  '#',
  ' #',
  '"',
  "'",
  "''",
  '{',
  '}',
  '[',
  ']',
  ',',
  ', ',
  '&a ',
  '*a',
  '!',
  '|',
  '>',
  '?',
  '%',
  '@',
  '`',
  '~',
  '.',
  '0',
  '1.5',
  '0x1',
  '1e3',
  'null',
  'true',
  'x',
  'key: ',
  '\\',
  '\t',
  '---',
  '__proto__: ',
  'True',
  '+1',
  '-1',
  '.5',
  '0o7',
  '{ a: b }',
  '[a, b]',
  'a: b',
  '\r',
];

function mutate(text: string, next: () => number): string {
  const lines = text.split('\n');
  const n = 1 + Math.floor(next() * 3);
  for (let k = 0; k < n; k++) {
    const i = Math.floor(next() * lines.length);
    const line = lines[i] ?? '';
    const r = next();
    if (r < 0.15) lines.splice(i, 1);
    else if (r < 0.25) lines.splice(i, 0, lines[Math.floor(next() * lines.length)] ?? '');
    else if (r < 0.4) lines[i] = ' '.repeat(Math.floor(next() * 4)) + line.trimStart();
    else if (r < 0.5) lines[i] = line.slice(Math.min(line.length, 1 + Math.floor(next() * 2)));
    else {
      const at = Math.floor(next() * (line.length + 1));
      lines[i] = line.slice(0, at) + INSERTS[Math.floor(next() * INSERTS.length)] + line.slice(at);
    }
  }
  return lines.join('\n');
}

describe('the plain YAML reader', () => {
  it('reads the fixtures it reads exactly as the yaml library does, and reads the good ones', () => {
    let read = 0;
    for (const file of FILES) {
      const result = compare(readFileSync(file, 'utf8'));
      expect(result.difference, file).toBeUndefined();
      if (result.read) read++;
    }
    // The good fixtures and the shipped examples are of the plain shape: the fast path is taken for them.
    for (const file of [...yamlFiles(join(ROOT, 'test', 'fixtures', 'slos', 'good')), ...yamlFiles(join(ROOT, 'slos'))])
      expect(readPlainYaml(readFileSync(file, 'utf8')), file).toBeDefined();
    expect(read).toBeGreaterThan(100);
  });

  it('reads mutated fixtures exactly as the yaml library does, or leaves them to it', () => {
    const next = seededRandom(20261128);
    const sources = FILES.map((f) => readFileSync(f, 'utf8')).filter((t) => t.length < 20_000);
    let read = 0;
    let left = 0;
    for (let k = 0; k < 4000; k++) {
      const text = mutate(sources[Math.floor(next() * sources.length)]!, next);
      const result = compare(text);
      expect(result.difference, text).toBeUndefined();
      if (result.read) read++;
      else left++;
    }
    expect(read).toBeGreaterThan(500);
    expect(left).toBeGreaterThan(500);
  });

  it('reads the shapes it is meant for, and leaves the rest to the yaml library', () => {
    const base = 'a: 1\nb:\n  - { c: d, e: [1, 2.50, "x"] }\n  - f: g\n    h: true\n';
    expect(compare(base)).toEqual({ read: true });
    expect(compare(`# c\n---\n${base}---\n# comment\n${base}`)).toEqual({ read: true });
    for (const text of [
      'a: &x 1\nb: *x\n',
      'a: !!str 1\n',
      'a: |\n  text\n',
      'a: "with \\" escape"\n',
      'a:\nb: 1\n',
      'a: 1\na: 2\n',
      'a:\n\t- 1\n',
      'a: 0x1F\n',
      '--- # c\na: 1\n',
      'a: 1\n---\n',
      'a: 1\n---\n# empty\n---\nb: 1\n',
      'a: 1\n...\n',
      'a: multi\n  line\n',
      'a: [1,\n  2]\n',
    ])
      expect(compare(text).read, text).toBe(false);
  });

  it('reads at most 100 documents of a file, and leaves a file with more to the yaml library', () => {
    const docs = (n: number) => Array.from({ length: n }, (_, i) => `a: ${i}\n`).join('---\n');
    expect(compare(docs(100))).toEqual({ read: true });
    expect(compare(`---\n${docs(100)}`)).toEqual({ read: true });
    expect(compare(docs(101)).read).toBe(false);
    expect(compare(`---\n${docs(101)}`).read).toBe(false);
  });
});
