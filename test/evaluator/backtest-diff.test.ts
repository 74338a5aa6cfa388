/** Pairing incidents across a spec change, and what reaches a Markdown comment. */
import { describe, expect, it } from 'vitest';
import { type LabelledIncident, alertLoad, matchIncidents } from '../../src/evaluator/backtest-diff.js';
import type { BacktestIncident } from '../../src/evaluator/index.js';
import { escapeMarkdown } from '../../src/cli/backtest-diff-format.js';

const M = 60_000;

function inc(
  firedMin: number,
  resolvedMin: number | null,
  severity: 'page' | 'ticket' = 'page',
  labels: Record<string, string> = {},
): LabelledIncident {
  const incident: BacktestIncident = {
    severity,
    reason: 'breach',
    firedAt: firedMin * M,
    resolvedAt: resolvedMin === null ? null : resolvedMin * M,
    message: '',
    escalations: [],
    steps: [{ notify: 'pagerduty', at: (firedMin + 10) * M, severity, index: 1, target: 'critical', round: 0 }],
  };
  return { labels, incident };
}

const show = (r: ReturnType<typeof matchIncidents>) => ({
  added: r.added.map((a) => a.incident.firedAt / M),
  removed: r.removed.map((a) => a.incident.firedAt / M),
  moved: r.moved.map((m) => [m.base.firedAt / M, m.head.firedAt / M]),
});

describe('matchIncidents', () => {
  it.each([
    [
      'identical incidents pair and nothing changed',
      [inc(10, 20)],
      [inc(10, 20)],
      { added: [], removed: [], moved: [] },
    ],
    [
      'an incident firing later but overlapping moved',
      [inc(10, 20)],
      [inc(13, 20)],
      { added: [], removed: [], moved: [[10, 13]] },
    ],
    ['a resolution that moved is a move', [inc(10, 20)], [inc(10, 25)], { added: [], removed: [], moved: [[10, 10]] }],
    [
      'a severity that changed is a move',
      [inc(10, 20, 'ticket')],
      [inc(10, 20, 'page')],
      { added: [], removed: [], moved: [[10, 10]] },
    ],
    [
      'incidents apart in time are one removed and one added',
      [inc(10, 20)],
      [inc(30, 40)],
      { added: [30], removed: [10], moved: [] },
    ],
    [
      'another instance is not the same incident',
      [inc(10, 20, 'page', { model: 'a' })],
      [inc(10, 20, 'page', { model: 'b' })],
      { added: [10], removed: [10], moved: [] },
    ],
    [
      'two incidents merged into one: one moved, the other removed',
      [inc(10, 20), inc(25, 35)],
      [inc(10, 35)],
      { added: [], removed: [25], moved: [[10, 10]] },
    ],
    [
      'an identical pair is found before an overlapping one',
      [inc(10, 40), inc(30, 35)],
      [inc(30, 35)],
      { added: [], removed: [10], moved: [] },
    ],
    [
      'an incident still open overlaps everything after it',
      [inc(10, null)],
      [inc(50, null)],
      { added: [], removed: [], moved: [[10, 50]] },
    ],
  ])('%s', (_name, base, head, expected) => {
    expect(show(matchIncidents(base, head))).toEqual(expected);
  });
});

describe('alertLoad', () => {
  it('counts pages, tickets and the steps reaching PagerDuty', () => {
    expect(alertLoad([inc(1, 2), inc(3, 4, 'ticket'), inc(5, 6)])).toEqual({
      incidents: 3,
      pages: 2,
      tickets: 1,
      grouped: 0,
      pagerduty: 3,
      oncall: 0,
    });
  });

  it('counts a member of a group as neither page nor ticket: its leader alerts for it', () => {
    const leader = inc(1, 9);
    const ref = { sloId: 'checkout/latency-p95', labels: { model: 'opus' }, firedAt: M };
    leader.incident.group = { role: 'leader', leader: ref, size: 3 };
    const members = [inc(1, 9, 'page', { model: 'haiku' }), inc(1, 9, 'page', { model: 'sonnet' })];
    for (const m of members) m.incident = { ...m.incident, steps: [], group: { role: 'member', leader: ref, size: 3 } };
    expect(alertLoad([leader, ...members, inc(20, 30, 'ticket')])).toEqual({
      incidents: 4,
      pages: 1,
      tickets: 1,
      grouped: 2,
      pagerduty: 2,
      oncall: 0,
    });
  });
});

describe('escapeMarkdown', () => {
  it.each([
    ['a table cell separator', 'a|b', 'a\\|b'],
    ['HTML', '<img src=x onerror=alert(1)>', '&lt;img src=x onerror=alert\\(1\\)&gt;'],
    ['a link', '[click](https://evil.example)', '\\[click\\]\\(https://evil.example\\)'],
    ['emphasis and code', '*bold* _it_ `code`', '\\*bold\\* \\_it\\_ \\`code\\`'],
    ['a new line that would end the table row', 'line\n| x | y |', 'line \\| x \\| y \\|'],
    ['an entity', '&amp;', '&amp;amp;'],
  ])('%s is shown as written', (_name, text, escaped) => {
    expect(escapeMarkdown(text)).toBe(escaped);
  });
});
