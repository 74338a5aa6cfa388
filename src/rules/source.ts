/**
 * Reads SLO files with the yaml library: files that the plain reader (source-doc.ts) does not read, with their
 * syntax errors and the guards against hostile YAML (yaml-guards.ts).
 */
import {
  Composer,
  type Document,
  type EmptyStream,
  Lexer,
  LineCounter,
  type Node as YamlNode,
  type Pair,
  type YAMLMap,
  isMap,
  isScalar,
  isSeq,
  Parser,
} from 'yaml';
import { aliasProblem, duplicateKeys, tokenProblem } from './yaml-guards.js';
import type { Problem } from './problem.js';
import { type Located, type Path, type SourceFile, SourceDoc, type Tree, plainSource } from './source-doc.js';

export { type Path, SourceDoc, type SourceFile };

/** The nodes of a yaml Document, found by path. */
class DocumentTree implements Tree {
  readonly root: number;

  constructor(private readonly doc: Document) {
    this.root = doc.contents?.range?.[0] ?? 0;
  }

  /** The pairs of each mapping by key, built on first use: a file with many problems looks up many positions. */
  private readonly pairs = new WeakMap<YAMLMap, Map<string, Pair>>();

  private pair(map: YAMLMap, key: string): Pair | undefined {
    let index = this.pairs.get(map);
    if (!index) {
      index = new Map();
      for (const p of map.items) {
        const k = isScalar(p.key) ? String(p.key.value) : undefined;
        if (k !== undefined && !index.has(k)) index.set(k, p as Pair);
      }
      this.pairs.set(map, index);
    }
    return index.get(key);
  }

  find(path: Path): { node: Located | undefined; key: Located | undefined } {
    let node = this.doc.contents as YamlNode | null;
    let key: YamlNode | undefined;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = this.pair(node, String(segment));
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
    return { node: node ? located(node) : undefined, key: key ? located(key) : undefined };
  }
}

function located(node: YamlNode): Located {
  const range = node.range;
  return {
    start: range?.[0],
    ...(isScalar(node) && range ? { scalar: { type: node.type, end: range[1], value: node.value } } : {}),
  };
}

/** How YAML is read: positions kept, errors collected (duplicate keys are checked by sloe, in linear time). */
const PARSE_OPTIONS = {
  prettyErrors: false,
  uniqueKeys: false,
  // YAML 1.1 tags (!!binary, !!set, !!timestamp…) stay strings: a spec has no use for them.
  resolveKnownTags: false,
  // The yaml library would print its warnings to stderr; sloe reports what matters as problems.
  logLevel: 'error',
} as const;

/** The most YAML documents one file may hold. */
export const MAX_DOCUMENTS = 1000;

/**
 * Parses every YAML document of a file with source positions. Syntax errors, duplicate keys, deep nesting and
 * aliases that refer to nothing, to their own ancestor or to too much become problems; nothing throws.
 */
export function parseSource(file: string, text: string): SourceFile {
  // Most files are of the plain shape that is read in one pass; the others are read by the yaml library.
  return plainSource(file, text) ?? parseWithYaml(file, text);
}

/** parseSource for a file the plain reader gave up on: read by the yaml library. */
export function parseWithYaml(file: string, text: string): SourceFile {
  const problems: Problem[] = [];
  const docs: SourceDoc[] = [];
  // The text is split into tokens once: the guards read them, then the parser.
  const tokens = Array.from(new Lexer().lex(text));
  const shape = tokenProblem(tokens);
  if (shape) return { file, docs, problems: [{ file, ...shape }] };
  const lines = new LineCounter();
  let parsed: Document.Parsed[] | EmptyStream;
  try {
    parsed = parseTokens(tokens, lines);
  } catch (e) {
    return {
      file,
      docs,
      problems: [
        {
          file,
          line: 1,
          col: 1,
          message: `YAML could not be read: ${firstLine(e instanceof Error ? e.message : String(e))}`,
        },
      ],
    };
  }
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return { file, line, col };
  };
  let list = [...parsed];
  if (list.length > MAX_DOCUMENTS) {
    // Each document is checked on its own and against the others: a file of thousands is an attack, not a spec.
    problems.push({
      ...at(list[MAX_DOCUMENTS]!.range?.[0] ?? 0),
      message: `more than ${MAX_DOCUMENTS} documents in one file (${list.length}): split it; the documents from here on are not read`,
    });
    list = list.slice(0, MAX_DOCUMENTS);
  }
  if ('empty' in parsed) {
    // A stream with no documents can still carry errors (e.g. a stray directive).
    for (const e of parsed.errors)
      problems.push({ ...at(e.pos[0]), message: `YAML syntax error: ${firstLine(e.message)}` });
  }
  list.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      for (const e of doc.errors)
        problems.push({ ...at(e.pos[0]), message: `YAML syntax error: ${firstLine(e.message)}` });
      return;
    }
    // Warnings are unresolved tags and the like: a spec means nothing by them, so they are problems too.
    if (doc.warnings.length > 0) {
      for (const w of doc.warnings) problems.push({ ...at(w.pos[0]), message: `YAML: ${firstLine(w.message)}` });
      return;
    }
    if (doc.contents === null) return; // an empty document (a trailing `---`, or comments only)
    const duplicates = duplicateKeys(doc);
    if (duplicates.length > 0) {
      for (const offset of duplicates)
        problems.push({ ...at(offset), message: 'YAML syntax error: Map keys must be unique' });
      return;
    }
    const aliases = aliasProblem(doc);
    if (aliases) {
      problems.push({ ...at(aliases.offset), message: aliases.message });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      problems.push({
        ...at(doc.contents.range?.[0] ?? 0),
        message: `YAML could not be read: ${firstLine(e instanceof Error ? e.message : String(e))}`,
      });
      return;
    }
    docs.push(new SourceDoc(file, index, new DocumentTree(doc), lines, text, value));
  });
  return { file, docs, problems };
}

/** What yaml's parseAllDocuments(text, { ...PARSE_OPTIONS, lineCounter }) returns, from the text's tokens. */
function parseTokens(tokens: readonly string[], lineCounter: LineCounter): Document.Parsed[] | EmptyStream {
  const parser = new Parser(lineCounter.addNewLine);
  const composer = new Composer({ ...PARSE_OPTIONS, lineCounter });
  function* cst() {
    lineCounter.addNewLine(0);
    for (const token of tokens) yield* parser.next(token);
    yield* parser.end();
  }
  const docs = Array.from(composer.compose(cst()));
  return docs.length > 0 ? docs : Object.assign([], { empty: true as const }, composer.streamInfo());
}

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '').trim();
}
