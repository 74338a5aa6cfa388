/**
 * `sloe import openslo` and `sloe import sloth` on fixtures written from the two specifications: every good one
 * imports to files `sloe validate` accepts (the owner placeholder aside, which it must flag), every bad one fails with
 * the located problem its first line expects, and nothing is written then.
 */
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ImportResult,
  OWNER_PLACEHOLDER,
  importOpenSlo,
  importSloth,
  renderDocs,
} from '../../src/interop/index.js';
import { type Config, type RatioSlo, type ThresholdSlo, formatProblem, loadRules } from '../../src/rules/index.js';
import { ROOT, runSloe } from '../support/cli.js';

const FIXTURES = join(ROOT, 'test/fixtures/import');
const IMPORTERS = { openslo: importOpenSlo, sloth: importSloth } as const;
type Format = keyof typeof IMPORTERS;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sloe-import-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The fixtures of a format: a file, or a directory whose files are imported together. */
async function cases(format: Format, kind: 'good' | 'bad'): Promise<Array<{ name: string; files: string[] }>> {
  const base = join(FIXTURES, format, kind);
  const out: Array<{ name: string; files: string[] }> = [];
  for (const entry of (await readdir(base)).sort()) {
    const path = join(base, entry);
    const files = (await stat(path)).isDirectory() ? (await readdir(path)).sort().map((f) => join(path, f)) : [path];
    out.push({ name: entry, files });
  }
  return out;
}

/** Writes an import's files to a fresh directory and loads them as sloe would. */
async function load(name: string, result: ImportResult): Promise<{ config: Config; problems: string[] }> {
  const out = await mkdtemp(join(dir, `${name}-`));
  for (const f of result.files) await writeFile(join(out, `${f.name}.yaml`), renderDocs(f.docs));
  const loaded = await loadRules([out]);
  return { config: loaded.config, problems: loaded.problems.map((p) => p.message) };
}

describe.each(['openslo', 'sloth'] as const)('sloe import %s', (format) => {
  it('has at least 10 good and several bad fixtures', async () => {
    expect((await cases(format, 'good')).length).toBeGreaterThanOrEqual(10);
    expect((await cases(format, 'bad')).length).toBeGreaterThanOrEqual(8);
  });

  it('imports every good fixture to SLO files that validate (an owner placeholder is flagged, nothing else)', async () => {
    let placeholders = 0;
    for (const { name, files } of await cases(format, 'good')) {
      const result = await IMPORTERS[format](files);
      expect(result.problems.map(formatProblem), name).toEqual([]);
      expect(result.files.length, name).toBeGreaterThan(0);
      const { config, problems } = await load(name, result);
      const owned = result.files.every((f) => !renderDocs(f.docs).includes(OWNER_PLACEHOLDER));
      if (owned) {
        expect(problems, name).toEqual([]);
      } else {
        placeholders++;
        expect(problems.length, name).toBeGreaterThan(0);
        for (const p of problems) expect(p, name).toContain(`owner is still the placeholder ${OWNER_PLACEHOLDER}`);
      }
      expect(config.slos.length + problems.length, name).toBeGreaterThan(0);
    }
    expect(placeholders).toBeGreaterThan(0);
  });

  it('reports each bad fixture at the position its first line expects, and writes nothing', async () => {
    for (const { name, files } of await cases(format, 'bad')) {
      const first = (await readFile(files[0]!, 'utf8')).split('\n')[0]!;
      const expected = /^# expect: (\d+):(\d+): (.*)$/.exec(first);
      expect(expected, `${name} names its expected problem`).not.toBeNull();
      const result = await IMPORTERS[format](files);
      const wanted = `${files[0]}:${expected![1]}:${expected![2]}: ${expected![3]}`;
      expect(
        result.problems.map(formatProblem).some((p) => p.startsWith(wanted)),
        `${name}: ${result.problems.map(formatProblem).join('\n')}`,
      ).toBe(true);
    }
  });
});

/** Imports one good fixture and loads it, placeholder or not. */
async function imported(format: Format, fixture: string): Promise<Config> {
  const path = join(FIXTURES, format, 'good', fixture);
  const files = (await stat(path)).isDirectory() ? (await readdir(path)).sort().map((f) => join(path, f)) : [path];
  const result = await IMPORTERS[format](files);
  expect(result.problems).toEqual([]);
  return (await load(fixture.replace(/\W/g, '-'), result)).config;
}

describe('what the imports map to', () => {
  it('OpenSLO: a counter without a range becomes a rate over $window; targetPercent the objective; 28d the window', async () => {
    const [slo] = (await imported('openslo', 'ratio-occurrences-inline.yaml')).slos as RatioSlo[];
    expect(slo).toMatchObject({
      id: 'checkout/checkout-availability',
      kind: 'ratio',
      objective: expect.closeTo(0.999, 12),
      windowMs: 28 * 86_400_000,
      owner: 'payments',
    });
    expect(slo!.ratio).toEqual({
      good: 'sum(rate(http_requests_total{job="checkout", code!~"5.."}[$window]))',
      total: 'sum(rate(http_requests_total{job="checkout"}[$window]))',
    });
    expect(slo!.tiers.map((t) => [t.severity, t.budget, t.longMs / 60_000])).toEqual([
      ['page', 0.02, 60],
      ['page', 0.05, 360],
      ['ticket', 0.1, 4320],
    ]);
  });

  it('OpenSLO: burn-rate conditions become tiers (budget = threshold × lookback ÷ window), alertAfter the `for`, a Slack target a policy', async () => {
    const config = await imported('openslo', 'alert-policy-refs.yaml');
    const slo = config.slos[0] as RatioSlo;
    expect(
      slo.tiers.map((t) => [t.severity, Number(t.budget.toFixed(6)), t.longMs / 60_000, t.shortMs / 60_000]),
    ).toEqual([
      ['page', 0.02, 60, 5],
      ['ticket', 0.1, 4320, 360],
    ]);
    expect(slo.forMs).toBe(5 * 60_000);
    expect(config.policies.get(slo.escalation)!.page).toEqual([
      { afterMs: 0, notify: 'slack', channel: '${SLACK_CHANNEL_ORDERS_SLACK}' },
    ]);
  });

  it('OpenSLO: Timeslices of a threshold metric is a threshold SLO evaluated once per slice', async () => {
    const [slo] = (await imported('openslo', 'threshold-timeslices.yaml')).slos as ThresholdSlo[];
    expect(slo).toMatchObject({ kind: 'threshold', query: 'max(ingest_queue_depth)', intervalMs: 5 * 60_000 });
    expect(slo!.objective?.text).toBe('< 100');
    expect(slo!.when.text).toBe('not < 100');
  });

  it('OpenSLO: Timeslices of a ratio judges each slice on its own share of good events', async () => {
    const [slo] = (await imported('openslo', 'ratio-timeslices.yaml')).slos as ThresholdSlo[];
    expect(slo).toMatchObject({
      kind: 'threshold',
      intervalMs: 60_000,
      query: '(sum(rate(cdn_responses_total{cache="hit"}[1m]))) / (sum(rate(cdn_responses_total[1m])))',
    });
    expect(slo!.objective?.text).toBe('>= 99%');
  });

  it('OpenSLO: a rolling month is 30 days, and a policy that does not alert on no data sets noData: ok', async () => {
    const [slo] = (await imported('openslo', 'month-window-no-data-ok.yaml')).slos as RatioSlo[];
    expect(slo).toMatchObject({ windowMs: 30 * 86_400_000, noData: 'ok', forMs: 15 * 60_000 });
  });

  it('OpenSLO: two objectives are two SLOs; references resolve across files', async () => {
    expect((await imported('openslo', 'multiple-objectives.yaml')).slos.map((s) => s.name)).toEqual([
      'upload-internal',
      'upload-contract',
    ]);
    const split = await imported('openslo', 'split-across-files');
    expect(split.slos[0]).toMatchObject({ id: 'gateway/gateway-availability', owner: 'edge', forMs: 2 * 60_000 });
  });

  it('Sloth: the four Sloth windows as tiers, {{.window}} as $window, the owner label as owner', async () => {
    const [slo] = (await imported('sloth', 'availability.yaml')).slos as RatioSlo[];
    expect(slo).toMatchObject({
      id: 'myservice/requests-availability',
      objective: expect.closeTo(0.999, 12),
      windowMs: 30 * 86_400_000,
      owner: 'myteam',
      labels: { repo: 'myorg/myservice', tier: '2' },
    });
    expect(slo!.ratio.bad).toBe(
      'sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[$window]))',
    );
    expect(slo!.tiers.map((t) => [t.severity, Number(t.factor.toFixed(6))])).toEqual([
      ['page', 14.4],
      ['page', 6],
      ['ticket', 3],
      ['ticket', 1],
    ]);
  });

  it('Sloth: a disabled alert drops its tiers; the CRD reads the same as the spec', async () => {
    expect(((await imported('sloth', 'page-disabled.yaml')).slos[0] as RatioSlo).tiers.map((t) => t.severity)).toEqual([
      'ticket',
      'ticket',
    ]);
    const crd = (await imported('sloth', 'crd-two-slos.yaml')).slos as RatioSlo[];
    expect(crd.map((s) => [s.name, s.tiers.length])).toEqual([
      ['availability', 4],
      ['slow-requests', 2],
    ]);
  });
});

describe('the sloe import command', () => {
  it('writes one file per service with --out, says what it took differently, and validate flags the placeholder', async () => {
    const out = join(dir, 'cli');
    const result = await runSloe([
      'import',
      'sloth',
      join(FIXTURES, 'sloth/good/two-services.yaml'),
      join(FIXTURES, 'sloth/good/no-owner.yaml'),
      join(FIXTURES, 'sloth/good/alert-labels.yaml'),
      '--out',
      out,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect((await readdir(out)).sort()).toEqual(['backend.yaml', 'frontend.yaml', 'legacy.yaml', 'search.yaml']);
    expect(result.stderr).toContain('alert-labels.yaml:17:7: alerting name, labels, annotations');
    expect(await readFile(join(out, 'search.yaml'), 'utf8')).toContain(
      '# slos[0] 17:7: alerting name, labels, annotations',
    );
    const validate = await runSloe(['validate', out]);
    expect(validate.code).toBe(1);
    expect(validate.stdout.trim().split('\n')).toEqual([
      `${out}/legacy.yaml:8:8: owner is still the placeholder TODO-owner that sloe import wrote: name the owning team or person`,
      `${out}/legacy.yaml:13:12: owner is still the placeholder TODO-owner that sloe import wrote: name the owning team or person`,
    ]);
  });

  it('prints nothing and exits 1 on input it cannot map, naming each place', async () => {
    const bad = join(FIXTURES, 'openslo/bad/datadog-source.yaml');
    const result = await runSloe(['import', 'openslo', bad]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${bad}:16:19: metric source type "Datadog" is not supported`);
    expect(result.stderr).toContain(`${bad}:21:19: metric source type "Datadog" is not supported`);
  });

  it('refuses a missing format or file as a usage error', async () => {
    expect((await runSloe(['import', 'nobl9', 'x.yaml'])).code).toBe(2);
    expect((await runSloe(['import', 'sloth'])).code).toBe(2);
  });
});
