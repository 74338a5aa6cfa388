/** Turns schema validation issues into problems with a plain message and the position of the offending node. */
import { z } from 'zod';
import type { Problem } from './problem.js';
import type { Path, SourceDoc } from './source.js';

type Issue = z.core.$ZodIssue;

/**
 * Validates a document against a schema; every issue becomes one problem. `known` is the value without its unknown
 * keys, so that the remaining checks can still run on a document whose only fault is a typo in a key.
 */
export function schemaProblems(
  doc: SourceDoc,
  schema: z.ZodType,
  value: unknown,
): { problems: Problem[]; known: unknown } {
  const result = schema.safeParse(value);
  if (result.success) return { problems: [], known: value };
  const known = structuredClone(value);
  for (const issue of result.error.issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const target = valueAt(known, issue.path as Path);
    if (target !== null && typeof target === 'object')
      for (const k of issue.keys) delete (target as Record<string, unknown>)[k];
  }
  return { problems: result.error.issues.flatMap((issue) => issueProblems(doc, schema, value, issue, [])), known };
}

function issueProblems(doc: SourceDoc, schema: z.ZodType, root: unknown, issue: Issue, base: Path): Problem[] {
  const path = [...base, ...(issue.path as Array<string | number>)];
  const local = issue.path as Array<string | number>;
  const value = valueAt(root, local);
  const field = fieldName(path);
  if (value === undefined && issue.code !== 'unrecognized_keys' && path.length > 0) {
    return [doc.problem(path.slice(0, -1), `missing required field ${JSON.stringify(field)}`)];
  }
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = keysAt(schema, local, root);
      return issue.keys.map((key) =>
        doc.problem([...path, key], `unknown key ${shown(key)}${suggest(key, known)}`, 'key'),
      );
    }
    case 'invalid_type':
      return [doc.problem(path, `${JSON.stringify(field)} must be ${article(issue.expected)}, not ${describe(value)}`)];
    case 'invalid_union': {
      if (issue.discriminator !== undefined || isDiscriminator(issue)) {
        const options = (issue as { options?: unknown[] }).options ?? [];
        return [
          doc.problem(path, `${JSON.stringify(field)} must be one of ${options.join(', ')} (got ${shown(value)})`),
        ];
      }
      if (value !== null && typeof value === 'object') {
        // The branch that got furthest into the value explains the problem best.
        const branches = issue.errors.filter((errs) => errs.length > 0);
        const best = branches.sort((a, b) => depth(b) - depth(a))[0];
        if (best && depth(best) > 0) {
          return best.flatMap((nested) =>
            issueProblems(doc, schema, root, { ...nested, path: [...local, ...nested.path] } as Issue, base),
          );
        }
      }
      return [doc.problem(path, issue.message)];
    }
    case 'invalid_value':
      if (issue.values.length === 1) {
        return [
          doc.problem(
            path,
            `${JSON.stringify(field)} must be ${JSON.stringify(issue.values[0])} (got ${shown(value)})`,
          ),
        ];
      }
      return [
        doc.problem(path, `${JSON.stringify(field)} must be one of ${issue.values.join(', ')} (got ${shown(value)})`),
      ];
    case 'too_small':
      if (!issue.message.startsWith('Too small')) return [doc.problem(path, issue.message)];
      if (issue.origin === 'array')
        return [doc.problem(path, `${JSON.stringify(field)} must list at least ${issue.minimum} item(s)`)];
      if (issue.origin === 'string') return [doc.problem(path, `${JSON.stringify(field)} must not be empty`)];
      return [doc.problem(path, `${JSON.stringify(field)} must be at least ${issue.minimum}`)];
    case 'invalid_key': {
      const nested = issue.issues.find((i) => i.code === 'invalid_format');
      return [doc.problem(path, nested?.message ?? `invalid key ${JSON.stringify(field)}`, 'key')];
    }
    case 'too_big':
      if (issue.origin === 'string' && typeof value === 'string') {
        return [
          doc.problem(
            path,
            `${JSON.stringify(field)} must be at most ${issue.maximum} characters (it has ${value.length})`,
          ),
        ];
      }
      return [doc.problem(path, `${JSON.stringify(field)} must be at most ${issue.maximum}`)];
    case 'custom':
      return [
        doc.problem(
          path,
          (issue.params as { withField?: boolean } | undefined)?.withField
            ? `${field} ${issue.message}`
            : issue.message,
        ),
      ];
    case 'invalid_format':
      return [
        doc.problem(
          path,
          issue.message.startsWith('Invalid') ? `${JSON.stringify(field)} has an invalid format` : issue.message,
        ),
      ];
    default:
      return [doc.problem(path, issue.message)];
  }
}

function isDiscriminator(issue: Issue): boolean {
  return issue.code === 'invalid_union' && (issue as { note?: string }).note === 'No matching discriminator';
}

function depth(errors: Issue[]): number {
  return Math.max(0, ...errors.map((e) => e.path.length));
}

function valueAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function fieldName(path: Path): string {
  for (let i = path.length - 1; i >= 0; i--) if (typeof path[i] === 'string') return String(path[i]);
  return 'document';
}

function article(type: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    int: 'an integer',
    boolean: 'true or false',
    object: 'a mapping',
    array: 'a list',
    record: 'a mapping',
  };
  return names[type] ?? `a ${type}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${shown(value)}`;
  return `${typeof value} ${String(value)}`;
}

/** The keys the schema allows at `path`, following the value through unions, lists and optionals. */
function keysAt(schema: z.ZodType, path: Path, root: unknown): string[] {
  let s: z.ZodType | undefined = schema;
  let v: unknown = root;
  const unwrap = () => {
    for (;;) {
      if (s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
      else if (s instanceof z.ZodDiscriminatedUnion || s instanceof z.ZodUnion) {
        const options = (s as z.ZodUnion).options as z.ZodType[];
        s = options.find((o) => o.safeParse(v).success) ?? pickByShape(options, v);
      } else return;
    }
  };
  for (const seg of path) {
    unwrap();
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(seg)];
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else if (s instanceof z.ZodRecord) s = s.valueType as z.ZodType;
    else return [];
    v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[seg] : undefined;
  }
  unwrap();
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function pickByShape(options: z.ZodType[], value: unknown): z.ZodType | undefined {
  if (Array.isArray(value)) return options.find((o) => o instanceof z.ZodArray);
  if (value === null || typeof value !== 'object')
    return options.find((o) => !(o instanceof z.ZodObject || o instanceof z.ZodArray));
  const objects = options.filter((o): o is z.ZodObject => o instanceof z.ZodObject);
  const v = value as Record<string, unknown>;
  // A discriminated union: the option whose literal discriminator matches the value.
  const byLiteral = objects.find((o) =>
    Object.entries(o.shape).some(([k, f]) => f instanceof z.ZodLiteral && f.value === v[k]),
  );
  return byLiteral ?? objects[0];
}

/** A value as JSON for a message, cut short when long: a message quotes a value, it does not reproduce it. */
export function shown(value: unknown): string {
  const text =
    JSON.stringify(typeof value === 'string' && value.length > 60 ? value.slice(0, 60) : value) ?? String(value);
  return typeof value === 'string' && value.length > 60 ? `${text.slice(0, -1)}…" (${value.length} characters)` : text;
}

/** ` (did you mean "owner"?)` when a known key is close to the unknown one. */
export function suggest(key: string, known: string[]): string {
  // Keys are short words; a long one is no typo of them (and comparing it would cost its length times theirs).
  if (key.length > 64) return '';
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = key.toLowerCase();
  for (const k of known) {
    // Only a key within the allowed distance can be suggested; the length difference and the letters that differ
    // are lower bounds of the distance, found in linear time, so most keys are ruled out without the full table
    // (which made files with thousands of unknown keys take seconds).
    const allowed = Math.max(1, Math.floor(k.length / 3));
    if (Math.abs(lower.length - k.length) > allowed || bagDistance(lower, k.toLowerCase()) > allowed) continue;
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3))
    ? ` (did you mean ${JSON.stringify(best)}?)`
    : '';
}

/** A lower bound of the edit distance: characters of one string not matched by the other's (as multisets). */
function bagDistance(a: string, b: string): number {
  const counts = new Map<string, number>();
  for (const c of a) counts.set(c, (counts.get(c) ?? 0) + 1);
  let onlyB = 0;
  for (const c of b) {
    const n = counts.get(c) ?? 0;
    if (n > 0) counts.set(c, n - 1);
    else onlyB++;
  }
  let onlyA = 0;
  for (const n of counts.values()) onlyA += n;
  return Math.max(onlyA, onlyB);
}

/** Edits (insert, delete, substitute, swap two neighbours) that turn a into b. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}
