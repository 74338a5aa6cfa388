/**
 * The budgets of /metrics and the status page are recomputed about once a minute (on a scrape or a page load): their
 * queries must go to Prometheus merged, not two requests per SLO each time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetKeeper } from '../../src/budget/keeper.js';
import { PrometheusClient, prometheusConfigFromEnv } from '../../src/evaluator/prometheus.js';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import type { Slo } from '../../src/rules/index.js';
import { configFromText, oneService, ratioSlos } from '../support/rules.js';

const N = 50;
let prom: LocalPrometheus;
let slos: readonly Slo[];

beforeAll(async () => {
  const ratio = ratioSlos(
    N,
    (i) => `a${i}`,
    () => '    objective: 99.9%',
  );
  slos = (await configFromText(oneService(ratio))).slos;
  prom = await startPrometheus();
}, 120_000);

afterAll(async () => {
  await prom?.stop();
});

describe('BudgetKeeper', () => {
  it(`computes ${N} SLOs' budgets in a few merged requests, each SLO with its own answer`, async () => {
    const client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });
    const keeper = new BudgetKeeper({ prometheus: client, slos: () => slos, now: () => Date.now() });
    const snapshot = await keeper.refresh();
    expect([...snapshot.bySlo.keys()]).toEqual(slos.map((s) => s.id));
    expect([...snapshot.bySlo.values()].every((e) => e.budget !== undefined && e.error === undefined)).toBe(true);
    // Two queries an SLO, 40 to a request: 3 requests (it was 100).
    expect(client.queries).toBeLessThanOrEqual(Math.ceil((2 * N) / 40));
  });

  it('an unreachable Prometheus is an error for every SLO, never a budget', async () => {
    const client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: 'http://127.0.0.1:9', attempts: 1 });
    const keeper = new BudgetKeeper({ prometheus: client, slos: () => slos, now: () => Date.now() });
    const snapshot = await keeper.refresh();
    expect(snapshot.bySlo.size).toBe(N);
    expect([...snapshot.bySlo.values()].every((e) => e.budget === undefined && /unreachable/.test(e.error ?? ''))).toBe(
      true,
    );
  });
});
