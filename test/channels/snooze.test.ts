import { describe, expect, it } from 'vitest';
import { parseSnoozeValue } from '../../src/escalation/slack/snooze.js';

describe('a Snooze choice from Slack', () => {
  it.each([
    ['abc:30s', 'Snooze: you asked for "30s", the range is 1m–24h'],
    ['abc:59s', 'Snooze: you asked for "59s", the range is 1m–24h'],
    ['abc:25h', 'Snooze: you asked for "25h", the range is 1m–24h'],
    ['abc:0', 'Snooze: you asked for "0", the range is 1m–24h'],
    ['abc:soon', 'Snooze: you asked for "soon", the range is 1m–24h'],
    ['abc', 'Snooze: you asked for no duration, the range is 1m–24h'],
    [`abc:${'9'.repeat(100)}h`, `Snooze: you asked for "${'9'.repeat(32)}…", the range is 1m–24h`],
  ])('%s is refused, saying what was asked for and the range', (value, problem) => {
    expect(parseSnoozeValue(value)).toEqual({ incidentId: 'abc', problem });
  });

  it.each([
    ['abc:1m', 60_000],
    ['abc:24h', 86_400_000],
  ])('%s is the bound itself, and accepted', (value, ms) => {
    expect(parseSnoozeValue(value)).toEqual({ incidentId: 'abc', ms });
  });
});
