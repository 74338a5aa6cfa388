/**
 * `sloe backtest` lays the repetitions of a `repeat` on the timeline until the incident resolves (acknowledgements
 * are not simulated), in its JSON and its text output.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { runSloe } from '../support/cli.js';

const MIN = 60_000;
const T = Date.parse('2026-09-01T00:00:00Z');
const iso = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');

/** Queue depth one sample a minute for 3h: breaching (350) from T+30m until T+90m, healthy (20) otherwise. */
function* history() {
  const samples: Array<[number, number]> = [];
  for (let t = T; t <= T + 180 * MIN; t += MIN) samples.push([t, t >= T + 30 * MIN && t < T + 90 * MIN ? 350 : 20]);
  yield { name: 'demo_backtest_depth', labels: {}, samples };
}

const SLOS = `apiVersion: sloe/v1
kind: EscalationPolicy
name: step-repeat
page:
  - notify: slack
    channel: "#alerts"
  - after: 10m
    notify: pagerduty
    repeat: 30m
---
apiVersion: sloe/v1
kind: EscalationPolicy
name: policy-repeat
repeat: 20m
page:
  - notify: slack
    channel: "#alerts"
  - after: 10m
    notify: pagerduty
---
apiVersion: sloe/v1
kind: ServiceLevels
service: queue
owner: platform
interval: 1m
dashboards: [{ id: queue, title: Queue, owner: bob }]
slos:
  - name: step-repeat
    escalation: step-repeat
    signal: queue_depth
    dashboard: queue
    query: max(demo_backtest_depth)
    objective: "< 50"
    alert: { when: "> 200", for: 0s, resolveAfter: 5m }
  - name: policy-repeat
    escalation: policy-repeat
    signal: queue_depth
    dashboard: queue
    query: max(demo_backtest_depth)
    objective: "< 50"
    alert: { when: "> 200", for: 0s, resolveAfter: 5m }
`;

let prometheus: LocalPrometheus;
let dir: string;

beforeAll(async () => {
  prometheus = await startPrometheus({ history: history() });
  dir = await mkdtemp(join(tmpdir(), 'sloe-backtest-repeat-'));
  await writeFile(join(dir, 'queue.yaml'), SLOS);
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await rm(dir, { recursive: true, force: true });
});

const backtest = (...extra: string[]) =>
  runSloe(['backtest', dir, '--from', iso(T), '--to', iso(T + 180 * MIN), ...extra], {
    env: { PROMETHEUS_URL: prometheus.url },
  });

describe('sloe backtest with repeat', () => {
  it('--json lists each repetition until the incident resolves', async () => {
    const r = await backtest('--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      slos: Array<{ slo: string; incidents: Array<{ firedAt: string; resolvedAt: string; steps: unknown[] }> }>;
    };
    const incident = (slo: string) => out.slos.find((s) => s.slo === slo)!.incidents;
    // Fired at T+30m, healthy from T+90m, resolved 5m later.
    for (const slo of ['step-repeat', 'policy-repeat']) {
      expect(incident(slo).map((i) => [i.firedAt, i.resolvedAt])).toEqual([[iso(T + 30 * MIN), iso(T + 95 * MIN)]]);
    }
    // The PagerDuty step repeats every 30m: T+40m, T+70m; T+100m falls after the resolution.
    expect(incident('step-repeat')[0]!.steps).toEqual([
      { notify: 'slack', at: iso(T + 30 * MIN), target: '#alerts' },
      { notify: 'pagerduty', at: iso(T + 40 * MIN), target: 'critical' },
      { notify: 'pagerduty', at: iso(T + 70 * MIN), target: 'critical', repeat: 1 },
    ]);
    // The page steps start over 20m after the last of them ran: Slack T+60m, PagerDuty T+70m, Slack T+90m.
    expect(incident('policy-repeat')[0]!.steps).toEqual([
      { notify: 'slack', at: iso(T + 30 * MIN), target: '#alerts' },
      { notify: 'pagerduty', at: iso(T + 40 * MIN), target: 'critical' },
      { notify: 'slack', at: iso(T + 60 * MIN), target: '#alerts', repeat: 1 },
      { notify: 'pagerduty', at: iso(T + 70 * MIN), target: 'critical', repeat: 1 },
      { notify: 'slack', at: iso(T + 90 * MIN), target: '#alerts', repeat: 2 },
    ]);
  });

  it('the text timeline marks the repetitions', async () => {
    const r = await backtest();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`    ${iso(T + 70 * MIN)}  → pagerduty (critical) (repeat 1)\n`);
    expect(r.stdout).toContain(`    ${iso(T + 90 * MIN)}  → slack #alerts (repeat 2)\n`);
    expect(r.stdout).toMatch(/^2 incident\(s\) would have fired \(2 page, 0 ticket\), running 8 escalation step\(s\)/m);
  });
});
