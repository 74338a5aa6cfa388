/**
 * One YAML document of an SLO file with the position of each of its nodes, and the reading of files of the plain
 * shape (yaml-plain.ts) into them. Files of any other shape are read by the yaml library (source.ts), which is loaded
 * only for them.
 */
import type { Problem } from './problem.js';
import { type PlainMapping, type PlainNode, readPlainYaml } from './yaml-plain.js';

export type Path = ReadonlyArray<string | number>;

/** A node found at a path: where it starts and, for a scalar, how it was written, where it ends and its value. */
export interface Located {
  start: number | undefined;
  scalar?: { type: string | undefined; end: number; value: unknown };
}

/** Where the nodes of one document sit: a yaml Document's, or those the plain reader noted (yaml-plain.ts). */
export interface Tree {
  /** The start of the document's content. */
  readonly root: number;
  find(path: Path): { node: Located | undefined; key: Located | undefined };
}

/** One YAML document of an SLO file; it knows where each of its nodes sits in the file. */
export class SourceDoc {
  constructor(
    readonly file: string,
    readonly index: number,
    private readonly tree: Tree,
    private readonly lines: { linePos(offset: number): { line: number; col: number } },
    readonly text: string,
    readonly value: unknown,
  ) {}

  /** A problem at the node found at `path` (or its nearest ancestor); `key` points at the key instead of the value. */
  problem(path: Path, message: string, at: 'value' | 'key' = 'value'): Problem {
    return { file: this.file, ...this.position(path, at), message };
  }

  /** A problem at character `offset` inside the string value at `path`. */
  problemInString(path: Path, offset: number, message: string): Problem {
    const scalar = this.tree.find(path).node;
    const pos = scalar?.scalar && scalar.start !== undefined ? this.offsetInScalar(scalar, offset) : undefined;
    return { file: this.file, ...(pos ?? this.position(path, 'value')), message };
  }

  /** The position of the node at `path` (1-based), or of the closest ancestor that exists. */
  position(path: Path, at: 'value' | 'key' = 'value'): { line: number; col: number } {
    const { node, key } = this.tree.find(path);
    const target = at === 'key' && key ? key : node;
    return this.pos(target?.start ?? this.tree.root);
  }

  private pos(offset: number): { line: number; col: number } {
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }

  private offsetInScalar(node: Located, offset: number): { line: number; col: number } | undefined {
    const start = node.start!;
    const { type, end, value } = node.scalar!;
    const src = this.text.slice(start, end);
    switch (type) {
      case 'PLAIN':
        return src.includes('\n') ? undefined : this.pos(start + offset);
      case 'QUOTE_SINGLE':
      case 'QUOTE_DOUBLE':
        return src.includes('\n') || src.includes('\\') || src.includes("''")
          ? undefined
          : this.pos(start + 1 + offset);
      case 'BLOCK_LITERAL': {
        const before = String(value).slice(0, offset);
        const lineInValue = before.split('\n').length - 1;
        const colInLine = offset - (before.lastIndexOf('\n') + 1);
        const body = src.split('\n').slice(1);
        const first = body.find((l) => l.trim() !== '') ?? '';
        const indent = first.length - first.trimStart().length;
        const begin = this.pos(start);
        return { line: begin.line + 1 + lineInValue, col: indent + colInLine + 1 };
      }
      default:
        return undefined;
    }
  }
}

/** The nodes the plain reader noted, found by path as in a yaml Document. */
class PlainTree implements Tree {
  readonly root: number;

  constructor(private readonly top: PlainNode) {
    this.root = top.start;
  }

  find(path: Path): { node: Located | undefined; key: Located | undefined } {
    let node = this.top;
    // The mapping and index of the last step's key, if that step was into a mapping.
    let key: { mapping: PlainMapping; i: number } | undefined;
    for (const segment of path) {
      if ('keys' in node) {
        const i = node.keys.indexOf(String(segment));
        if (i < 0) break;
        key = { mapping: node, i };
        node = node.values[i]!;
      } else if ('items' in node) {
        const item = node.items[Number(segment)];
        if (item === undefined) break;
        key = undefined;
        node = item;
      } else {
        break;
      }
    }
    return {
      node: 'type' in node ? { start: node.start, scalar: node } : node,
      key: key && keyNode(key.mapping, key.i),
    };
  }
}

/** The `i`th key of a mapping as a node: a plain word, which ends its own length after where it starts. */
function keyNode(mapping: PlainMapping, i: number): Located {
  const name = mapping.keys[i]!;
  const start = mapping.keyStarts[i]!;
  return { start, scalar: { type: 'PLAIN', end: start + name.length, value: name } };
}

/** The documents of one file, and the problems that kept parts of it from being read. */
export interface SourceFile {
  file: string;
  docs: SourceDoc[];
  problems: Problem[];
}

/** Line and column (1-based) of an offset, as the yaml library's LineCounter gives them. */
export class LineStarts {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }

  linePos(offset: number): { line: number; col: number } {
    let low = 0;
    let high = this.starts.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.starts[mid]! < offset) low = mid + 1;
      else high = mid;
    }
    if (this.starts[low] === offset) return { line: low + 1, col: 1 };
    if (low === 0) return { line: 0, col: offset };
    return { line: low, col: offset - this.starts[low - 1]! + 1 };
  }
}

/** The documents of a file of the plain shape, or undefined for a file that the yaml library has to read. */
export function plainSource(file: string, text: string): SourceFile | undefined {
  const plain = readPlainYaml(text);
  if (!plain) return undefined;
  const lines = new LineStarts(text);
  return {
    file,
    docs: plain.map((d) => new SourceDoc(file, d.index, new PlainTree(d.root), lines, text, d.value)),
    problems: [],
  };
}
