/**
 * Properties of everything that reads text from SLO files: no input makes a parser throw, and every parser takes
 * time linear in its input (a quadratic regex would let one spec stall the engine's event loop).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { check } from '../../src/rules/check.js';
import { parseCondition, parsePercent } from '../../src/rules/condition.js';
import { parseDuration } from '../../src/rules/duration.js';
import { MAX_FILE_BYTES } from '../../src/rules/read-text.js';
import { expandReferences, scanReferences } from '../../src/rules/env.js';
import { jsonSchema } from '../../src/rules/schema.js';
import { readSource } from '../../src/rules/load.js';
import { parseSource } from '../../src/rules/source.js';

const SEED = 20261128;

/**
 * CPU time of the fastest of a few runs, in ms. CPU time rather than wall time: on a machine shared with other work
 * the process is preempted for tens of milliseconds at a time, which wall time would count as parsing.
 */
function fastest(run: () => void, times = 3): number {
  let best = Infinity;
  for (let i = 0; i < times; i++) {
    // process.cpuUsage may count in scheduler ticks of several milliseconds: repeat the run until at least 20 ms of
    // CPU were used, and take the time of one run.
    const start = process.cpuUsage();
    let runs = 0;
    let used = 0;
    do {
      run();
      runs++;
      const u = process.cpuUsage(start);
      used = (u.user + u.system) / 1000;
    } while (used < 20 && runs < 1_000_000);
    best = Math.min(best, used / runs);
  }
  return best;
}

/**
 * How much longer a parse of 8n characters takes than one of n, with n grown until a parse takes five
 * milliseconds, n reaches 128 Ki (larger inputs leave the CPU caches, which alone costs more than 8x) or 8n would be
 * over the largest SLO file. Linear work gives about 8, quadratic about 64.
 */
function growth(make: (n: number) => string, parse: (s: string) => unknown): { n: number; ratio: number } {
  let n = 256;
  // The large input stays within what an SLO file may hold (MAX_FILE_BYTES): a longer one is never parsed by sloe,
  // and the loader reads it with another parser than the small one, whose ratio says nothing of either.
  while (n < 1 << 17 && make(16 * n).length <= MAX_FILE_BYTES && fastest(() => parse(make(n)), 1) < 5) n *= 2;
  const small = make(n);
  const large = make(8 * n);
  parse(small);
  parse(large);
  const a = fastest(() => parse(small));
  const b = fastest(() => parse(large));
  return { n, ratio: b / a };
}

/** Generous for a busy machine (linear is ~8), far below what quadratic work gives (~64). */
const LINEAR = 24;

/** Inputs that make backtracking regexes and naive scanners do quadratic work. */
const HOSTILE: Record<string, (n: number) => string> = {
  'operator, spaces, junk': (n) => `<1${' '.repeat(n)}x`,
  'operator, spaces, percent, spaces, junk': (n) => `<1${' '.repeat(n)}%${' '.repeat(n)}x`,
  'change, spaces, junk': (n) => `drop${' '.repeat(n)}>${' '.repeat(n)}x`,
  'spaces, junk': (n) => `${' '.repeat(n)}x`,
  'digits, junk': (n) => `${'1'.repeat(n)}x`,
  'decimal, junk': (n) => `<1.${'1'.repeat(n)}e`,
  'digit-unit pairs, junk': (n) => `${'1m'.repeat(n / 2)}x`,
  'open references': (n) => '${'.repeat(n / 2),
  'unclosed name': (n) => `\${${'A'.repeat(n)}`,
  'dashes, junk': (n) => `a${'-'.repeat(n)}!`,
  'tabs and spaces, junk': (n) => `> 1${' \t'.repeat(n / 2)}%x`,
};

const PARSERS: Record<string, (s: string) => unknown> = {
  parseCondition,
  parsePercent,
  parseDuration,
  scanReferences,
  expandReferences: (s) => expandReferences(s, 'channel', { SLACK_CHANNEL_X: 'x' }),
};

describe('parsers are linear in their input', () => {
  it('the measure tells a quadratic regex from a linear parser (the condition regex sloe used to have)', () => {
    const NUMBER = String.raw`[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?`;
    const quadratic = new RegExp(String.raw`^\s*(<=|>=|<|>)\s*(${NUMBER})\s*(%?)\s*$`);
    const before = growth(HOSTILE['operator, spaces, junk']!, (s) => quadratic.exec(s));
    expect(before.ratio).toBeGreaterThan(LINEAR);
    const now = growth(HOSTILE['operator, spaces, junk']!, parseCondition);
    expect(now.ratio).toBeLessThan(LINEAR);
  });

  for (const [parser, parse] of Object.entries(PARSERS)) {
    it.each(Object.keys(HOSTILE))(`${parser}: %s`, (family) => {
      const { n, ratio } = growth(HOSTILE[family]!, parse);
      expect(ratio, `${parser} on ${family}, n = ${n}`).toBeLessThan(LINEAR);
    });
  }

  /** Every `pattern` of the JSON Schema: editors run them on every keystroke. */
  const patterns = new Set<string>();
  const collect = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(collect);
    else if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === 'pattern' && typeof v === 'string') patterns.add(v);
        else collect(v);
      }
    }
  };
  collect(jsonSchema());

  it('the JSON Schema has patterns to check', () => {
    expect(patterns.size).toBeGreaterThanOrEqual(5);
  });

  it.each([...patterns].flatMap((p) => Object.keys(HOSTILE).map((f) => [p, f] as const)))(
    'schema pattern %s: %s',
    (pattern, family) => {
      const re = new RegExp(pattern, 'u');
      const { n, ratio } = growth(HOSTILE[family]!, (s) => re.test(s));
      expect(ratio, `n = ${n}`).toBeLessThan(LINEAR);
    },
  );

  /** A whole file through the loader, with the hostile text in one field. */
  const FIELDS = ['objective', 'alert: { when', 'interval', 'description', 'query', 'runbook', 'name', 'labels: { x'];
  const file = (field: string, value: string) => {
    const close = field.includes('{') ? ' }' : '';
    return `apiVersion: sloe/v1
kind: ServiceLevels
service: shop
owner: shop-team
escalation: default
slos:
  - name: latency
    signal: latency
    dashboard: d
    query: up
    ${field}: ${JSON.stringify(value)}${close}
`;
  };
  const load = (text: string) => check(parseSource('hostile.yaml', text).docs);

  it.each(
    FIELDS.flatMap((f) => ['operator, spaces, junk', 'open references', 'digits, junk'].map((h) => [f, h] as const)),
  )('the loader: %s holding %s', (field, family) => {
    const { n, ratio } = growth((k) => file(field, HOSTILE[family]!(k)), load);
    expect(ratio, `n = ${n}`).toBeLessThan(LINEAR);
  });

  it.each([
    [
      'many keys in one mapping',
      (n: number) => Array.from({ length: Math.ceil(n / 8) }, (_, i) => `k${i}: 1`).join('\n'),
    ],
    [
      'many unknown keys in a document',
      (n: number) =>
        `apiVersion: sloe/v1\nkind: EscalationPolicy\nname: p\n${Array.from({ length: Math.ceil(n / 8) }, (_, i) => `k${i}: 1`).join('\n')}\n`,
    ],
    ['deep flow nesting', (n: number) => `a: ${'['.repeat(n)}${']'.repeat(n)}`],
    ['deep block nesting', (n: number) => `a:\n${'- '.repeat(n)}x\n`],
    ['many documents', (n: number) => '---\na: 1\n'.repeat(Math.ceil(n / 9))],
  ] as const)('the loader: %s', (_name, make) => {
    const { n, ratio } = growth(make, load);
    expect(ratio, `n = ${n}`).toBeLessThan(LINEAR);
  });
});

describe('no input makes a parser throw', () => {
  const text = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.string({
      unit: fc.constantFrom(
        ' ',
        '<',
        '>',
        '=',
        '%',
        '1',
        '.',
        'e',
        '-',
        'd',
        'r',
        'o',
        'p',
        '$',
        '{',
        '}',
        'm',
        's',
        'A',
        '_',
      ),
      maxLength: 60,
    }),
  );

  it('condition, percent, duration and reference parsers return a result or undefined', () => {
    fc.assert(
      fc.property(text, (s) => {
        const c = parseCondition(s);
        if (c) expect(Number.isFinite(c.value)).toBe(true);
        const p = parsePercent(s);
        if (p !== undefined) expect(Number.isFinite(p)).toBe(true);
        const d = parseDuration(s);
        if (d !== undefined) expect(Number.isFinite(d) && d >= 0).toBe(true);
        scanReferences(s);
        expandReferences(s, 'routingKey', { PAGERDUTY_A_KEY: 'a' });
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  /** Random YAML trees, with and without the fields of real documents. */
  const value = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small' },
      fc.string({ maxLength: 30 }),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(fc.string({ maxLength: 10 }), tie('node'), { maxKeys: 4 }),
    ),
  })).node;
  const keys = [
    'service',
    'owner',
    'escalation',
    'interval',
    'labels',
    'dashboards',
    'slos',
    'name',
    'signal',
    'dashboard',
    'query',
    'ratio',
    'objective',
    'alert',
    'when',
    'for',
    'burnRate',
    'page',
    'ticket',
    'notify',
    'channel',
    'routingKey',
    'after',
    'timezone',
    'rotation',
    'members',
    'runbook',
    'window',
  ];
  const documentLike = fc
    .record({
      apiVersion: fc.constantFrom('sloe/v1', 'v2'),
      kind: fc.constantFrom('ServiceLevels', 'EscalationPolicy', 'OnCallSchedule', 'Other'),
      rest: fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 8 }),
    })
    .map(({ rest, ...head }) => ({ ...head, ...rest }));

  it('the loader reports problems for random YAML trees, and never throws', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(value, documentLike), { minLength: 1, maxLength: 3 }), (docs) => {
        const text = docs.map((d) => stringify(d)).join('---\n');
        check(parseSource('random.yaml', text).docs);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('the loader never throws on random text', () => {
    fc.assert(
      fc.property(text, (s) => {
        const source = parseSource('random.yaml', s);
        check(source.docs);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  describe('reading files', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'sloe-bytes-'));
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it('random bytes become problems with a position, never an exception', async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
          const file = join(dir, 'random.yaml');
          await writeFile(file, bytes);
          const source = await readSource(file);
          for (const p of source.problems) expect(p.line).toBeGreaterThanOrEqual(1);
          check(source.docs);
        }),
        { seed: SEED, numRuns: 200 },
      );
    });
  });
});
