/**
 * `sloe init` against a real Prometheus that holds an OpenTelemetry-GenAI-shaped service: the file it writes
 * validates once the owners are filled in, it says which signals it could not find, and it backtests the week.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { runSloe } from '../support/cli.js';
import { END, otelHistory } from '../support/otel-history.js';

let prometheus: LocalPrometheus;
let dir: string;

beforeAll(async () => {
  prometheus = await startPrometheus({ history: otelHistory(true) });
  dir = await mkdtemp(join(tmpdir(), 'sloe-init-'));
}, 240_000);

afterAll(async () => {
  await prometheus?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('sloe init', () => {
  it('writes a spec from what the service exports, names what it could not find, and backtests the last 7 days', async () => {
    const r = await runSloe(
      [
        'init',
        '--prometheus',
        prometheus.url,
        '--service',
        'assistant',
        '--out',
        dir,
        '--at',
        new Date(END).toISOString(),
      ],
      { timeoutMs: 120_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/profile opentelemetry-genai/);
    expect(r.stdout).toMatch(/^ {2}found {6}latency {11}gen_ai_client_operation_duration_seconds/m);
    expect(r.stdout).toMatch(
      /^ {2}found {6}error_rate {8}gen_ai_client_operation_duration_seconds_count, failures by error_type$/m,
    );
    expect(r.stdout).toMatch(/^ {2}found {6}cache_hit_rate {4}assistant_cache_requests_total, hits by result="hit"$/m);
    expect(r.stdout).toMatch(
      /^ {2}not found {2}cost_per_request {2}gen_ai_client_token_usage found: set metrics.tokenPrices/m,
    );
    for (const s of ['guardrail_rate', 'queue_depth', 'eval_score'])
      expect(r.stdout).toMatch(new RegExp(`^  found      ${s}`, 'm'));
    // The week ends with the episode day: p95 latency paged on it.
    expect(r.stdout).toMatch(/^ {2}latency-p95 +1: page 2026-10-09T01:\d\d:00Z$/m);
    expect(r.stdout).toMatch(/^\d+ page\(s\) and \d+ ticket\(s\) in 7 days$/m);

    const file = join(dir, 'assistant.yaml');
    const before = await runSloe(['validate', file]);
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/assistant\.yaml:\d+:\d+: owner must not be empty/);
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace(/^owner: ""/m, 'owner: ai-team').replace(/^( {4}owner: )""/m, '$1alice'));
    const after = await runSloe(['validate', file, '--strict']);
    expect(after.stdout).toBe('');
    expect(after.code).toBe(0);
    expect(after.stderr).toMatch(/^sloe: 7 SLOs in 1 file: valid$/m);
  });

  it('never overwrites a spec, and says so', async () => {
    const r = await runSloe([
      'init',
      '--prometheus',
      prometheus.url,
      '--service',
      'assistant',
      '--out',
      dir,
      '--no-backtest',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/assistant\.yaml exists: sloe init never overwrites a spec/);
  });

  it('a service with no golden-signal metric: exit 1, nothing written', async () => {
    const r = await runSloe([
      'init',
      '--prometheus',
      prometheus.url,
      '--service',
      'nothing-here',
      '--out',
      dir,
      '--at',
      new Date(END).toISOString(),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no golden-signal metric found for \{job="nothing-here"\}/);
  });

  it('Prometheus down: exit 2 with the cause', async () => {
    const r = await runSloe(['init', '--prometheus', 'http://127.0.0.1:9', '--service', 'other', '--out', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/could not read the series .* unreachable/);
  });
});
