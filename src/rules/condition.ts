/** Alert and objective conditions: `< 3.5`, `>= 30%`, and, relative to a baseline, `drop > 5` or `rise > 20%`. */

import { BoundedMap } from '../util/bounded-map.js';

export type Comparator = '<' | '<=' | '>' | '>=';

/** A comparison of a value against a fixed number. */
export interface Threshold {
  kind: 'threshold';
  op: Comparator;
  value: number;
  text: string;
}

/** A comparison of how far a value moved away from its baseline. */
export interface Change {
  kind: 'change';
  direction: 'drop' | 'rise';
  op: '>' | '>=';
  value: number;
  /** True when `value` is a share of the baseline (`drop > 10%`), false for an absolute amount. */
  relative: boolean;
  text: string;
}

export type Condition = Threshold | Change;

const NUMBER = String.raw`[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?`;

/**
 * The pattern of a condition string, for the JSON Schema (editors). Written so that no two neighbouring repeats can
 * match the same characters, which keeps backtracking linear; sloe itself parses conditions with parseCondition.
 */
export const CONDITION_PATTERN = String.raw`^\s*(?:<=|>=|<|>|(?:drop|rise)\s*(?:>=|>))\s*${NUMBER}(?:\s*%)?\s*$`;

/** The pattern of a percentage such as `99.9%`, for the JSON Schema. */
export const PERCENT_PATTERN = String.raw`^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*%\s*$`;

/** Reads a condition or percentage left to right, never going back: time linear in the text. */
class Scanner {
  private i = 0;

  constructor(private readonly s: string) {}

  spaces(): void {
    while (this.i < this.s.length && isSpace(this.s.charCodeAt(this.i))) this.i++;
  }

  /** Takes `word` if the text continues with it. */
  take(word: string): boolean {
    if (!this.s.startsWith(word, this.i)) return false;
    this.i += word.length;
    return true;
  }

  /** The first of `words` the text continues with (list longer words first). */
  oneOf<T extends string>(words: readonly T[]): T | undefined {
    return words.find((w) => this.take(w));
  }

  /** A number: optional sign, digits with an optional fraction (or a fraction alone), optional exponent. */
  number(): number | undefined {
    const start = this.i;
    if (this.s[this.i] === '+' || this.s[this.i] === '-') this.i++;
    const whole = this.digits();
    let fraction = 0;
    if (this.s[this.i] === '.') {
      this.i++;
      fraction = this.digits();
    }
    if (whole === 0 && fraction === 0) return undefined;
    if (this.s[this.i] === 'e' || this.s[this.i] === 'E') {
      const mark = this.i++;
      if (this.s[this.i] === '+' || this.s[this.i] === '-') this.i++;
      if (this.digits() === 0) this.i = mark;
    }
    const value = Number(this.s.slice(start, this.i));
    return Number.isFinite(value) ? value : undefined;
  }

  /** True when only spaces are left. */
  done(): boolean {
    this.spaces();
    return this.i === this.s.length;
  }

  private digits(): number {
    const start = this.i;
    while (this.i < this.s.length && this.s.charCodeAt(this.i) >= 0x30 && this.s.charCodeAt(this.i) <= 0x39) this.i++;
    return this.i - start;
  }
}

/** What `\s` matches in a JavaScript regular expression. */
function isSpace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x20 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

const COMPARATORS = ['<=', '>=', '<', '>'] as const;
const CHANGE_OPS = ['>=', '>'] as const;

/** The most texts whose reading is kept: specs repeat a handful of conditions and percentages over many SLOs. */
const MAX_KEPT = 1024;

/** `read`, with what it made of each of the last MAX_KEPT texts kept. */
function kept<T>(read: (text: string) => T): (text: string) => T {
  const cache = new BoundedMap<string, T>(MAX_KEPT);
  return (text) => {
    if (cache.has(text)) return cache.get(text) as T;
    const value = read(text);
    cache.set(text, value);
    return value;
  };
}

const keptCondition = kept(readCondition);

/** Parses a condition string, or returns undefined when it is not one. Each call gets an object of its own. */
export function parseCondition(text: string): Condition | undefined {
  const condition = keptCondition(text);
  return condition && { ...condition };
}

function readCondition(text: string): Condition | undefined {
  const s = new Scanner(text);
  s.spaces();
  const op = s.oneOf(COMPARATORS);
  let direction: 'drop' | 'rise' | undefined;
  let changeOp: '>' | '>=' | undefined;
  if (op === undefined) {
    direction = s.oneOf(['drop', 'rise'] as const);
    if (direction === undefined) return undefined;
    s.spaces();
    changeOp = s.oneOf(CHANGE_OPS);
    if (changeOp === undefined) return undefined;
  }
  s.spaces();
  const value = s.number();
  if (value === undefined) return undefined;
  s.spaces();
  const percent = s.take('%');
  if (!s.done()) return undefined;
  if (op !== undefined) return { kind: 'threshold', op, value: percent ? value / 100 : value, text: text.trim() };
  return {
    kind: 'change',
    direction: direction!,
    op: changeOp!,
    value: percent ? value / 100 : value,
    relative: percent,
    text: text.trim(),
  };
}

/** Parses a percentage such as `99.9%` into a fraction (0.999), or returns undefined. */
export const parsePercent: (text: string) => number | undefined = kept((text) => {
  const s = new Scanner(text);
  s.spaces();
  const value = s.number();
  if (value === undefined) return undefined;
  s.spaces();
  return s.take('%') && s.done() ? value / 100 : undefined;
});

/** Applies a comparator. */
export function compare(value: number, op: Comparator, limit: number): boolean {
  switch (op) {
    case '<':
      return value < limit;
    case '<=':
      return value <= limit;
    case '>':
      return value > limit;
    case '>=':
      return value >= limit;
  }
}

/** Tells whether a value meets a condition; a change needs the baseline it is measured against. */
export function holds(condition: Condition, value: number, baseline?: number): boolean {
  if (Number.isNaN(value)) return false;
  if (condition.kind === 'threshold') return compare(value, condition.op, condition.value);
  if (baseline === undefined || Number.isNaN(baseline)) return false;
  const moved = condition.direction === 'drop' ? baseline - value : value - baseline;
  if (condition.relative) {
    if (baseline === 0) return false;
    return compare(moved / Math.abs(baseline), condition.op, condition.value);
  }
  return compare(moved, condition.op, condition.value);
}
