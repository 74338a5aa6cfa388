/** Synthetic history for local runs: request counters split into successes and errors. */
import type { SeriesHistory } from './openmetrics.js';

/**
 * `name{…labels, status="ok"|"error"}` counters, one sample a minute from `from` to `to`; `minute(t, i)` gives the
 * requests of the minute ending at t and the share of them that fail.
 */
export function* requestCounters(
  name: string,
  labels: Record<string, string>,
  from: number,
  to: number,
  minute: (t: number, i: number) => { requests: number; errorShare: number },
): Generator<SeriesHistory> {
  const ok: Array<[number, number]> = [];
  const bad: Array<[number, number]> = [];
  let okTotal = 0;
  let badTotal = 0;
  for (let t = from, i = 0; t <= to; t += 60_000, i++) {
    const { requests, errorShare } = i === 0 ? { requests: 0, errorShare: 0 } : minute(t, i);
    okTotal += requests * (1 - errorShare);
    badTotal += requests * errorShare;
    ok.push([t, Math.round(okTotal * 1e6) / 1e6]);
    bad.push([t, Math.round(badTotal * 1e6) / 1e6]);
  }
  yield { name, labels: { ...labels, status: 'ok' }, samples: ok };
  yield { name, labels: { ...labels, status: 'error' }, samples: bad };
}
