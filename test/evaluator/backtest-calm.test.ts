/**
 * A replay passes over calm steps (every instance ok now and before) without making their frames: it must find the
 * same incidents as a replay that makes every frame, for ratio and threshold SLOs with several instances, through
 * error bursts that fire and resolve.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FrameSource } from '../../src/evaluator/frame.js';
import { PrometheusClient, loadFrames, prometheusConfigFromEnv, replay } from '../../src/evaluator/index.js';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { type Config, loadRules } from '../../src/rules/index.js';
import { DAY, MIN, burstHistory } from '../support/assistant-history.js';

const FROM = Date.parse('2026-09-01T00:00:00Z');
const TO = FROM + 5 * DAY;
const BURST = FROM + 3 * DAY + 12 * 60 * MIN;

const SPECS = `apiVersion: sloe/v1
kind: EscalationPolicy
name: calm
page:
  - { notify: slack, channel: "#calm" }
---
apiVersion: sloe/v1
kind: ServiceLevels
service: calm
owner: sre
escalation: calm
dashboards: [{ id: calm, owner: sre-lead }]
slos:
  - name: availability
    signal: error_rate
    dashboard: calm
    ratio:
      bad: sum by (app) (rate(burst_requests_total{status="error"}[$window]))
      total: sum by (app) (rate(burst_requests_total[$window]))
    objective: 99.9%
    alert: { burnRate: workbook }
  - name: availability-good
    signal: error_rate
    dashboard: calm
    ratio:
      good: sum by (app) (rate(burst_requests_total{status="ok"}[$window]))
      total: sum by (app) (rate(burst_requests_total[$window]))
    objective: 99.9%
    alert: { burnRate: workbook }
  - name: error-rate
    signal: error_rate
    dashboard: calm
    query: sum by (app) (rate(burst_requests_total{status="error"}[5m])) / sum by (app) (rate(burst_requests_total[5m]))
    objective: "< 1%"
    alert: { when: "> 3%", for: 5m }
`;

let prom: LocalPrometheus;
let config: Config;
let dir: string;

beforeAll(async () => {
  prom = await startPrometheus({
    history: [
      ...burstHistory('a', 0.2, BURST, 30, FROM, TO),
      ...burstHistory('b', 0.05, BURST + 6 * 60 * MIN, 90, FROM, TO),
      // Starts late: its instance appears in the middle of the replay.
      ...burstHistory('c', 1, BURST + 20 * 60 * MIN, 10, FROM + 4 * DAY, TO),
    ],
  });
  dir = await mkdtemp(join(tmpdir(), 'sloe-calm-'));
  await writeFile(join(dir, 'slos.yaml'), SPECS);
  const loaded = await loadRules([dir]);
  expect(loaded.problems).toEqual([]);
  config = loaded.config;
});
afterAll(async () => {
  await prom?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a replay over calm steps', () => {
  it.each(['availability', 'availability-good', 'error-rate'])(
    'finds the incidents of %s that a replay of every frame finds',
    async (name) => {
      const slo = config.slos.find((s) => s.name === name)!;
      const policy = config.policies.get(slo.escalation);
      const client = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });
      const from = FROM + 3 * DAY;
      const times = Array.from({ length: (TO - from) / MIN + 1 }, (_, i) => from + i * MIN);
      const frames = await loadFrames(client, slo, from, TO, MIN);
      expect(frames.calm).toBeDefined();
      let calmSteps = 0;
      const counted: FrameSource = Object.assign((t: number) => frames(t), {
        calm: (t: number) => {
          const labels = frames.calm!(t);
          if (labels) calmSteps++;
          return labels;
        },
      });
      const everyFrame: FrameSource = (t) => frames(t);
      const skipping = replay(slo, policy, times, counted);
      expect(skipping).toEqual(replay(slo, policy, times, everyFrame));
      // Not vacuous: each app's burst fired and resolved, and many steps were calm (none before c's series began).
      expect(skipping.map((i) => [i.labels.app, i.incidents.length]).sort()).toEqual([
        ['a', 1],
        ['b', 1],
        ['c', 1],
      ]);
      expect(skipping.every((i) => i.incidents.every((inc) => inc.resolvedAt !== null))).toBe(true);
      expect(calmSteps).toBeGreaterThan(times.length / 4);
    },
  );
});
