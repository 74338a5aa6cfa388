import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem, formatWarning, lint, loadRules } from '../../src/rules/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const LINT = join(ROOT, 'test', 'fixtures', 'slos', 'lint');
const list = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();

/** The `# warn: line:col: message [rule]` lines at the top of a lint fixture, as full warning lines. */
function expectations(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('# warn: '))
    .map((l) => `${file}:${l.slice('# warn: '.length).replace(/^(\d+:\d+): /, '$1: warning: ')}`);
}

async function warningsOf(...paths: string[]) {
  const loaded = await loadRules(paths);
  expect(loaded.problems.map(formatProblem)).toEqual([]);
  // validate's warnings: the guide's rules and the silence checks made while loading.
  return [...loaded.warnings, ...lint(loaded.docs, loaded.config)].map(formatWarning);
}

describe('the golden-signal guide as lint', () => {
  it.each(list(LINT))('%s warns exactly as it expects', async (name) => {
    const file = join(LINT, name);
    expect(await warningsOf(file)).toEqual(expectations(file));
  });

  it('a disable comment turns off only the rules it names, in its own file', async () => {
    const file = join(LINT, 'disabled-absent-numerator.yaml');
    expect(readFileSync(file, 'utf8')).toMatch(/^# sloe-lint-disable absent-numerator$/m);
    expect(await warningsOf(file)).toEqual([]);
    expect((await warningsOf(join(LINT, 'absent-numerator.yaml'))).length).toBeGreaterThan(0);
  });

  it.each([
    ['the shipped example', join(ROOT, 'slos')],
    [
      'the OpenTelemetry GenAI preset fixture',
      join(ROOT, 'test', 'fixtures', 'slos', 'good', 'presets-opentelemetry-genai.yaml'),
    ],
  ])('%s has no lint warnings', async (_name, path) => {
    expect(await warningsOf(path)).toEqual([]);
  });

  it('every rule has a fixture that triggers it', async () => {
    const { LINT_RULES } = await import('../../src/rules/index.js');
    const seen = new Set<string>();
    for (const name of list(LINT))
      for (const line of expectations(join(LINT, name))) seen.add(/\[([a-z-]+)\]$/.exec(line)![1]!);
    expect([...seen].sort()).toEqual(Object.keys(LINT_RULES).sort());
  });
});
