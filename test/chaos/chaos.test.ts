import { describe, expect, it } from 'vitest';
import { formatReport } from '../../bench/chaos/account.js';
import { SHORT } from '../../bench/chaos/plan.js';
import { runChaos } from '../../bench/chaos/run.js';

describe('the chaos run, short', () => {
  it('two replicas through a kill mid-delivery, Slack and PagerDuty errors, Redis paused and emptied, an invalid reload and Prometheus down: nothing lost, nothing paged twice or after an Ack', async () => {
    const report = await runChaos(SHORT, { say: () => undefined });
    const failed = report.invariants
      .filter((i) => !i.ok)
      .map((i) => `${i.name}: ${i.value}${i.detail ? ` — ${i.detail}` : ''}`);
    // The accounting itself saw the run: every planned incident, every expected step.
    expect(report.figures.incidents_expected).toBeGreaterThan(0);
    expect(report.figures.steps_expected, formatReport(report)).toBeGreaterThan(report.figures.incidents_expected);
    expect(failed, formatReport(report)).toEqual([]);
  }, 150_000);
});
