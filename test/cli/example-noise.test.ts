/**
 * The shipped example under noise control, as users run it: `sloe backtest slos/` and `sloe eval` (the real CLI)
 * against a real Prometheus loaded with the assistant's history, three models slow at once. The ai-default
 * policy's `group:` makes the three latency-p95 pages one; a silence of the files and error-rate's `inhibits` show
 * in `eval` as SILENCED and HELD.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { MIN, at, assistantHistory } from '../support/assistant-history.js';
import { ROOT, runSloe } from '../support/cli.js';

const MODELS = ['haiku', 'opus', 'sonnet'];
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

let prom: LocalPrometheus;
let env: NodeJS.ProcessEnv;
let temp: string;
/** slos/ with the policy's `group:` removed. */
let ungrouped: string;
/** slos/ with a silence of the opus latency, Fridays 00:30–02:00 UTC (the slow episode is Friday 01:00–01:10). */
let silenced: string;

const SILENCE = `apiVersion: sloe/v1
kind: Silence
name: opus-load-test
owner: alice
reason: weekly load test of the opus deployment
matchers: ["slo = latency-p95", "model = opus"]
every: weekly
days: [fri]
from: "00:30"
to: "02:00"
timezone: UTC
`;

beforeAll(async () => {
  temp = await mkdtemp(join(tmpdir(), 'sloe-example-noise-'));
  ungrouped = join(temp, 'ungrouped');
  silenced = join(temp, 'silenced');
  await Promise.all([
    cp(join(ROOT, 'slos'), ungrouped, { recursive: true }),
    cp(join(ROOT, 'slos'), silenced, { recursive: true }),
  ]);
  const policy = await readFile(join(ungrouped, 'escalation.yaml'), 'utf8');
  expect(policy).toMatch(/^group: \{ by: \[service, slo\], wait: 30s \}\n/m);
  await writeFile(join(ungrouped, 'escalation.yaml'), policy.replace(/^group: .*\n/m, ''));
  await writeFile(join(silenced, 'silences.yaml'), SILENCE);
  prom = await startPrometheus({ history: assistantHistory(true, { models: MODELS }) });
  env = { PROMETHEUS_URL: prom.url, PAGERDUTY_ROUTING_KEY: 'test-key' };
}, 180_000);

afterAll(async () => {
  await prom?.stop();
  if (temp) await rm(temp, { recursive: true, force: true });
});

interface Step {
  notify: string;
  at: string;
  target?: string;
}
interface Incident {
  severity: string;
  firedAt: string;
  resolvedAt: string | null;
  steps: Step[];
  group?: {
    role: 'leader' | 'member';
    leader: { slo: string; labels: Record<string, string>; firedAt: string };
    size: number;
  };
}
interface Backtest {
  slos: Array<{ service: string; slo: string; labels: Record<string, string>; incidents: Incident[] }>;
}

/** `sloe backtest PATH --json` over 00:00–04:00 of the episode day: the latency-p95 incidents by model. */
async function latencyIncidents(path: string): Promise<Record<string, Incident[]>> {
  const r = await runSloe(['backtest', path, '--from', iso(at(0)), '--to', iso(at(4)), '--json'], {
    env,
    timeoutMs: 120_000,
  });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout) as Backtest;
  return Object.fromEntries(out.slos.filter((s) => s.slo === 'latency-p95').map((s) => [s.labels.model!, s.incidents]));
}

/** Slack at firing, PagerDuty 10m later: the page steps of ai-default that fall before the resolution. */
const pageSteps = (firedAt: string): Step[] => [
  { notify: 'slack', at: firedAt, target: '#ai-alerts' },
  { notify: 'pagerduty', at: iso(Date.parse(firedAt) + 10 * MIN), target: 'critical' },
];

describe('the three-model latency breach of the shipped example', () => {
  it('is one page: one incident leads the group and carries the steps, the other two follow it', async () => {
    const byModel = await latencyIncidents(`${ROOT}/slos`);
    expect(Object.keys(byModel).sort()).toEqual(MODELS);
    for (const model of MODELS) {
      expect(byModel[model], model).toHaveLength(1);
      expect(Math.abs(Date.parse(byModel[model]![0]!.firedAt) - at(1, 6)), model).toBeLessThanOrEqual(MIN);
    }
    const incidents = MODELS.map((m) => byModel[m]![0]!);
    const leaders = incidents.filter((i) => i.group?.role === 'leader');
    const members = incidents.filter((i) => i.group?.role === 'member');
    expect(leaders).toHaveLength(1);
    expect(members).toHaveLength(2);
    const [leader] = leaders;
    const leaderModel = MODELS.find((m) => byModel[m]![0] === leader)!;
    expect(leader!.severity).toBe('page');
    expect(leader!.group).toEqual({
      role: 'leader',
      leader: { slo: 'it-support-assistant/latency-p95', labels: { model: leaderModel }, firedAt: leader!.firedAt },
      size: 3,
    });
    expect(leader!.steps).toEqual(pageSteps(leader!.firedAt));
    for (const member of members) {
      expect(member.severity).toBe('page');
      expect(member.steps).toEqual([]);
      expect(member.group).toEqual({
        role: 'member',
        leader: { slo: 'it-support-assistant/latency-p95', labels: { model: leaderModel }, firedAt: leader!.firedAt },
        size: 3,
      });
    }
  }, 120_000);

  it("without the policy's group: three pages, each with its own steps", async () => {
    const byModel = await latencyIncidents(ungrouped);
    expect(Object.keys(byModel).sort()).toEqual(MODELS);
    for (const model of MODELS) {
      const [incident] = byModel[model]!;
      expect(byModel[model], model).toHaveLength(1);
      expect(incident!.severity).toBe('page');
      expect(incident!.group).toBeUndefined();
      expect(incident!.steps, model).toEqual(pageSteps(incident!.firedAt));
    }
  }, 120_000);

  it('the text summary counts the group as one page, and its members as neither pages nor tickets', async () => {
    const args = ['--from', iso(at(0)), '--to', iso(at(4))];
    const [grouped, alone] = await Promise.all([
      runSloe(['backtest', `${ROOT}/slos`, ...args], { env, timeoutMs: 120_000 }),
      runSloe(['backtest', ungrouped, ...args], { env, timeoutMs: 120_000 }),
    ]);
    expect([grouped.code, alone.code]).toEqual([0, 0]);
    // The latency pages and cache-hit-rate's ticket at 02:18.
    expect(grouped.stdout).toMatch(
      /^4 incident\(s\) would have fired \(1 page, 1 ticket, 2 in another's group\), running 3 escalation step\(s\)/m,
    );
    expect(grouped.stdout.match(/leads a group of 3: its steps are the group's/g)).toHaveLength(1);
    expect(
      grouped.stdout.match(
        /in the group of it-support-assistant\/latency-p95\{model="\w+"\} fired 2026-10-09T01:0\d:00Z: follows its steps/g,
      ),
    ).toHaveLength(2);
    expect(alone.stdout).toMatch(
      /^4 incident\(s\) would have fired \(3 page, 1 ticket\), running 7 escalation step\(s\)/m,
    );
  }, 120_000);
});

interface EvalRow {
  service: string;
  slo: string;
  labels: Record<string, string>;
  state: string;
  severity?: string;
  silenced?: { by: string; reason: string; until: string };
  held?: { by: string; reason: string };
}

async function evalAt(t: number, json: boolean) {
  const r = await runSloe(['eval', silenced, '--at', iso(t), ...(json ? ['--json'] : [])], { env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

describe('sloe eval shows silenced and held instances', () => {
  it('a silence of the files: the opus latency breach is SILENCED, the other models page', async () => {
    const out = JSON.parse(await evalAt(at(1, 8), true)) as { slos: EvalRow[] };
    const latency = out.slos.filter((r) => r.slo === 'latency-p95');
    expect(latency.map((r) => [r.labels.model, r.state, r.severity]).sort()).toEqual(
      MODELS.map((m) => [m, 'breach', 'page']),
    );
    expect(latency.find((r) => r.labels.model === 'opus')!.silenced).toEqual({
      by: 'silence opus-load-test (alice)',
      reason: 'weekly load test of the opus deployment',
      until: '2026-10-09T02:00:00Z',
    });
    for (const row of latency.filter((r) => r.labels.model !== 'opus'))
      expect(row.silenced, row.labels.model).toBeUndefined();
    expect(out.slos.filter((r) => r.silenced || r.held)).toHaveLength(1);

    const text = await evalAt(at(1, 8), false);
    expect(text).toMatch(
      /^it-support-assistant\s+latency-p95\s+\{model="opus"\}\s.*BREACH \(page\) SILENCED\s+.*; silenced by silence opus-load-test \(alice\) until 2026-10-09T02:00:00Z: weekly load test of the opus deployment$/m,
    );
    expect(text).toMatch(/^it-support-assistant\s+latency-p95\s+\{model="sonnet"\}\s.*BREACH \(page\)\s{2,}/m);
    expect(text.match(/SILENCED|HELD/g)).toHaveLength(1);
  });

  it("inhibits: while error-rate pages, availability's page is HELD, caused by error-rate", async () => {
    // 10:40, forty minutes into the 30% error fault: both breach at page severity.
    const out = JSON.parse(await evalAt(at(10, 40), true)) as { slos: EvalRow[] };
    const [errors, availability] = ['error-rate', 'availability'].map((n) => out.slos.find((r) => r.slo === n)!);
    expect(errors).toMatchObject({ state: 'breach', severity: 'page' });
    expect(errors!.held).toBeUndefined();
    expect(availability).toMatchObject({ state: 'breach', severity: 'page' });
    expect(availability!.held).toEqual({
      by: 'it-support-assistant/error-rate',
      reason: 'it breaches at page severity now (it-support-assistant/error-rate inhibits availability)',
    });
    expect(out.slos.filter((r) => r.silenced || r.held).map((r) => r.slo)).toEqual(['availability']);

    const text = await evalAt(at(10, 40), false);
    expect(text).toMatch(
      /^it-support-assistant\s+availability\s+-\s.*BREACH \(page\) HELD\s+.*; held: caused by it-support-assistant\/error-rate\? it breaches at page severity now \(it-support-assistant\/error-rate inhibits availability\)$/m,
    );
    expect(text).toMatch(/^it-support-assistant\s+error-rate\s+-\s.*BREACH \(page\)\s{2,}/m);
    expect(text.match(/SILENCED|HELD/g)).toHaveLength(1);
  });
});

describe("the README's noise control is the shipped example", () => {
  it('its group and inhibits lines are those of slos/, and its Silence validates with slos/ (--strict)', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Noise control'), readme.indexOf('### Running the engine'));
    const [policy, slos, silence] = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(silence).toBeDefined();
    const lines = (text: string) =>
      text
        .split('\n')
        .map((l) =>
          l
            .replace(/\s+#.*$/, '')
            .replace(/^#.*$/, '')
            .trim(),
        )
        .filter(Boolean);
    const shipped = async (file: string) => new Set(lines(await readFile(join(ROOT, 'slos', file), 'utf8')));
    const [policyFile, sloFile] = await Promise.all([shipped('escalation.yaml'), shipped('it-support-assistant.yaml')]);
    expect(lines(policy!).filter((l) => !policyFile.has(l))).toEqual([]);
    expect(lines(slos!).filter((l) => !sloFile.has(l))).toEqual([]);
    expect(lines(policy!)).toContain('group: { by: [service, slo], wait: 30s }');
    expect(lines(slos!)).toContain('inhibits: [availability]');

    const dir = join(temp, 'readme');
    await cp(join(ROOT, 'slos'), dir, { recursive: true });
    await writeFile(join(dir, 'maintenance.yaml'), silence!);
    const r = await runSloe(['validate', dir, '--strict']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sloe: 9 SLOs in 4 files: valid\n');
    expect(r.code).toBe(0);
  });
});
