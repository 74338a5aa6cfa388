import { describe, expect, it } from 'vitest';
import { EngineMetrics } from '../../src/observability/metrics.js';
import { sleep } from '../../src/util/async.js';

/** The value of a sample line `name value` of an exposition text. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in the exposition`);
  return Number(line.slice(name.length + 1));
}

describe('event-loop lag metrics', () => {
  // The delay is sampled once a second (LOOP_SAMPLE_MS): a block of the event loop longer than that is always seen, and
  // the gauges show how late a sample came, not the interval between samples as well.
  it('shows a block of the event loop of more than a second, as how late the loop was', async () => {
    const metrics = new EngineMetrics(async () => ({}));
    await sleep(1_100);
    const blockedFor = 1_500;
    for (const until = Date.now() + blockedFor; Date.now() < until; );
    await sleep(1_100);
    const text = await metrics.registry.metrics();
    // The sample the block held up came about 0.5 s late at least (the block's length, less the part of it that fell
    // before the sample was due).
    expect(sample(text, 'sloe_nodejs_eventloop_lag_max_seconds')).toBeGreaterThanOrEqual(0.45);
    expect(sample(text, 'sloe_nodejs_eventloop_lag_max_seconds')).toBeLessThan(blockedFor / 1000 + 0.2);
    // Before the block, the loop was idle: its samples came in time.
    expect(sample(text, 'sloe_nodejs_eventloop_lag_min_seconds')).toBeLessThan(0.05);
    // The next scrape shows only what was sampled since: no block.
    await sleep(2_100);
    const next = await metrics.registry.metrics();
    expect(sample(next, 'sloe_nodejs_eventloop_lag_max_seconds')).toBeLessThan(0.2);
  });
});
