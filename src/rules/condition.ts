/** Alert and objective conditions: `< 3.5`, `>= 30%`, and, relative to a baseline, `drop > 5` or `rise > 20%`. */

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
const THRESHOLD_RE = new RegExp(String.raw`^\s*(<=|>=|<|>)\s*(${NUMBER})\s*(%?)\s*$`);
const CHANGE_RE = new RegExp(String.raw`^\s*(drop|rise)\s*(>=|>)\s*(${NUMBER})\s*(%?)\s*$`);

/** The pattern of a condition string, for the JSON Schema. */
export const CONDITION_PATTERN = String.raw`^\s*((<=|>=|<|>)|(drop|rise)\s*(>=|>))\s*${NUMBER}\s*%?\s*$`;

/** Parses a condition string, or returns undefined when it is not one. */
export function parseCondition(text: string): Condition | undefined {
  const t = THRESHOLD_RE.exec(text);
  if (t) {
    const value = Number(t[2]);
    return { kind: 'threshold', op: t[1] as Comparator, value: t[3] ? value / 100 : value, text: text.trim() };
  }
  const c = CHANGE_RE.exec(text);
  if (c) {
    const value = Number(c[3]);
    const relative = c[4] === '%';
    return {
      kind: 'change',
      direction: c[1] as 'drop' | 'rise',
      op: c[2] as '>' | '>=',
      value: relative ? value / 100 : value,
      relative,
      text: text.trim(),
    };
  }
  return undefined;
}

/** Parses a percentage such as `99.9%` into a fraction (0.999), or returns undefined. */
export function parsePercent(text: string): number | undefined {
  const m = new RegExp(String.raw`^\s*(${NUMBER})\s*%\s*$`).exec(text);
  return m ? Number(m[1]) / 100 : undefined;
}

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
