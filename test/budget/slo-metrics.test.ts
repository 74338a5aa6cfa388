/**
 * The sloe_slo_* gauges of /metrics are rendered again only when their values change (a budget refresh, an incident
 * opening or closing, a reload): the text served in between is the one rendered last, and it is the text prom-client
 * renders itself.
 */
import { join } from 'node:path';
import { Gauge, Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { BudgetKeeper } from '../../src/budget/keeper.js';
import { registerSloMetrics } from '../../src/budget/metrics.js';
import type { Labels } from '../../src/evaluator/labels.js';
import type { PrometheusPort, RangeSeries } from '../../src/evaluator/prometheus.js';
import type { Incident } from '../../src/incident/model.js';
import { CachingRegistry } from '../../src/observability/metrics.js';
import { type Slo, loadRules } from '../../src/rules/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MIN = 60_000;

/** Prometheus answering every range query (merged ones part by part) with steady rates, `bad` of 1,000 bad. */
function steady(bad: () => number): PrometheusPort {
  return {
    instant: () => Promise.reject(new Error('no instant queries here')),
    range: async (query, start, end, stepMs): Promise<RangeSeries[]> => {
      const parts = [...query.matchAll(/label_replace\((.*?), "sloe_query", "(\d+)", "", ""\)/g)];
      const asked = parts.length ? parts.map((m) => ({ query: m[1]!, label: m[2] })) : [{ query, label: undefined }];
      const times = Float64Array.from({ length: (end - start) / stepMs + 1 }, (_, k) => start + k * stepMs);
      return asked.map(({ query: q, label }) => ({
        labels: (label === undefined ? {} : { sloe_query: label }) as Labels,
        times,
        values: times.map(() => (q.includes('error') ? bad() : 1000)),
      }));
    },
  };
}

let slos: readonly Slo[];

beforeAll(async () => {
  const loaded = await loadRules([join(ROOT, 'test/fixtures/slos/budget')]);
  expect(loaded.problems).toEqual([]);
  slos = loaded.config.slos;
});

describe('the SLO gauges of /metrics', () => {
  it('are rendered as prom-client renders them, again only when a refresh, an incident or a reload changed them', async () => {
    let now = Date.parse('2026-11-01T00:00:00Z');
    let bad = 5;
    let open: Incident[] = [];
    let current = slos;
    let incidentReads = 0;
    const keeper = new BudgetKeeper({ prometheus: steady(() => bad), slos: () => current, now: () => now });
    const source = {
      slos: () => current,
      budgets: keeper,
      openIncidents: async () => {
        incidentReads++;
        return open;
      },
    };
    const cached = new CachingRegistry();
    const plain = new Registry();
    for (const registry of [cached, plain]) {
      new Gauge({ name: 'sloe_other', help: 'a gauge before them', registers: [registry] }).set(3);
      registerSloMetrics(registry, source);
    }
    const both = async () => {
      const text = await cached.metrics();
      expect(text).toBe(await plain.metrics());
      return text;
    };
    const first = await both();
    expect(first).toContain('sloe_slo_objective{');
    expect(first).toMatch(/^sloe_other 3$/m);
    const queue = slos.find((s) => s.kind === 'ratio')!;
    const alertLine = (text: string) =>
      text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('sloe_slo_alert_state{') && l.includes(`slo="${queue.name}"`) && l.includes('severity="page"'),
        );
    expect(alertLine(first)).toMatch(/ 0$/);

    // Nothing changed: the text is the one kept, the budget gauges' series are not made again...
    const objective = cached.getSingleMetric('sloe_slo_objective') as unknown as {
      writeText(out: unknown): Promise<void>;
    };
    const written = objective.writeText.bind(objective);
    let gets = 0;
    objective.writeText = (out) => {
      gets++;
      return written(out);
    };
    expect(await cached.metrics()).toBe(first);
    expect(gets).toBe(0);
    // ...while the alert states are read at each scrape.
    const reads = incidentReads;
    await cached.metrics();
    expect(incidentReads).toBe(reads + 1);

    // An incident opens: its SLO's alert state is 1.
    open = [{ sloId: queue.id, severity: 'page' } as Incident];
    const firing = await cached.metrics();
    expect(alertLine(firing)).toMatch(/ 1$/);

    // A budget refresh (a minute later, more bad events): the budget gauges are rendered again.
    bad = 50;
    now += 6 * MIN;
    await keeper.refresh();
    const refreshed = await both();
    expect(refreshed).not.toBe(firing);
    expect(gets).toBe(1);
    expect(alertLine(refreshed)).toMatch(/ 1$/);

    // A reload that removes an SLO takes its lines away at once.
    current = slos.filter((s) => s.id !== queue.id);
    const reloaded = await both();
    expect(alertLine(reloaded)).toBeUndefined();
    expect(reloaded).not.toContain(`slo="${queue.name}",signal="${queue.signal}"`);
  });
  it('serve scrapes that overlap, each with the open incidents it read', async () => {
    const keeper = new BudgetKeeper({ prometheus: steady(() => 5), slos: () => slos, now: () => Date.now() });
    const open = [{ sloId: slos[0]!.id, severity: 'page' } as Incident];
    // The incident store answers at once: reads made by overlapping scrapes finish in the same tick.
    const source = { slos: () => slos, budgets: keeper, openIncidents: async () => open };
    const cached = new CachingRegistry();
    const plain = new Registry();
    registerSloMetrics(cached, source);
    registerSloMetrics(plain, source);
    for (const registry of [cached, plain]) {
      const texts = await Promise.all([registry.metrics(), registry.metrics(), registry.metrics()]);
      for (const text of texts)
        expect(text.split('\n').filter((l) => /^sloe_slo_alert_state\{.* 1$/.test(l))).toHaveLength(1);
    }
    // A scrape served from the kept text leaves nothing behind for a later render: closed, it shows 0.
    await cached.metrics();
    open.length = 0;
    const json = await cached.getMetricsAsJSON();
    const states = json.find((m) => m.name === 'sloe_slo_alert_state')!.values;
    expect(states.length).toBeGreaterThan(0);
    expect(states.every((v) => v.value === 0)).toBe(true);
  });

  it('keep the alert states with what the render read: a failed read, or a change between two reads, is not kept', async () => {
    const keeper = new BudgetKeeper({ prometheus: steady(() => 5), slos: () => slos, now: () => Date.now() });
    const firing = [{ sloId: slos[0]!.id, severity: 'page' } as Incident];
    // Each scrape reads the open incidents for the version, then for the text: `answers` says what each read gets.
    let answers: Array<readonly Incident[] | 'fail'> = [];
    const source = {
      slos: () => slos,
      budgets: keeper,
      openIncidents: async () => {
        const answer = answers.shift() ?? firing;
        if (answer === 'fail') throw new Error('incident store down');
        return answer;
      },
    };
    const cached = new CachingRegistry();
    registerSloMetrics(cached, source);
    const states = (text: string) => text.split('\n').filter((l) => l.startsWith('sloe_slo_alert_state{'));
    const firingLines = (text: string) => states(text).filter((l) => l.endsWith(' 1'));

    // The text's read fails: the scrape leaves the alert states out, and the next one, whose reads succeed, has them.
    answers = [firing, 'fail'];
    expect(states(await cached.metrics())).toEqual([]);
    expect(firingLines(await cached.metrics())).toHaveLength(1);

    // Closed, then open for the version's read and closed again for the text's: the text shows it closed, and the
    // next scrape, which reads it open, shows it open.
    answers = [[], []];
    expect(firingLines(await cached.metrics())).toEqual([]);
    answers = [firing, []];
    expect(firingLines(await cached.metrics())).toEqual([]);
    expect(firingLines(await cached.metrics())).toHaveLength(1);
  });
});
