/**
 * Checks that keep a hostile YAML file from costing more than its size: nesting depth (measured on the token stream
 * before anything is built), duplicate keys (in linear time; the yaml library's own check is quadratic), and aliases
 * (unresolved, self-containing, too many, or expanding to too much: the billion laughs).
 */
import { CST, type Document, Lexer, isAlias, isMap, isPair, isScalar, isSeq, visit } from 'yaml';

/** Deeper than this is refused before parsing: sloe documents are a handful of levels deep. */
export const MAX_DEPTH = 64;
/**
 * The longest single token (a value, a comment, a run of spaces) read: the longest field takes 4 KiB. Parsing one
 * long quoted string costs the yaml library more than linear time, so long ones are refused before parsing.
 */
export const MAX_TOKEN = 64 * 1024;
/** Alias uses per document; more are refused (the yaml library's own default limit). */
export const MAX_ALIASES = 100;
/** Nodes a document may grow to once its aliases are expanded (an alias bomb grows exponentially). */
export const MAX_EXPANDED_NODES = 100_000;

/**
 * Where a file first nests deeper than MAX_DEPTH, or holds a token longer than MAX_TOKEN (line and column, 1-based),
 * or undefined. Reads the yaml library's token stream (of the text, or the tokens of a text already split), which is
 * linear and builds nothing.
 */
export function tokenProblem(
  text: string | Iterable<string>,
): { line: number; col: number; message: string } | undefined {
  let offset = 0;
  let line = 1;
  let lineStart = 0;
  let flow = 0;
  // Columns of the block collections open around the current position (a child is indented more than its parent).
  const blocks: number[] = [];
  // Column of the node that started last on this line, outside flow collections: a mapping key's column.
  let nodeCol: number | undefined;
  const open = (col: number): boolean => {
    while (blocks.length > 0 && blocks[blocks.length - 1]! > col) blocks.pop();
    if (blocks.length === 0 || blocks[blocks.length - 1]! < col) blocks.push(col);
    return blocks.length + flow > MAX_DEPTH;
  };
  const fail = () => ({
    line,
    col: offset - lineStart + 1,
    message: `nesting deeper than ${MAX_DEPTH} levels: sloe documents need a handful; the file is not read further`,
  });
  for (const token of typeof text === 'string' ? new Lexer().lex(text) : text) {
    const type = CST.tokenType(token);
    if (type === 'doc-mode' || type === 'scalar' || type === 'flow-error-end') continue; // markers, not text
    const col = offset - lineStart;
    if (token.length > MAX_TOKEN) {
      return {
        line,
        col: col + 1,
        message: `a value, comment or run of spaces longer than ${MAX_TOKEN / 1024} KiB (an unclosed quote?): no field of a spec takes that much; the file is not read further`,
      };
    }
    switch (type) {
      case 'doc-start':
      case 'doc-end':
        blocks.length = 0;
        flow = 0;
        nodeCol = undefined;
        break;
      case 'flow-seq-start':
      case 'flow-map-start':
        nodeCol ??= col;
        flow++;
        if (blocks.length + flow > MAX_DEPTH) return fail();
        break;
      case 'flow-seq-end':
      case 'flow-map-end':
        flow = Math.max(0, flow - 1);
        break;
      case 'seq-item-ind':
      case 'explicit-key-ind':
        if (flow === 0) {
          if (open(col)) return fail();
          nodeCol = undefined;
        }
        break;
      case 'map-value-ind':
        if (flow === 0) {
          if (open(nodeCol ?? col)) return fail();
          nodeCol = undefined;
        }
        break;
      case 'space':
      case 'newline':
      case 'comment':
      case 'comma':
      case 'byte-order-mark':
      case 'directive-line':
        break;
      default:
        // Scalars, quoted scalars, aliases, anchors, tags: where a node starts.
        if (flow === 0) nodeCol ??= col;
    }
    const nl = token.lastIndexOf('\n');
    if (nl >= 0) {
      for (let i = token.indexOf('\n'); i >= 0; i = token.indexOf('\n', i + 1)) line++;
      lineStart = offset + nl + 1;
      nodeCol = undefined;
    }
    offset += token.length;
  }
  return undefined;
}

/** The offsets of keys repeated within one mapping (compared as YAML does: same type, same value). */
export function duplicateKeys(doc: Document): number[] {
  const offsets: number[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const id = `${typeof pair.key.value}:${String(pair.key.value)}`;
        if (seen.has(id)) offsets.push(pair.key.range?.[0] ?? 0);
        else seen.add(id);
      }
    },
  });
  return offsets;
}

/**
 * The first alias of a document that refers to no anchor before it, sits inside the node it refers to, is one too
 * many, or makes the document expand beyond MAX_EXPANDED_NODES. Linear in the document (nesting is bounded first).
 */
export function aliasProblem(doc: Document): { offset: number; message: string } | undefined {
  const anchors = new Map<string, unknown>();
  const sizes = new Map<unknown, number>();
  const ancestors = new Set<unknown>();
  let aliases = 0;
  let expanded = 0;
  let problem: { offset: number; message: string } | undefined;
  const walk = (node: unknown): number => {
    if (problem !== undefined || node === null || node === undefined) return 1;
    if (isAlias(node)) {
      const offset = node.range?.[0] ?? 0;
      const target = anchors.get(node.source);
      if (target === undefined) {
        problem = { offset, message: `alias *${node.source} refers to no anchor &${node.source} before it` };
      } else if (ancestors.has(target)) {
        problem = {
          offset,
          message: `alias *${node.source} is inside the node it refers to: the value would contain itself`,
        };
      } else if (++aliases > MAX_ALIASES) {
        problem = {
          offset,
          message: `more than ${MAX_ALIASES} alias uses in this document (*${node.source} here): YAML expands every alias, so sloe refuses more (a guard against alias bombs); write the value out or split the document`,
        };
      } else {
        const size = sizes.get(target) ?? 1;
        expanded += size;
        if (expanded > MAX_EXPANDED_NODES) {
          problem = {
            offset,
            message: `aliases in this document expand to more than ${MAX_EXPANDED_NODES.toLocaleString('en')} nodes (*${node.source} here): an alias bomb is refused; write the values out`,
          };
        }
        return size;
      }
      return 1;
    }
    if (isPair(node)) return walk(node.key) + walk(node.value);
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor) anchors.set(anchor, node);
    let size = 1;
    if (isMap(node) || isSeq(node)) {
      ancestors.add(node);
      for (const item of node.items) size += walk(item);
      ancestors.delete(node);
    }
    size = Math.min(size, MAX_EXPANDED_NODES + 1);
    sizes.set(node, size);
    return size;
  };
  walk(doc.contents);
  return problem;
}
