import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem, loadRules } from '../../src/rules/index.js';

const root = join(import.meta.dirname, '..', 'fixtures', 'slos');
const list = (dir: string) =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.yaml'))
    .sort();

/** The `# expect: line:col: message` lines at the top of a bad fixture, as full problem lines. */
function expectations(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('# expect: '))
    .map((l) => `${file}:${l.slice('# expect: '.length).replaceAll('<file>', file)}`);
}

describe('good fixtures', () => {
  it.each(list('good'))('%s has no problems', async (name) => {
    const result = await loadRules([join(root, 'good', name)]);
    expect(result.problems.map(formatProblem)).toEqual([]);
    expect(result.config.slos.length).toBeGreaterThan(0);
  });

  it('the shipped examples in slos/ have no problems and cover all seven golden signals', async () => {
    const result = await loadRules([join(import.meta.dirname, '..', '..', 'slos')]);
    expect(result.problems.map(formatProblem)).toEqual([]);
    const signals = new Set(result.config.slos.map((s) => s.signal));
    for (const s of [
      'latency',
      'error_rate',
      'cost_per_request',
      'cache_hit_rate',
      'guardrail_rate',
      'queue_depth',
      'eval_score',
    ]) {
      expect(signals).toContain(s);
    }
  });
});

describe('bad fixtures', () => {
  it('there are at least 40, each one rule', () => {
    expect(list('bad').length).toBeGreaterThanOrEqual(40);
  });

  it.each(list('bad'))('%s reports exactly its expected problems', async (name) => {
    const file = join(root, 'bad', name);
    const expected = expectations(file);
    expect(expected.length).toBeGreaterThan(0);
    const result = await loadRules([file]);
    expect(result.problems.map(formatProblem)).toEqual(expected);
  });
});
