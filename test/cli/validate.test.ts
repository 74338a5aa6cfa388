import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonSchema } from '../../src/rules/schema.js';
import { ROOT, runSloe } from '../support/cli.js';

const BAD = 'test/fixtures/slos/bad';

describe('sloe validate --explain', () => {
  it('prints the queries of every SLO exactly as the loaded configuration holds them (and the evaluator sends them)', async () => {
    const { loadRules } = await import('../../src/rules/index.js');
    const { config } = await loadRules([join(ROOT, 'slos')]);
    const r = await runSloe(['validate', 'slos/', '--explain', '--format', 'json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      explain: Array<{
        slo: string;
        derived: boolean;
        query?: string;
        baseline?: string;
        ratio?: Record<string, string>;
        window?: string;
      }>;
    };
    expect(out.explain).toHaveLength(config.slos.length);
    for (const slo of config.slos) {
      const e = out.explain.find((x) => x.slo === slo.name)!;
      expect(e.derived).toBe(true);
      if (slo.kind === 'threshold') {
        expect(e.query).toBe(slo.query);
        expect(e.baseline).toBe(slo.baseline);
      } else {
        expect(e.ratio).toEqual(slo.ratio);
      }
    }
    expect(out.explain.find((x) => x.slo === 'error-rate')!.query).toBe(
      '(sum(rate(llm_requests_total{app="it-support-assistant", status="error"}[5m])) or vector(0)) / sum(rate(llm_requests_total{app="it-support-assistant"}[5m]))',
    );
    expect(out.explain.find((x) => x.slo === 'availability')).toMatchObject({
      ratio: {
        bad: 'sum(rate(llm_requests_total{app="it-support-assistant", status="error"}[$window]))',
        total: 'sum(rate(llm_requests_total{app="it-support-assistant"}[$window]))',
      },
      window: '5m',
    });
    const text = await runSloe(['validate', 'slos/', '--explain']);
    for (const slo of config.slos)
      if (slo.kind === 'threshold') expect(text.stdout).toContain(`  query: ${slo.query}\n`);
  });
});

describe('sloe validate', () => {
  it('passes the shipped examples with exit 0', async () => {
    const r = await runSloe(['validate', 'slos/']);
    expect(r.stderr).toMatch(/^sloe: 9 SLOs in 3 files: valid$/m);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(0);
  });

  it('defaults to ./slos', async () => {
    const r = await runSloe(['validate']);
    expect(r.code).toBe(0);
  });

  it('prints one path:line:col line per problem and exits 1', async () => {
    const r = await runSloe(['validate', `${BAD}/several-problems.yaml`]);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      `${BAD}/several-problems.yaml:11:13: "notify" must be one of slack, pagerduty, oncall (got "opsgenie")`,
      `${BAD}/several-problems.yaml:21:5: missing required field "owner"`,
      `${BAD}/several-problems.yaml:24:13: "signal" must be one of latency, error_rate, cost_per_request, cache_hit_rate, guardrail_rate, queue_depth, eval_score, custom (got "latancy")`,
    ]);
    expect(r.stderr).toContain('3 problems in 1 file');
  });

  it('writes GitHub Actions annotations with --format github', async () => {
    const r = await runSloe(['validate', `${BAD}/unknown-key-service.yaml`, '--format', 'github']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      `::error file=${BAD}/unknown-key-service.yaml,line=15,col=1::unknown key "ownr" (did you mean "owner"?)\n`,
    );
  });

  it('writes one JSON object with --format json', async () => {
    const r = await runSloe(['validate', `${BAD}/unknown-signal.yaml`, '--format', 'json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { valid: boolean; problems: Array<Record<string, unknown>> };
    expect(out.valid).toBe(false);
    expect(out.problems).toEqual([expect.objectContaining({ file: `${BAD}/unknown-signal.yaml`, line: 21, col: 13 })]);
  });

  it('reports problems of every bad fixture at once, each file in its own lines, without a stack trace', async () => {
    const r = await runSloe(['validate', BAD]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const files = new Set(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(':')[0]),
    );
    expect(files.size).toBeGreaterThanOrEqual(40);
  });

  it.each([
    ['a path that does not exist', ['validate', 'no/such/dir'], 'no such file or directory: no/such/dir'],
    ['an unknown option', ['validate', '--fromat', 'json'], "Unknown option '--fromat'"],
    ['an unknown format', ['validate', '--format', 'xml'], '--format must be one of text, json, github'],
    ['an unknown command', ['valdiate'], 'unknown command "valdiate"'],
  ])('exits 2 on %s', async (_name, args, message) => {
    const r = await runSloe(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('takes extra high-cardinality labels from the environment', async () => {
    const r = await runSloe(['validate', 'test/fixtures/slos/good/custom-tiers-and-baseline.yaml'], {
      env: { SLOE_HIGH_CARDINALITY_LABELS: 'tenant,model' },
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('query groups by high-cardinality label "model"');
  });
});

describe('sloe validate and silences', () => {
  const SILENCE = (matchers: string, window: string) => `apiVersion: sloe/v1
kind: Silence
name: db-migration
owner: alice
reason: planned database migration
matchers: [${matchers}]
${window}
`;
  const validate = async (silence: string, ...flags: string[]) => {
    const dir = await mkdtemp(join(tmpdir(), 'sloe-silence-'));
    try {
      await writeFile(join(dir, 'silence.yaml'), silence);
      return await runSloe(['validate', 'slos/', dir, ...flags]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  const FUTURE = 'startsAt: "2099-12-01T02:00:00Z"\nendsAt: "2099-12-01T04:00:00Z"';

  it('accepts a silence that matches shipped SLOs, fixed or weekly in a time zone', async () => {
    for (const window of [FUTURE, 'every: weekly\ndays: [sun]\nfrom: "02:00"\nto: "04:00"\ntimezone: Europe/Berlin']) {
      const r = await validate(
        SILENCE('"service = it-support-assistant", "slo =~ latency-.*", "model != sonnet"', window),
        '--strict',
      );
      expect(r.stdout).toBe('');
      expect(r.code).toBe(0);
    }
  });

  it('rejects an unbounded silence with its position (exit 1)', async () => {
    const r = await validate(SILENCE('"service = it-support-assistant"', 'startsAt: "2099-12-01T02:00:00Z"'));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/silence\.yaml:1:1: unbounded silence: endsAt is missing/);
  });

  it('warns of an expired silence and of one that matches nothing (exit 0), and fails on them with --strict', async () => {
    const expired = SILENCE(
      '"service = it-support-assistant"',
      'startsAt: "2020-12-01T02:00:00Z"\nendsAt: "2020-12-01T04:00:00Z"',
    );
    const r = await validate(expired);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /silence\.yaml:8:9: warning: silence "db-migration" has expired \(it ended 2020-12-01T04:00:00.000Z\): remove it \[silence-expired\]$/m,
    );
    expect(r.stderr).toMatch(/valid, 1 lint warning/);
    expect((await validate(expired, '--strict')).code).toBe(1);
    const nothing = await validate(SILENCE('"service = payments"', FUTURE));
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toMatch(
      /silence\.yaml:6:11: warning: silence "db-migration" matches no SLO \(service = payments\) \[silence-matches-nothing\]$/m,
    );
    const strict = await validate(SILENCE('"service = payments"', FUTURE), '--strict', '--format', 'github');
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(
      /^::error file=.*silence\.yaml,line=6,col=11::silence "db-migration" matches no SLO .*\[silence-matches-nothing\]$/m,
    );
  });
});

describe('sloe validate: the guide as lint', () => {
  const LINT = 'test/fixtures/slos/lint';
  it('prints warnings with position and rule, and still exits 0', async () => {
    const r = await runSloe(['validate', `${LINT}/double-page.yaml`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^test\/fixtures\/slos\/lint\/double-page\.yaml:\d+:\d+: warning: "availability" and "error-rate" both page on llm_requests_total: .* \[double-page\]$/m,
    );
    expect(r.stderr).toBe('sloe: 2 SLOs in 1 file: valid, 1 lint warning\n');
  });

  it('--strict makes warnings errors: exit 1, GitHub annotations at error level', async () => {
    const r = await runSloe(['validate', `${LINT}/double-page.yaml`, '--strict', '--format', 'github']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^::error file=test\/fixtures\/slos\/lint\/double-page\.yaml,line=\d+,col=\d+::.* \[double-page\]$/m,
    );
    const plain = await runSloe(['validate', `${LINT}/double-page.yaml`, '--format', 'github']);
    expect(plain.stdout).toMatch(/^::warning file=/);
    const json = JSON.parse(
      (await runSloe(['validate', `${LINT}/too-many-pages.yaml`, '--strict', '--format', 'json'])).stdout,
    ) as { valid: boolean; warnings: Array<{ rule: string; line: number }> };
    expect(json.valid).toBe(false);
    expect(json.warnings.map((w) => w.rule)).toEqual(['too-many-pages']);
  });

  it('the shipped example passes --strict', async () => {
    const r = await runSloe(['validate', 'slos/', '--strict']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
  });
});

describe('sloe owners', () => {
  it('lists every dashboard with its one owner and its SLOs', async () => {
    const r = await runSloe(['owners', 'slos/', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      dashboards: Array<{ id: string; owner: string; slos: Array<{ slo: string }> }>;
    };
    const golden = out.dashboards.find((d) => d.id === 'assistant-golden-signals');
    expect(golden?.owner).toBe('alice');
    expect(golden?.slos.map((s) => s.slo)).toEqual(['latency-p95', 'latency-p99', 'error-rate', 'availability']);
    expect(out.dashboards.map((d) => d.owner).sort()).toEqual(['alice', 'bob', 'carol']);
  });

  it('prints a table', async () => {
    const r = await runSloe(['owners']);
    expect(r.stdout.split('\n')[0]).toMatch(/^DASHBOARD\s+OWNER\s+TITLE\s+SLOS$/);
    expect(r.stdout).toMatch(/^assistant-quality\s+bob\s+/m);
  });

  it('refuses invalid files with exit 1', async () => {
    const r = await runSloe(['owners', `${BAD}/dashboard-two-owners.yaml`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('has two owners');
  });
});

describe('the JSON Schema', () => {
  it('checked in at schema/sloe.schema.json matches the schema in code (run `npm run schema`)', () => {
    const committed = JSON.parse(readFileSync(join(ROOT, 'schema', 'sloe.schema.json'), 'utf8')) as unknown;
    expect(committed).toEqual(jsonSchema());
  });

  it('is what `sloe schema` prints', async () => {
    const r = await runSloe(['schema']);
    expect(JSON.parse(r.stdout)).toEqual(jsonSchema());
  });
});

describe('sloe --help', () => {
  it('lists the commands', async () => {
    const r = await runSloe(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('validate');
    expect(r.stdout).toContain('owners');
  });
});
