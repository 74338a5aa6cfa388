import { describe, expect, it } from 'vitest';
import { onCallAt } from '../src/escalation/oncall/schedule.js';
import type { OnCallSchedule } from '../src/rules/model.js';

const base: OnCallSchedule = {
  name: 'ai-primary',
  timezone: 'Europe/Berlin',
  rotation: { everyMs: 7 * 86_400_000, start: '2026-11-02T09:00' },
  members: [
    { name: 'alice', slack: 'U01ALICE', pagerduty: 'PABC123' },
    { name: 'bob', slack: 'U02BOB' },
    { name: 'carol', slack: 'U03CAROL' },
  ],
  overrides: [{ member: 'bob', from: '2026-11-28T09:00', to: '2026-11-30T09:00' }],
  fallback: 'alice',
  source: { file: 'x', line: 1, col: 1 },
};
const daily: OnCallSchedule = { ...base, rotation: { everyMs: 86_400_000, start: '2026-10-20T09:00' }, overrides: [] };

describe('on call at an instant', () => {
  it.each([
    [
      'the first shift, right at its start (09:00 Berlin is 08:00 UTC in November)',
      base,
      '2026-11-02T08:00:00Z',
      'alice',
      'rotation',
    ],
    ['one minute before the weekly handoff', base, '2026-11-09T07:59:00Z', 'alice', 'rotation'],
    ['right at the weekly handoff', base, '2026-11-09T08:00:00Z', 'bob', 'rotation'],
    ['the third week', base, '2026-11-16T08:00:00Z', 'carol', 'rotation'],
    ['the rotation wraps around', base, '2026-11-23T08:00:00Z', 'alice', 'rotation'],
    ['an override covering the instant wins', base, '2026-11-28T12:00:00Z', 'bob', 'override'],
    [
      'the override ends at its `to`, where the fifth week (bob again) begins',
      base,
      '2026-11-30T08:00:00Z',
      'bob',
      'rotation',
    ],
    ['until its `to`, the override holds', base, '2026-11-30T07:59:00Z', 'bob', 'override'],
    ['before the override, the fourth week is alice', base, '2026-11-28T07:59:00Z', 'alice', 'rotation'],
    ['before the first shift nobody is on call: the fallback', base, '2026-11-01T12:00:00Z', 'alice', 'fallback'],
    // Daily at 09:00 Berlin from Oct 20 (alice, bob, carol, …): 07:00 UTC in summer time, 08:00 UTC after DST ends
    // on 2026-10-25.
    ['a daily handoff in summer time is at 07:00 UTC', daily, '2026-10-24T07:00:00Z', 'bob', 'rotation'],
    [
      'after DST ends, 07:30 UTC is 08:30 local: still the previous shift',
      daily,
      '2026-10-26T07:30:00Z',
      'carol',
      'rotation',
    ],
    [
      'after DST ends, the handoff is at 09:00 local, now 08:00 UTC',
      daily,
      '2026-10-26T08:00:00Z',
      'alice',
      'rotation',
    ],
  ] as const)('%s', (_name, schedule, at, member, source) => {
    const r = onCallAt(schedule, Date.parse(at));
    expect([r.member?.name, r.source]).toEqual([member, source]);
  });

  it('the shift spanning the DST change (Oct 24 09:00 CEST to Oct 25 09:00 CET) lasts 25 hours', () => {
    const r = onCallAt(daily, Date.parse('2026-10-25T01:00:00Z'));
    expect((r.to! - r.from!) / 3600_000).toBe(25);
  });

  it('an empty schedule falls back, or reports nobody without a fallback', () => {
    const empty = { ...base, members: [], overrides: [], fallback: undefined };
    expect(onCallAt(empty, Date.parse('2026-11-10T00:00:00Z'))).toEqual({ source: 'nobody' });
    expect(onCallAt({ ...base, overrides: [] }, Date.parse('2020-01-01T00:00:00Z')).source).toBe('fallback');
  });

  it('sub-day shifts rotate in absolute time', () => {
    const hourly = { ...base, rotation: { everyMs: 3600_000, start: '2026-11-02T00:00' }, overrides: [] };
    // The first hour starts at 00:00 Berlin, 23:00 UTC the day before.
    expect(onCallAt(hourly, Date.parse('2026-11-01T23:30:00Z')).member?.name).toBe('alice');
    expect(onCallAt(hourly, Date.parse('2026-11-02T00:30:00Z')).member?.name).toBe('bob');
  });
});
