/**
 * History whose error budgets are known by hand, one sample a minute over the 10 days before AT, for the shop in
 * test/fixtures/slos/budget (7-day windows, 99% objectives):
 * - shop/availability: 0.5% of 1,000 requests a minute fail all along: half the budget spent, burning at 0.5.
 * - shop/checkout: no errors, then 10% for the last 6 hours: 36,000 bad of 10,080,000 in the window.
 * - shop/latency-p95: 0.4 s, but 2 s for the hour [AT − 2d, AT − 2d + 1h): 60 of the window's 10,080 minutes
 *   outside the objective against a time objective of 99%.
 */
import { requestCounters } from '../../src/local/history.js';
import type { SeriesHistory } from '../../src/local/openmetrics.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
export const AT = Date.parse('2026-11-01T00:00:00Z');
export const FROM = AT - 10 * DAY;
export const SLOW_FROM = AT - 2 * DAY;

export function shopHistory(): SeriesHistory[] {
  const latency: Array<[number, number]> = [];
  for (let t = FROM; t <= AT; t += MIN) latency.push([t, t >= SLOW_FROM && t < SLOW_FROM + HOUR ? 2 : 0.4]);
  return [
    ...requestCounters('shop_requests_total', { app: 'web' }, FROM, AT, () => ({ requests: 1000, errorShare: 0.005 })),
    ...requestCounters('shop_requests_total', { app: 'checkout' }, FROM, AT, (t) => ({
      requests: 1000,
      errorShare: t > AT - 6 * HOUR ? 0.1 : 0,
    })),
    { name: 'shop_latency_p95_seconds', samples: latency },
  ];
}
