/**
 * `sloe gate` as a CI step or an Argo Rollouts analysis Job runs it: the real binary against a real Prometheus
 * holding three histories of a prompt rollout, one each for promote, roll back and not enough data.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { gateOptions } from '../../src/cli/gate.js';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { ROOT, runSloe } from '../support/cli.js';
import { GATE_AT, variantHistory } from '../support/variant-history.js';

const SLOS = 'test/fixtures/slos/gate/assistant.yaml';
let prometheus: LocalPrometheus;

beforeAll(async () => {
  prometheus = await startPrometheus({ history: variantHistory() });
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
});

const gate = (at: number, ...extra: string[]) =>
  runSloe(
    ['gate', '--slos', SLOS, '--variant', 'answer_v2', '--for', '30m', '--at', new Date(at).toISOString(), ...extra],
    { env: { PROMETHEUS_URL: prometheus.url } },
  );

interface GateJson {
  variant: string;
  baseline: string;
  window: string;
  from: string;
  to: string;
  outcome: string;
  exitCode: number;
  checks: Array<{
    slo: string;
    outcome: string;
    baseline: { value: number | null; events: number };
    candidate: { value: number | null; events: number };
    condition: string;
    reason: string;
  }>;
}

async function gateJson(
  at: number,
  ...extra: string[]
): Promise<{ code: number | null; json: GateJson; stderr: string }> {
  const r = await gate(at, '--format', 'json', ...extra);
  return { code: r.code, json: JSON.parse(r.stdout) as GateJson, stderr: r.stderr };
}

const outcomes = (j: GateJson) => j.checks.map((c) => [c.slo, c.outcome]);

describe('sloe gate against three histories of a prompt rollout', () => {
  it('a canary as good as the baseline is promoted: exit 0', async () => {
    const { code, json, stderr } = await gateJson(GATE_AT.promote);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(json).toMatchObject({
      variant: 'answer_v2',
      baseline: 'answer_v1',
      window: '30m',
      from: '2026-11-02T00:30:00Z',
      to: '2026-11-02T01:00:00Z',
      outcome: 'promote',
      exitCode: 0,
    });
    expect(outcomes(json)).toEqual([
      ['assistant/latency-p95{model="sonnet"}', 'promote'],
      ['assistant/error-rate', 'promote'],
      ['assistant/eval-score', 'promote'],
    ]);
    // 90 and 10 requests a minute over 30 minutes; a score sample a minute, both ends of the window included.
    expect(json.checks.map((c) => [c.baseline.events, c.candidate.events])).toEqual([
      [2700, 300],
      [2700, 300],
      [31, 31],
    ]);
    expect(json.checks[0]!.candidate.value).toBeCloseTo(2.425, 3);
    expect(json.checks[1]!.candidate.value).toBeCloseTo(0.002, 6);
    expect(json.checks[2]).toMatchObject({
      baseline: { value: 80 },
      candidate: { value: 79.5 },
      condition: 'drop > 2',
    });
  });

  it('a slower, worse-scoring canary is rolled back: exit 1, and the text and markdown say why', async () => {
    const { code, json } = await gateJson(GATE_AT.rollback);
    expect(code).toBe(1);
    expect(json.outcome).toBe('rollback');
    expect(outcomes(json)).toEqual([
      ['assistant/latency-p95{model="sonnet"}', 'rollback'],
      ['assistant/error-rate', 'promote'],
      ['assistant/eval-score', 'rollback'],
    ]);
    expect(json.checks.map((c) => c.reason)).toEqual([
      '9.75 against baseline 2.425: rise > 20%',
      '0.002 against baseline 0.002: not rise > 0.005',
      '74 against baseline 80: drop > 2',
    ]);

    const text = await gate(GATE_AT.rollback);
    expect(text.code).toBe(1);
    expect(text.stdout.split('\n')[0]).toBe(
      'prompt_key=answer_v2 against answer_v1, 2026-11-02T01:30:00Z to 2026-11-02T02:00:00Z',
    );
    expect(text.stdout).toMatch(
      /^assistant\/latency-p95\{model="sonnet"\} +2\.425 \(2700\) +9\.75 \(300\) +rise > 20% +ROLL BACK +9\.75 against baseline 2\.425: rise > 20%$/m,
    );
    expect(text.stdout).toMatch(/^verdict: ROLL BACK \(exit 1\)$/m);

    const md = await gate(GATE_AT.rollback, '--format', 'markdown');
    expect(md.code).toBe(1);
    expect(md.stdout.split('\n')[0]).toBe(
      '### answer_v2 against answer_v1 over 30m to 2026-11-02T02:00:00Z: **roll back**',
    );
    expect(md.stdout).toContain(
      '| assistant/eval-score | 80 (31) | 74 (31) | drop > 2 | roll back | 74 against baseline 80: drop > 2 |',
    );
  });

  it('a canary with too little traffic is not judged: exit 3, not enough data yet', async () => {
    const { code, json } = await gateJson(GATE_AT.thin);
    expect(code).toBe(3);
    expect(json.outcome).toBe('insufficient');
    expect(json.checks.map((c) => [c.outcome, c.reason])).toEqual([
      ['insufficient', 'candidate has 60 of the 100 events needed (minEvents)'],
      ['insufficient', 'candidate has 60 of the 100 events needed (minEvents)'],
      ['promote', '80 against baseline 80: not drop > 2'],
    ]);
  });

  it('a variant Prometheus has never seen is not enough data, never a promotion', async () => {
    const { code, json } = await gateJson(GATE_AT.promote, '--variant', 'answer_v9');
    expect(code).toBe(3);
    expect(
      json.checks.every((c) => c.outcome === 'insufficient' && c.candidate.events === 0 && c.candidate.value === null),
    ).toBe(true);
  });
});

describe('sloe gate without a verdict: exit 2', () => {
  it('Prometheus unreachable: the cause, and no verdict on stdout', async () => {
    const r = await runSloe(
      ['gate', '--slos', SLOS, '--variant', 'answer_v2', '--at', new Date(GATE_AT.promote).toISOString()],
      { env: { PROMETHEUS_URL: 'http://127.0.0.1:9' } },
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^sloe gate: could not measure slo "assistant\/latency-p95" \(value of prompt_key="answer_v1"\): Prometheus at http:\/\/127\.0\.0\.1:9 is unreachable/m,
    );
    expect(r.stderr).toMatch(/^sloe gate: no verdict: the comparison could not be measured$/m);
  });

  it.each([
    [
      'SLO files without compare:',
      ['slos/', '--variant', 'answer_v2'],
      /^sloe gate: no SLO declares compare: .*nothing to gate on$/m,
    ],
    [
      'the baseline named as the candidate',
      ['--slos', SLOS, '--variant', 'answer_v1'],
      /--variant "answer_v1" is the baseline of assistant\/latency-p95, assistant\/error-rate, assistant\/eval-score/,
    ],
    ['no --variant', ['--slos', SLOS], /--variant is required/],
    [
      'a window shorter than a minute',
      ['--slos', SLOS, '--variant', 'answer_v2', '--for', '10s'],
      /--for must be a duration of at least 1m/,
    ],
    [
      'a label no SLO compares',
      ['--slos', SLOS, '--variant', 'answer_v2', '--label', 'model'],
      /no SLO compares label "model" \(they compare prompt_key\)/,
    ],
  ])('%s', async (_name, args, message) => {
    const r = await runSloe(['gate', ...args], { env: { PROMETHEUS_URL: prometheus.url } });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });
});

interface Container {
  command: string[];
  args: string[];
  env: Array<{ name: string; value: string }>;
}

describe('the Argo Rollouts analysis of docs/examples', () => {
  const docs = parseAllDocuments(
    readFileSync(join(ROOT, 'docs', 'examples', 'argo-rollouts-analysis.yaml'), 'utf8'),
  ).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as { kind: string; metadata: { name: string }; spec: Record<string, unknown> };
  });
  const template = docs.find((d) => d.kind === 'AnalysisTemplate')!;
  const job = (
    template.spec as {
      metrics: Array<{ provider: { job: { spec: { template: { spec: { containers: Container[] } } } } } }>;
    }
  ).metrics[0]!.provider.job;
  const container = job.spec.template.spec.containers[0]!;

  it('is an AnalysisTemplate with a job provider that the Rollout names, running sloe gate with options it accepts', () => {
    expect(docs.map((d) => d.kind)).toEqual(['AnalysisTemplate', 'Rollout']);
    expect(JSON.stringify(docs[1]!.spec)).toContain(`"templateName":"${template.metadata.name}"`);
    expect(container.args[0]).toBe('gate');
    expect(gateOptions(container.args.slice(1), 0)).toMatchObject({
      paths: ['/slos'],
      variant: '{{args.canary-variant}}',
      windowMs: 30 * 60_000,
      format: 'markdown',
    });
    expect(container.env).toContainEqual({ name: 'PROMETHEUS_URL', value: '{{args.prometheus-url}}' });
  });

  it('is what the README shows', () => {
    const file = readFileSync(join(ROOT, 'docs', 'examples', 'argo-rollouts-analysis.yaml'), 'utf8');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const args = file.match(/^ +args: \[gate, .*\]$/m)![0];
    expect(readme).toContain(args);
    expect(readme).toContain(
      `command: [${container.command.slice(0, 2).join(', ')}, '${container.command[2]}', ${container.command[3]}]`,
    );
  });

  it('its command runs the real sloe gate and passes its exit code on: 0 promotes, 1 rolls back', () => {
    const run = (at: number) => {
      const args = container.args.map((a) =>
        a === '/slos' ? SLOS : a === '{{args.canary-variant}}' ? 'answer_v2' : a,
      );
      return spawnSync(
        container.command[0]!,
        [...container.command.slice(1), ...args, '--at', new Date(at).toISOString()],
        {
          cwd: ROOT,
          env: { ...process.env, PROMETHEUS_URL: prometheus.url },
          encoding: 'utf8',
        },
      );
    };
    const promote = run(GATE_AT.promote);
    expect(promote.stdout).toMatch(
      /^### answer_v2 against answer_v1 over 30m to 2026-11-02T01:00:00Z: \*\*promote\*\*$/m,
    );
    expect(promote.status).toBe(0);
    expect(run(GATE_AT.rollback).status).toBe(1);
  });
});
