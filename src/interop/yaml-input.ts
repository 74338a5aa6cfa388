/** Other tools' YAML files, read so that every value can be traced back to its line and column. */
import { readFile } from 'node:fs/promises';
import {
  type Document,
  LineCounter,
  type Node as YamlNode,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseAllDocuments,
} from 'yaml';
import type { Problem } from '../rules/index.js';

export type Path = ReadonlyArray<string | number>;

/** The largest file an import reads: specs are small, and a huge file is a mistake, not a spec. */
const MAX_BYTES = 1024 * 1024;

/** One YAML document of an input file, its value, and where each of its nodes sits. */
export class InputDoc {
  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
    readonly value: unknown,
  ) {}

  /** A problem at the node at `path`, or at the nearest ancestor that exists. */
  problem(path: Path, message: string): Problem {
    return { file: this.file, ...this.position(path), message };
  }

  position(path: Path): { line: number; col: number } {
    let node: unknown = this.doc.contents;
    let offset = this.doc.contents?.range?.[0] ?? 0;
    for (const key of path) {
      let next: unknown;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
        next = pair?.value ?? pair?.key;
      } else if (isSeq(node) && typeof key === 'number') {
        next = node.items[key];
      }
      if (next === undefined || next === null) break;
      node = next;
      offset = (node as YamlNode).range?.[0] ?? offset;
    }
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }
}

/** Reads the YAML documents of a file; YAML errors are problems at their position. */
export async function readInput(file: string): Promise<{ docs: InputDoc[]; problems: Problem[] }> {
  const buffer = await readFile(file).catch((e: NodeJS.ErrnoException) => e);
  if (buffer instanceof Error)
    return {
      docs: [],
      problems: [{ file, line: 1, col: 1, message: `cannot read the file: ${buffer.code ?? buffer.message}` }],
    };
  if (buffer.length > MAX_BYTES)
    return { docs: [], problems: [{ file, line: 1, col: 1, message: `the file is larger than 1 MiB` }] };
  const text = buffer.toString('utf8');
  const lines = new LineCounter();
  const problems: Problem[] = [];
  const docs: InputDoc[] = [];
  for (const doc of parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true })) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const { line, col } = lines.linePos(e.pos[0]);
        problems.push({ file, line, col, message: `invalid YAML: ${e.message.split('\n')[0]}` });
      }
      continue;
    }
    if (doc.contents === null) continue;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      problems.push({
        file,
        ...lineCol(lines, doc.contents.range?.[0] ?? 0),
        message: `invalid YAML: ${(e as Error).message}`,
      });
      continue;
    }
    docs.push(new InputDoc(file, doc, lines, value));
  }
  return { docs, problems };
}

function lineCol(lines: LineCounter, offset: number): { line: number; col: number } {
  const { line, col } = lines.linePos(offset);
  return { line, col };
}

/** A plain object, for walking parsed YAML. */
export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
