/**
 * The fast check of valid documents (src/rules/schema-fast.ts) against the zod schemas: wherever it finds a document
 * valid, zod must find it valid too and make the same value of it (the same fields, in the same order).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT, repositoryYamlFiles, seededRandom, yamlFiles } from '../support/fixture-files.js';
import { KINDS } from '../../src/rules/schema.js';
import { NOT_VALID, validDocument } from '../../src/rules/schema-fast.js';
import { API_VERSION, KIND_NAMES, type Kind } from '../../src/rules/schema-values.js';
import { parseSource } from '../../src/rules/source.js';

type Doc = { file: string; kind: Kind; value: Record<string, unknown> };

function documents(files: string[]): Doc[] {
  return files.flatMap((file) =>
    parseSource(file, readFileSync(file, 'utf8')).docs.flatMap((d) => {
      const v = d.value as Record<string, unknown> | null;
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return [];
      if (v.apiVersion !== API_VERSION || !(KIND_NAMES as readonly unknown[]).includes(v.kind)) return [];
      return [{ file, kind: v.kind as Kind, value: v }];
    }),
  );
}

const ALL = documents(repositoryYamlFiles());

/** undefined when the two agree: the fast check says NOT_VALID, or zod gives the same value. */
function difference(kind: Kind, value: unknown): string | undefined {
  const fast = validDocument(kind, value);
  if (fast === NOT_VALID) return undefined;
  const zod = KINDS[kind].safeParse(value);
  if (!zod.success) return `fast: valid, zod: ${JSON.stringify(zod.error.issues).slice(0, 400)}`;
  if (!isDeepStrictEqual(fast, zod.data) || JSON.stringify(fast) !== JSON.stringify(zod.data))
    return `fast: ${JSON.stringify(fast)}\nzod:  ${JSON.stringify(zod.data)}`;
  return undefined;
}

/** Values a field may be given: valid and invalid ones of every type the schemas take. */
const VALUES: unknown[] = [
  '',
  'x',
  'a-b',
  'A',
  '-a',
  'page',
  'ticket',
  'slack',
  'pagerduty',
  'oncall',
  'workbook',
  'weekly',
  'mon',
  'service',
  'slo',
  'latency',
  'error_rate',
  'custom',
  'alert',
  'critical',
  'opentelemetry-genai',
  '0',
  '5m',
  '1s',
  '0s',
  '1y',
  '2y',
  '400d',
  '31d',
  '1h',
  '2h',
  '1d',
  '1m',
  '30s',
  '5x',
  '< 3.5',
  '> 5',
  'drop > 2',
  'rise > 20%',
  '99.9%',
  '2%',
  '101%',
  '<',
  'https://example.com/x',
  'http://a',
  'ftp://a',
  'https://a b',
  'https://a|b',
  '#alerts',
  'C0123ABCD',
  '${PAGERDUTY_ROUTING_KEY}',
  '${X',
  'U01ABCDEF',
  '@oncall',
  'u1',
  'svc/slo',
  'svc/',
  'up',
  'rate(x[5m])',
  '2026-11-02T09:00',
  '2026-11-02',
  '02:00',
  '24:00',
  'Europe/Berlin',
  'TODO-owner',
  'le',
  '1abc',
  'a_b',
  'x'.repeat(65),
  'x'.repeat(257),
  'x'.repeat(1025),
  'x'.repeat(4097),
  0,
  1,
  -1,
  0.5,
  1.5,
  100,
  1e21,
  2 ** 53,
  true,
  false,
  null,
  [],
  ['x'],
  [1],
  {},
  { x: 1 },
  { severity: 'page' },
  [{ severity: 'page', budget: '2%', long: '1h' }],
  { notify: 'slack', channel: '#a' },
];

/** A copy of `value` with one change at a random place: a new value, a field left out, or an unknown field. */
function mutate(value: unknown, next: () => number): unknown {
  const copy = structuredClone(value);
  const nodes: Array<{ parent: Record<string | number, unknown>; key: string | number }> = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((item, i) => (nodes.push({ parent: v as never, key: i }), walk(item)));
    else if (v !== null && typeof v === 'object')
      for (const [k, item] of Object.entries(v)) nodes.push({ parent: v as never, key: k }), walk(item);
  };
  walk(copy);
  const at = nodes[Math.floor(next() * nodes.length)];
  if (!at) return copy;
  const r = next();
  if (r < 0.15 && !Array.isArray(at.parent)) delete at.parent[at.key];
  else if (r < 0.2 && !Array.isArray(at.parent)) at.parent.unknownKey = 'x';
  else at.parent[at.key] = structuredClone(VALUES[Math.floor(next() * VALUES.length)]);
  return copy;
}

describe('the fast schema check', () => {
  it('finds every good fixture and shipped example valid, with the value zod makes of it', () => {
    const good = documents([join(ROOT, 'test', 'fixtures', 'slos', 'good'), join(ROOT, 'slos')].flatMap(yamlFiles));
    expect(good.length).toBeGreaterThan(10);
    for (const d of good) {
      expect(validDocument(d.kind, d.value), d.file).not.toBe(NOT_VALID);
      expect(difference(d.kind, d.value), d.file).toBeUndefined();
    }
  });

  it('agrees with zod on every fixture', () => {
    expect(ALL.length).toBeGreaterThan(100);
    for (const d of ALL) expect(difference(d.kind, d.value), d.file).toBeUndefined();
  });

  it('agrees with zod on mutations of the fixtures, and finds many of them valid', () => {
    const next = seededRandom(20261128);
    let valid = 0;
    let notValid = 0;
    for (let k = 0; k < 20_000; k++) {
      const d = ALL[Math.floor(next() * ALL.length)]!;
      let value = mutate(d.value, next);
      if (next() < 0.3) value = mutate(value, next);
      const result = difference(d.kind, value);
      if (result !== undefined) expect.fail(`${d.file} mutated to ${JSON.stringify(value)}:\n${result}`);
      if (validDocument(d.kind, value) === NOT_VALID) notValid++;
      else valid++;
    }
    expect(valid).toBeGreaterThan(2000);
    expect(notValid).toBeGreaterThan(2000);
  });
});
