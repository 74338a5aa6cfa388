/**
 * The Prometheus rules export against sloe itself: `promtool test rules` replays the rules over the history the
 * backtest tests use, and each alert must fire (and resolve) in the evaluation step `sloe backtest` says, ± one step.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertNames, prometheusRules } from '../../src/interop/index.js';
import type { SeriesHistory } from '../../src/local/openmetrics.js';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { type Config, type Slo, loadRules } from '../../src/rules/index.js';
import { D, END, HOUR, MIN, at, assistantHistory } from '../support/assistant-history.js';
import { ROOT, runSloe } from '../support/cli.js';
import { mapLimit } from '../../src/util/async.js';

const run = promisify(execFile);

/** The no-data episode: the approval queue gauge is not scraped for an hour. */
const GAP = { name: 'llm_approval_queue_depth', from: at(13), to: at(14) };

function history(): SeriesHistory[] {
  return assistantHistory(true).map((s) =>
    s.name === GAP.name ? { ...s, samples: [...s.samples].filter(([t]) => t < GAP.from || t >= GAP.to) } : s,
  );
}

/**
 * History before day D each replay starts with: enough for every window of the SLOs replayed (6h). SLOs with longer
 * windows (the 3d ticket tier of availability, the 8-day baseline of eval-score, the 1d cost average) take promtool
 * minutes to replay a step at a time; test/fixtures/interop/agreement.yaml has a burn-rate and a baseline SLO on
 * the same history with short windows instead, and the long ones are checked by promtool check rules.
 */
const LOOKBACK = 7 * HOUR;
const LONG_WINDOWS = new Set(['availability', 'eval-score', 'cost-per-request']);
const PATHS = ['slos', 'test/fixtures/interop/agreement.yaml'];

/** One series as promtool's input_series: a value per minute from `start`, `_` where there is no sample. */
function inputSeries(s: SeriesHistory, start: number, end: number): { series: string; values: string } {
  const labels = Object.entries(s.labels ?? {})
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',');
  const values = new Array<string>(Math.round((end - start) / MIN) + 1).fill('_');
  for (const [t, v] of s.samples) if (t >= start && t <= end) values[Math.round((t - start) / MIN)] = String(v);
  return { series: `${s.name}{${labels}}`, values: values.join(' ') };
}

interface Incident {
  severity: 'page' | 'ticket';
  reason: 'breach' | 'nodata' | 'error';
  firedAt: string;
  resolvedAt: string | null;
}
interface Entry {
  service: string;
  slo: string;
  incidents: Incident[];
}

let prometheus: LocalPrometheus;
let config: Config;
let backtest: Entry[];
let dir: string;
let series: SeriesHistory[];

beforeAll(async () => {
  series = history();
  [prometheus, dir] = await Promise.all([
    startPrometheus({ history: series }),
    mkdtemp(join(tmpdir(), 'sloe-rules-test-')),
  ]);
  const loaded = await loadRules(PATHS.map((p) => `${ROOT}/${p}`));
  expect(loaded.problems).toEqual([]);
  config = loaded.config;
  const result = await runSloe(
    ['backtest', ...PATHS, '--from', new Date(D).toISOString(), '--to', new Date(END).toISOString(), '--json'],
    {
      env: { PROMETHEUS_URL: prometheus.url },
      timeoutMs: 170_000,
    },
  );
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  backtest = (JSON.parse(result.stdout) as { slos: Entry[] }).slos;
}, 180_000);

afterAll(async () => {
  await prometheus?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const hm = (t: number) => new Date(t).toISOString().slice(5, 16).replace('T', ' ');

/** The ALERTS selector of the alert that stands for a sloe incident. */
function alertsOf(slo: Slo, incident: Incident, anySeverity = false): string {
  const names = alertNames(slo);
  const name = incident.reason === 'nodata' ? names.noData : slo.kind === 'ratio' ? names.burnRate : names.breach;
  const severity =
    slo.kind === 'ratio' && incident.reason === 'breach' && !anySeverity ? `, severity="${incident.severity}"` : '';
  return `max(ALERTS{alertname="${name}", alertstate="firing", slo="${slo.name}"${severity}})`;
}

interface Check {
  what: string;
  expr: string;
  eval_time: string;
  exp_samples: Array<{ labels: string; value: number }>;
}

/**
 * For each incident the backtest found: firing one step after sloe fired it and not two steps before (so Prometheus
 * fired within one step of it); resolved one step after sloe resolved it and still firing two steps before.
 */
function checksFor(slo: Slo, incidents: Incident[], start: number): Check[] {
  const minutes = (t: number) => `${Math.round((t - start) / MIN)}m`;
  const firing = [{ labels: '{}', value: 1 }];
  const checks: Check[] = [];
  incidents.forEach((incident, i) => {
    const fired = Date.parse(incident.firedAt);
    const resolved = incident.resolvedAt === null ? null : Date.parse(incident.resolvedAt);
    const before = i > 0 ? incidents[i - 1]!.resolvedAt : null;
    const next = incidents[i + 1] ? Date.parse(incidents[i + 1]!.firedAt) : Infinity;
    const what = `${slo.name} ${incident.reason} ${incident.severity} fired ${hm(fired)}`;
    checks.push({
      what: `${what}: firing a step later`,
      expr: alertsOf(slo, incident),
      eval_time: minutes(fired + MIN),
      exp_samples: firing,
    });
    if (before === null || Date.parse(before) < fired - 3 * MIN) {
      checks.push({
        what: `${what}: not firing two steps earlier`,
        expr: alertsOf(slo, incident),
        eval_time: minutes(fired - 2 * MIN),
        exp_samples: [],
      });
    }
    if (resolved !== null && resolved + 2 * MIN < next) {
      checks.push({
        what: `${what}: resolved a step after ${hm(resolved)}`,
        expr: alertsOf(slo, incident, true),
        eval_time: minutes(resolved + MIN),
        exp_samples: [],
      });
      checks.push({
        what: `${what}: still firing two steps before ${hm(resolved)}`,
        expr: alertsOf(slo, incident, true),
        eval_time: minutes(resolved - 2 * MIN),
        exp_samples: firing,
      });
    }
  });
  return checks;
}

/** Runs promtool test rules on one SLO's rules and checks, over the history from `start`; returns what failed. */
async function promtoolTest(
  slo: Slo,
  checks: Check[],
  start: number,
): Promise<{ failed: string[]; out: string; ms: number }> {
  const name = `${slo.service}-${slo.name}`;
  const end = Math.max(...checks.map((c) => start + Number.parseInt(c.eval_time, 10) * MIN));
  await writeFile(join(dir, `${name}.rules.yml`), prometheusRules({ ...config, slos: [slo] }).text);
  const test = {
    rule_files: [`${name}.rules.yml`],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: series.map((s) => inputSeries(s, start, end)),
        promql_expr_test: checks.map(({ what: _what, ...c }) => c),
      },
    ],
  };
  await writeFile(join(dir, `${name}.test.yml`), JSON.stringify(test));
  const started = performance.now();
  const result = await run('promtool', ['test', 'rules', `${name}.test.yml`], {
    cwd: dir,
    maxBuffer: 64 * 1024 * 1024,
  }).then(
    (r) => ({ ok: true, out: r.stdout + r.stderr }),
    (e: { stdout: string; stderr: string }) => ({ ok: false, out: e.stdout + e.stderr }),
  );
  const failed = checks
    .filter((c) => result.out.includes(`expr: "${c.expr.replaceAll('"', '\\"')}", time: ${c.eval_time}`))
    .map((c) => c.what);
  if (!result.ok && failed.length === 0) failed.push(`promtool failed: ${result.out.slice(0, 2000)}`);
  return { failed, out: result.out, ms: performance.now() - started };
}

describe('sloe export prometheus-rules', () => {
  it('passes promtool check rules for slos/ and every good fixture', async () => {
    const out = join(dir, 'checked.yml');
    const good = (await readdir(join(ROOT, 'test/fixtures/slos/good'))).map((f) => `test/fixtures/slos/good/${f}`);
    const paths = ['slos', 'test/fixtures/slos/burn-rate', ...good];
    for (const path of paths) {
      const result = await runSloe(['export', 'prometheus-rules', path, '--out', out]);
      expect(result.code, result.stderr).toBe(0);
      const checked = await run('promtool', ['check', 'rules', out]).catch(
        (e: { stdout: string; stderr: string }) => e,
      );
      expect(checked.stderr, path).toBe('');
      expect(checked.stdout, path).toMatch(/SUCCESS: [1-9]\d* rules found/);
    }
    expect(paths.length).toBeGreaterThan(5);
  }, 180_000);

  it('says what the rules cannot express, per SLO, in the output and on stderr', async () => {
    const result = await runSloe(['export', 'prometheus-rules', 'slos']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      'sloe export: it-support-assistant/eval-score: not expressible as rules: the baseline is matched',
    );
    expect(result.stdout).toContain(
      '# it-support-assistant/eval-score (baseline SLO), from slos/it-support-assistant.yaml:',
    );
    expect(result.stdout).toContain(
      '# not expressible as rules: the baseline is matched to the value series label for label',
    );
    expect(result.stdout).toMatch(
      /# it-support-assistant\/latency-p95 \(threshold SLO\)[^\n]*\n\s*# expressed in full by these rules/,
    );
  }, 60_000);

  it('fires each threshold, burn-rate, baseline and no-data alert in the step sloe backtest fires it (± one step)', async () => {
    const kinds = new Set<string>();
    const runs: Array<{ slo: Slo; checks: Check[]; start: number }> = [];
    for (const entry of backtest) {
      const slo = config.slos.find((s) => s.service === entry.service && s.name === entry.slo)!;
      if (LONG_WINDOWS.has(slo.name)) continue;
      for (const i of entry.incidents)
        kinds.add(
          i.reason === 'nodata'
            ? 'no-data'
            : slo.kind === 'ratio'
              ? 'burn-rate'
              : slo.baseline
                ? 'baseline'
                : 'threshold',
        );
      const start = D - LOOKBACK;
      if (entry.incidents.length && !LONG_WINDOWS.has(slo.name))
        runs.push({ slo, checks: checksFor(slo, entry.incidents, start), start });
    }
    // The history has episodes of every kind the rules express; the backtest must have found them all.
    expect([...kinds].sort()).toEqual(['baseline', 'burn-rate', 'no-data', 'threshold']);
    expect(
      backtest.find((e) => e.slo === 'approval-queue-depth')!.incidents.filter((i) => i.reason === 'nodata'),
    ).toHaveLength(1);

    const results = await mapLimit(runs, 2, async ({ slo, checks, start }) => ({
      slo: slo.name,
      checks: checks.length,
      ...(await promtoolTest(slo, checks, start)),
    }));
    for (const r of results) console.log(`promtool test rules ${r.slo}: ${r.checks} checks, ${Math.round(r.ms)} ms`);
    expect(results.flatMap((r) => r.failed)).toEqual([]);
    expect(results.reduce((n, r) => n + r.checks, 0)).toBeGreaterThan(20);
  }, 300_000);
});
