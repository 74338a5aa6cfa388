/**
 * A fast reader for the plain shape most SLO files have: one document of block mappings and sequences, flow
 * collections on one line, and one-line plain or quoted scalars. It builds the value and the position of every node
 * in one pass over the text, where the yaml library lexes, parses, composes a Document and converts it.
 *
 * It reads nothing it is not sure of: anything else (anchors, tags, block scalars, several documents, multi-line
 * scalars, escapes, empty values, duplicate keys, tabs, unusual indentation, numbers other than plain decimals…)
 * makes it give up, and the file is read by the yaml library as before, with its problems and positions. Where it
 * does read a file, the value and every position are the yaml library's (test/rules/yaml-plain.test.ts compares
 * the two on every fixture and on mutations of them).
 */

/**
 * A node of the document and where it starts: a scalar also says how it was written and where it ends, a mapping
 * holds its keys (plain words: each ends its own length after where it starts) in order with their nodes. One object
 * per node, kept flat: a thousand SLOs are tens of thousands of them.
 */
export type PlainNode = PlainScalar | PlainMapping | PlainSequence;

export interface PlainScalar {
  readonly start: number;
  readonly type: 'PLAIN' | 'QUOTE_DOUBLE' | 'QUOTE_SINGLE';
  readonly end: number;
  readonly value: unknown;
}

export interface PlainMapping {
  readonly start: number;
  readonly keys: string[];
  readonly keyStarts: number[];
  readonly values: PlainNode[];
}

export interface PlainSequence {
  readonly start: number;
  readonly items: PlainNode[];
}

/** The longest text read here (the most an SLO file may hold); the yaml library and its limits take longer ones. */
const MAX_TEXT = 1024 * 1024;
/** The longest line read here: no token of a shorter line is longer than the yaml guards allow (MAX_TOKEN). */
const MAX_LINE = 64 * 1024;
/** Deeper nesting is left to the yaml library (and its depth guard). */
const MAX_NESTING = 24;

/** Characters that are not read here: tabs, carriage returns, other control characters, BOMs and Unicode breaks. */
const UNREAD = /[\t\r\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]/;
/** A mapping key read here: a plain word that the YAML core schema resolves to a string. */
const KEY = /[A-Za-z_][A-Za-z0-9_.\/-]*/y;
const NOT_STRING_KEY = new Set([
  'null',
  'Null',
  'NULL',
  'true',
  'True',
  'TRUE',
  'false',
  'False',
  'FALSE',
  '__proto__',
]);
/** First characters of a plain scalar that are left to the yaml library (indicators, signs and dots). */
const SPECIAL_START = /[-?:,[\]{}#&*!|>'"%@`~+.]/;
const INT = /^[0-9]+$/;
const FLOAT = /^[0-9]+\.[0-9]*$/;
/** Other core-schema forms of a plain scalar that starts with a digit (hex, octal, exponent): left to yaml. */
const OTHER_NUMBER = /^(?:0x[0-9a-fA-F]+|0o[0-7]+|[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+)$/;

class GiveUp extends Error {}
const giveUp = (): never => {
  throw new GiveUp();
};

interface Line {
  /** Offset of the line's first character, of its first non-space character, and of its end (before `\n`). */
  start: number;
  content: number;
  end: number;
}

/** One document of a file: its index among the file's documents, its value and its nodes. */
export type PlainDocument = { index: number; value: unknown; root: PlainNode };

/** The documents of a file with their values and nodes, or undefined when the file is not of the plain shape. */
export function readPlainYaml(text: string): PlainDocument[] | undefined {
  if (text.length > MAX_TEXT || UNREAD.test(text)) return undefined;
  try {
    const reader = new Reader(text);
    return reader.documents.map((lines, index) => ({ index, ...reader.read(lines) }));
  } catch (e) {
    if (e instanceof GiveUp) return undefined;
    throw e;
  }
}

/** The most documents of a file read here (a file with more is left to the yaml library and its limit). */
const MAX_DOCUMENTS = 100;

class Reader {
  /** The content lines of each document (comment and blank lines left out). */
  readonly documents: Line[][] = [];
  private lines: Line[] = [];
  private i = 0;

  constructor(private readonly text: string) {
    let current: Line[] = [];
    let started = false;
    let start = 0;
    while (start <= text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      if (end - start > MAX_LINE) giveUp();
      let content = start;
      while (content < end && text.charCodeAt(content) === 32) content++;
      if (content === start && text.startsWith('---', start)) {
        // A document marker alone on its line starts the next document; other markers are left to yaml.
        if (end !== start + 3 || this.documents.length + (started ? 1 : 0) >= MAX_DOCUMENTS) giveUp();
        if (started) this.document(current);
        current = [];
        started = true;
      } else if (content < end && text[content] !== '#') {
        // Blank lines and comment lines hold no content; document ends and directives are left to yaml.
        if (content === start && (text[start] === '%' || text.startsWith('...', start))) giveUp();
        current.push({ start, content, end });
        started = true;
      }
      start = end + 1;
    }
    if (started) this.document(current);
  }

  /** An empty document (a marker with nothing after it) is left to yaml, which makes it a null document. */
  private document(lines: Line[]): void {
    if (lines.length === 0) giveUp();
    this.documents.push(lines);
  }

  /** The value and nodes of one document of content lines. */
  read(lines: Line[]): { value: unknown; root: PlainNode } {
    this.lines = lines;
    this.i = 0;
    const first = lines[0]!;
    if (!this.isKey(first.content, first.end)) giveUp();
    const node = this.map(first.content, 0);
    if (this.i < lines.length) giveUp();
    return node;
  }

  private col(line: Line, offset: number): number {
    return offset - line.start;
  }

  /** Whether `key:` (then a space or the end of the line) starts at `at`. */
  private isKey(at: number, end: number): boolean {
    KEY.lastIndex = at;
    if (!KEY.test(this.text)) return false;
    const after = KEY.lastIndex;
    return this.text[after] === ':' && (after + 1 === end || this.text[after + 1] === ' ');
  }

  /** A block mapping whose first key starts at `at`, on the current line. */
  private map(at: number, depth: number): { value: unknown; root: PlainNode } {
    if (depth > MAX_NESTING) giveUp();
    const line0 = this.lines[this.i]!;
    const column = this.col(line0, at);
    const value: Record<string, unknown> = {};
    const node: PlainMapping = { start: at, keys: [], keyStarts: [], values: [] };
    let pos = at;
    for (;;) {
      const line = this.lines[this.i]!;
      KEY.lastIndex = pos;
      if (!KEY.test(this.text)) giveUp();
      const keyEnd = KEY.lastIndex;
      const key = this.text.slice(pos, keyEnd);
      if (
        this.text[keyEnd] !== ':' ||
        !(keyEnd + 1 === line.end || this.text[keyEnd + 1] === ' ') ||
        NOT_STRING_KEY.has(key) ||
        key.length > 256 ||
        Object.hasOwn(value, key)
      )
        giveUp();
      let rest = keyEnd + 1;
      while (rest < line.end && this.text.charCodeAt(rest) === 32) rest++;
      let item: { value: unknown; root: PlainNode };
      if (rest < line.end && this.text[rest] !== '#') {
        item = this.inline(rest, line.end, depth + 1);
        this.i++;
      } else {
        if (rest < line.end && rest === keyEnd + 1) giveUp(); // `key:#…` is not a comment
        this.i++;
        const next = this.lines[this.i];
        if (!next) giveUp();
        const nextCol = this.col(next!, next!.content);
        if (nextCol > column) item = this.block(depth + 1);
        else if (nextCol === column && this.isItem(next!)) item = this.seq(depth + 1);
        else item = giveUp();
      }
      value[key] = item.value;
      node.keys.push(key);
      node.keyStarts.push(pos);
      node.values.push(item.root);
      const next = this.lines[this.i];
      if (!next) break;
      const nextCol = this.col(next, next.content);
      if (nextCol < column) break;
      if (nextCol > column || this.isItem(next)) giveUp();
      pos = next.content;
    }
    return { value, root: node };
  }

  private isItem(line: Line): boolean {
    return this.text[line.content] === '-' && (line.content + 1 === line.end || this.text[line.content + 1] === ' ');
  }

  /** A block collection starting on the current line, below a key. */
  private block(depth: number): { value: unknown; root: PlainNode } {
    const line = this.lines[this.i]!;
    if (this.isItem(line)) return this.seq(depth);
    if (this.isKey(line.content, line.end)) return this.map(line.content, depth);
    return giveUp();
  }

  /** A block sequence whose first `-` starts the current line. */
  private seq(depth: number): { value: unknown; root: PlainNode } {
    if (depth > MAX_NESTING) giveUp();
    const first = this.lines[this.i]!;
    const column = this.col(first, first.content);
    const value: unknown[] = [];
    const items: PlainNode[] = [];
    for (;;) {
      const line = this.lines[this.i]!;
      let at = line.content + 1;
      while (at < line.end && this.text.charCodeAt(at) === 32) at++;
      if (at >= line.end || this.text[at] === '#') giveUp(); // the item on the next lines, or empty
      let item: { value: unknown; root: PlainNode };
      if (this.isKey(at, line.end)) {
        item = this.map(at, depth + 1);
      } else {
        if (this.text[at] === '-' && (at + 1 === line.end || this.text[at + 1] === ' ')) giveUp();
        item = this.inline(at, line.end, depth + 1);
        this.i++;
      }
      value.push(item.value);
      items.push(item.root);
      const next = this.lines[this.i];
      if (!next) break;
      const nextCol = this.col(next, next.content);
      if (nextCol < column) break;
      if (nextCol > column) giveUp();
      if (!this.isItem(next)) break; // the key after a sequence at its mapping's column
    }
    return { value, root: { start: first.content, items } };
  }

  /** A scalar or flow collection from `at` to the end of its line (a comment may follow). */
  private inline(at: number, end: number, depth: number): { value: unknown; root: PlainNode } {
    const c = this.text[at]!;
    if (c === '[' || c === '{') {
      const result = this.flow(at, end, depth);
      this.lineEnd(result.next, end);
      return result;
    }
    if (c === '"' || c === "'") {
      const result = this.quoted(at, end);
      this.lineEnd(result.next, end);
      return result;
    }
    if (SPECIAL_START.test(c)) giveUp();
    // A plain scalar ends where a comment starts (` #`; the scalar's own first character is no `#`); `: ` inside
    // would be a mapping on one line.
    const rest = this.text.slice(at, end);
    const comment = rest.indexOf(' #');
    let last = comment >= 0 ? at + comment + 1 : end;
    while (last > at && this.text.charCodeAt(last - 1) === 32) last--;
    const source = last === end ? rest : this.text.slice(at, last);
    if (source.includes(': ') || source.endsWith(':')) giveUp();
    const value = plainValue(source);
    return { value, root: { start: at, type: 'PLAIN', end: last, value } };
  }

  /** Only spaces, or spaces and a comment, from `at` to `end`. */
  private lineEnd(at: number, end: number): void {
    let p = at;
    while (p < end && this.text.charCodeAt(p) === 32) p++;
    if (p < end && (this.text[p] !== '#' || p === at)) giveUp();
  }

  private quoted(at: number, end: number): { value: unknown; root: PlainNode; next: number } {
    const q = this.text[at]!;
    let close = at + 1;
    let value: string;
    if (q === '"') {
      close = this.text.indexOf('"', at + 1);
      if (close < 0 || close >= end) giveUp();
      value = own(this.text.slice(at + 1, close));
      if (value.includes('\\')) giveUp();
    } else {
      for (;;) {
        close = this.text.indexOf("'", close);
        if (close < 0 || close >= end) giveUp();
        if (this.text[close + 1] !== "'") break;
        close += 2;
      }
      value = own(this.text.slice(at + 1, close).replaceAll("''", "'"));
    }
    return {
      value,
      root: { start: at, type: q === '"' ? 'QUOTE_DOUBLE' : 'QUOTE_SINGLE', end: close + 1, value },
      next: close + 1,
    };
  }

  /** A flow collection on one line, from `at`; `next` is the offset after its closing bracket. */
  private flow(at: number, end: number, depth: number): { value: unknown; root: PlainNode; next: number } {
    if (depth > MAX_NESTING) giveUp();
    const isMap = this.text[at] === '{';
    const close = isMap ? '}' : ']';
    const skip = (p: number) => {
      while (p < end && this.text.charCodeAt(p) === 32) p++;
      return p;
    };
    const map: Record<string, unknown> = {};
    const mapping: PlainMapping = { start: at, keys: [], keyStarts: [], values: [] };
    const list: unknown[] = [];
    const items: PlainNode[] = [];
    let p = skip(at + 1);
    if (this.text[p] !== close) {
      for (;;) {
        let key: string | undefined;
        let keyStart = 0;
        if (isMap) {
          KEY.lastIndex = p;
          if (!KEY.test(this.text)) giveUp();
          const keyEnd = KEY.lastIndex;
          key = this.text.slice(p, keyEnd);
          if (
            this.text[keyEnd] !== ':' ||
            this.text[keyEnd + 1] !== ' ' ||
            NOT_STRING_KEY.has(key) ||
            Object.hasOwn(map, key)
          )
            giveUp();
          keyStart = p;
          p = skip(keyEnd + 1);
        }
        const item = this.flowItem(p, end, depth);
        if (key !== undefined) {
          map[key] = item.value;
          mapping.keys.push(key);
          mapping.keyStarts.push(keyStart);
          mapping.values.push(item.root);
        } else {
          list.push(item.value);
          items.push(item.root);
        }
        p = skip(item.next);
        if (this.text[p] === close) break;
        if (this.text[p] !== ',') giveUp();
        p = skip(p + 1);
        if (this.text[p] === close || this.text[p] === ',') giveUp(); // a trailing or empty entry
      }
    }
    return isMap
      ? { value: map, root: mapping, next: p + 1 }
      : { value: list, root: { start: at, items }, next: p + 1 };
  }

  private flowItem(at: number, end: number, depth: number): { value: unknown; root: PlainNode; next: number } {
    if (at >= end) giveUp();
    const c = this.text[at]!;
    if (c === '[' || c === '{') return this.flow(at, end, depth + 1);
    if (c === '"' || c === "'") {
      const result = this.quoted(at, end);
      const after = this.text[result.next];
      if (after !== ' ' && after !== ',' && after !== ']' && after !== '}') giveUp();
      return result;
    }
    if (SPECIAL_START.test(c)) giveUp();
    let p = at;
    for (; p < end; p++) {
      const ch = this.text[p]!;
      if (ch === ',' || ch === ']' || ch === '}') break;
      if (ch === '[' || ch === '{') giveUp();
      if (ch === '#' && this.text[p - 1] === ' ') giveUp();
      // `:` inside a plain scalar in a flow collection only before a character that cannot end it.
      if (ch === ':') {
        const n = this.text[p + 1];
        if (
          n === undefined ||
          p + 1 >= end ||
          n === ' ' ||
          n === ',' ||
          n === ']' ||
          n === '}' ||
          n === '[' ||
          n === '{'
        )
          giveUp();
      }
    }
    if (p >= end) giveUp();
    let last = p;
    while (last > at && this.text.charCodeAt(last - 1) === 32) last--;
    const source = this.text.slice(at, last);
    const value = plainValue(source);
    return { value, root: { start: at, type: 'PLAIN', end: last, value }, next: last };
  }
}

/** What the YAML core schema makes of a plain scalar (one that starts with no sign, dot or indicator). */
function plainValue(source: string): unknown {
  const c = source.charCodeAt(0);
  if (c >= 48 && c <= 57) {
    if (INT.test(source)) return Number.parseInt(source, 10);
    if (FLOAT.test(source)) return Number.parseFloat(source);
    if (OTHER_NUMBER.test(source)) giveUp();
    return own(source);
  }
  switch (source) {
    case 'null':
    case 'Null':
    case 'NULL':
      return null;
    case 'true':
    case 'True':
    case 'TRUE':
      return true;
    case 'false':
    case 'False':
    case 'FALSE':
      return false;
  }
  return own(source);
}

/**
 * The characters of a string read from the text, as a string of their own. A long `slice` of a string is a view that
 * keeps the whole text alive (V8's sliced strings), and the values read here (names, queries) stay in the
 * configuration for as long as the engine runs it: a file of 2,000 SLOs would stay in memory in full. Slicing a
 * concatenation copies the characters into a string of the concatenation's length first, so the view holds that
 * instead. Shorter slices are copies already.
 */
function own(text: string): string {
  return text.length < 13 ? text : `${text} `.slice(0, -1);
}
