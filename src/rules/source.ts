import { readFile } from 'node:fs/promises';
import {
  type Document,
  LineCounter,
  type Node as YamlNode,
  isMap,
  isScalar,
  isSeq,
  parseAllDocuments,
  Scalar,
} from 'yaml';
import type { Problem } from './problem.js';

export type Path = ReadonlyArray<string | number>;

/** One YAML document of an SLO file; it knows where each of its nodes sits in the file. */
export class SourceDoc {
  constructor(
    readonly file: string,
    readonly index: number,
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly text: string,
    readonly value: unknown,
  ) {}

  /** A problem at the node found at `path` (or its nearest ancestor); `key` points at the key instead of the value. */
  problem(path: Path, message: string, at: 'value' | 'key' = 'value'): Problem {
    return { file: this.file, ...this.position(path, at), message };
  }

  /** A problem at character `offset` inside the string value at `path`. */
  problemInString(path: Path, offset: number, message: string): Problem {
    const node = this.node(path).node;
    const pos = node && isScalar(node) ? this.offsetInScalar(node, offset) : undefined;
    return { file: this.file, ...(pos ?? this.position(path, 'value')), message };
  }

  /** The position of the node at `path` (1-based), or of the closest ancestor that exists. */
  position(path: Path, at: 'value' | 'key' = 'value'): { line: number; col: number } {
    const { node, key } = this.node(path);
    const target = at === 'key' && key ? key : node;
    const offset = target?.range?.[0] ?? this.doc.contents?.range?.[0] ?? 0;
    return this.pos(offset);
  }

  private pos(offset: number): { line: number; col: number } {
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }

  private node(path: Path): { node: YamlNode | undefined; key: YamlNode | undefined } {
    let node = this.doc.contents as YamlNode | null;
    let key: YamlNode | undefined;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
        if (!pair) break;
        key = pair.key as YamlNode;
        node = pair.value as YamlNode | null;
        if (node === null) {
          node = key;
          break;
        }
      } else if (isSeq(node)) {
        const item = node.items[Number(segment)];
        if (item === undefined || item === null) break;
        key = undefined;
        node = item as YamlNode;
      } else {
        break;
      }
    }
    return { node: node ?? undefined, key };
  }

  private offsetInScalar(node: Scalar, offset: number): { line: number; col: number } | undefined {
    const range = node.range;
    if (!range) return undefined;
    const src = this.text.slice(range[0], range[1]);
    switch (node.type) {
      case Scalar.PLAIN:
        return src.includes('\n') ? undefined : this.pos(range[0] + offset);
      case Scalar.QUOTE_SINGLE:
      case Scalar.QUOTE_DOUBLE:
        return src.includes('\n') || src.includes('\\') || src.includes("''")
          ? undefined
          : this.pos(range[0] + 1 + offset);
      case Scalar.BLOCK_LITERAL: {
        const value = String(node.value);
        const before = value.slice(0, offset);
        const lineInValue = before.split('\n').length - 1;
        const colInLine = offset - (before.lastIndexOf('\n') + 1);
        const body = src.split('\n').slice(1);
        const first = body.find((l) => l.trim() !== '') ?? '';
        const indent = first.length - first.trimStart().length;
        const start = this.pos(range[0]);
        return { line: start.line + 1 + lineInValue, col: indent + colInLine + 1 };
      }
      default:
        return undefined;
    }
  }
}

/** The documents of one file, and the problems that kept parts of it from being read. */
export interface SourceFile {
  file: string;
  docs: SourceDoc[];
  problems: Problem[];
}

/** Parses every YAML document of a file with source positions; syntax errors become problems. */
export function parseSource(file: string, text: string): SourceFile {
  const lines = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: Problem[] = [];
  const docs: SourceDoc[] = [];
  const list = [...parsed];
  if ('empty' in parsed) {
    // A stream with no documents can still carry errors (e.g. a stray directive).
    for (const e of parsed.errors) {
      const { line, col } = lines.linePos(e.pos[0]);
      problems.push({ file, line, col, message: `YAML syntax error: ${firstLine(e.message)}` });
    }
  }
  list.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const { line, col } = lines.linePos(e.pos[0]);
        problems.push({ file, line, col, message: `YAML syntax error: ${firstLine(e.message)}` });
      }
      return;
    }
    if (doc.contents === null) return; // an empty document (a trailing `---`, or comments only)
    docs.push(new SourceDoc(file, index, doc, lines, text, doc.toJS({ maxAliasCount: 100 })));
  });
  return { file, docs, problems };
}

/** Reads and parses one file. */
export async function readSource(file: string): Promise<SourceFile> {
  return parseSource(file, await readFile(file, 'utf8'));
}

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '').trim();
}
