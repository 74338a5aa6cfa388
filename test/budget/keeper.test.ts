/**
 * The budgets of /metrics and the status page are recomputed about once a minute (on a scrape or a page load): their
 * queries must go to Prometheus merged, not two requests per SLO each time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetKeeper } from '../../src/budget/keeper.js';
import { PrometheusClient, prometheusConfigFromEnv } from '../../src/evaluator/prometheus.js';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { type Slo, loadRules } from '../../src/rules/index.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const N = 50;
let prom: LocalPrometheus;
let dir: string;
let slos: readonly Slo[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sloe-keeper-'));
  const ratio = Array.from(
    { length: N },
    (_, i) => `  - name: availability-${i}
    signal: error_rate
    dashboard: d
    ratio:
      bad: sum(rate(req_total{app="a${i}", status="error"}[$window]))
      total: sum(rate(req_total{app="a${i}"}[$window]))
    objective: 99.9%
    alert: { burnRate: workbook }
`,
  ).join('');
  await writeFile(
    join(dir, 'slos.yaml'),
    `apiVersion: sloe/v1
kind: EscalationPolicy
name: p
page: [{ notify: slack, channel: "#a" }]
---
apiVersion: sloe/v1
kind: ServiceLevels
service: s
owner: sre
escalation: p
dashboards: [{ id: d, owner: alice }]
slos:
${ratio}`,
  );
  const loaded = await loadRules([dir]);
  expect(loaded.problems).toEqual([]);
  slos = loaded.config.slos;
  prom = await startPrometheus();
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  await rm(dir, { recursive: true, force: true });
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
