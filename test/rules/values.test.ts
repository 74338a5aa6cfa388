import { describe, expect, it } from 'vitest';
import { holds, parseCondition } from '../../src/rules/condition.js';
import { formatDuration, parseDuration } from '../../src/rules/duration.js';
import { scanReferences, expandReferences } from '../../src/rules/env.js';

describe('durations', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['7d', 604_800_000],
    ['4w', 2_419_200_000],
    ['1y', 31_536_000_000],
    ['250ms', 250],
    ['0', 0],
    [0, 0],
  ] as const)('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5', '5 minutes', '1m1h', '-5m', '1.5h', 'm', 1])('%s is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it.each([
    [90_000, '1m30s'],
    [3600_000, '1h'],
    [30 * 86400_000, '30d'],
    [14 * 86400_000, '2w'],
    [0, '0s'],
  ])('%d ms formats as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('conditions', () => {
  it.each([
    ['a value above the limit breaches "> 5"', '> 5', 5.1, undefined, true],
    ['the limit itself does not breach "> 5"', '> 5', 5, undefined, false],
    ['the limit itself breaches ">= 5"', '>= 5', 5, undefined, true],
    ['a percentage is a fraction', '> 3%', 0.031, undefined, true],
    ['a percentage below the limit holds "< 10%"', '< 10%', 0.09, undefined, true],
    ['an absolute drop of 6 from 80 breaches "drop > 5"', 'drop > 5', 74, 80, true],
    ['an absolute drop of 4 does not breach "drop > 5"', 'drop > 5', 76, 80, false],
    ['a rise does not breach a drop condition', 'drop > 5', 90, 80, false],
    ['a relative drop of 12.5% breaches "drop > 10%"', 'drop > 10%', 70, 80, true],
    ['a relative rise of 25% breaches "rise > 20%"', 'rise > 20%', 100, 80, true],
    ['a change without a baseline value never holds', 'drop > 5', 1, undefined, false],
    ['NaN never breaches', '> 5', NaN, undefined, false],
  ] as const)('%s', (_name, text, value, baseline, expected) => {
    const c = parseCondition(text);
    expect(c).toBeDefined();
    expect(holds(c!, value, baseline)).toBe(expected);
  });

  it.each(['above 5', '> five', '5 >', '== 5', 'drop 5', 'drop < 5', '>'])('%s is not a condition', (text) => {
    expect(parseCondition(text)).toBeUndefined();
  });
});

describe('environment references', () => {
  it('finds well-formed references and fills them in', () => {
    expect(scanReferences('key-${A_1}-${B}').refs.map((r) => r.name)).toEqual(['A_1', 'B']);
    expect(
      expandReferences('#c-${SLACK_CHANNEL_A_1}-${SLACK_CHANNEL_B}', 'channel', {
        SLACK_CHANNEL_A_1: 'x',
        SLACK_CHANNEL_B: 'y',
      }),
    ).toEqual({ value: '#c-x-y', missing: [], refused: [] });
  });

  it('reports unset variables by name', () => {
    expect(expandReferences('${SLACK_CHANNEL_NOPE}', 'channel', {})).toEqual({
      value: '',
      missing: ['SLACK_CHANNEL_NOPE'],
      refused: [],
    });
  });

  it.each(['${}', '${1A}', '${A-B}', '${A', 'x ${ A }'])('%s is malformed', (text) => {
    expect(scanReferences(text).errors).toHaveLength(1);
  });

  it('leaves $window and other single-dollar text alone', () => {
    expect(scanReferences('rate(x[$window])')).toEqual({ refs: [], errors: [] });
  });
});
