/**
 * `sloe backtest --base`: a fixture git repository with two commits (the second raises error-rate's threshold and
 * renames cache-hit-rate), replayed against the real Prometheus history of the golden-signal tests.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { END, MIN, at, assistantHistory } from '../support/assistant-history.js';
import { ROOT, runSloe } from '../support/cli.js';

let prom: LocalPrometheus;
let repo: string;
let env: NodeJS.ProcessEnv;

const FROM = new Date(at(0)).toISOString();
const TO = new Date(END).toISOString();
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

function git(...args: string[]): string {
  return execFileSync(
    'git',
    ['-c', 'user.name=sloe test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args],
    { cwd: repo, encoding: 'utf8' },
  );
}

async function edit(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(join(repo, file), 'utf8');
  expect(text).toContain(from);
  await writeFile(join(repo, file), text.replace(from, to));
}

beforeAll(async () => {
  repo = await mkdtemp(join(tmpdir(), 'sloe-backtest-base-'));
  git('init', '-q', '-b', 'main');
  await cp(join(ROOT, 'slos'), join(repo, 'slos'), { recursive: true });
  await writeFile(join(repo, 'README.md'), 'fixture\n');
  git('add', '.');
  git('commit', '-q', '-m', 'SLOs as they are');
  await edit('slos/it-support-assistant.yaml', 'when: "> 3%"', 'when: "> 20%"');
  await edit('slos/it-support-assistant.yaml', 'name: cache-hit-rate', 'name: cache-hits');
  git('commit', '-q', '-am', 'error-rate pages above 20%; cache-hit-rate is cache-hits');
  prom = await startPrometheus({ history: assistantHistory(true) });
  env = { PROMETHEUS_URL: prom.url, PAGERDUTY_ROUTING_KEY: 'test-key' };
}, 180_000);

afterAll(async () => {
  await prom?.stop();
  if (repo) await rm(repo, { recursive: true, force: true });
});

interface Incident {
  labels: Record<string, string>;
  severity: string;
  firedAt: string;
  resolvedAt: string | null;
  steps: Array<{ notify: string; at: string }>;
}
interface Load {
  incidents: number;
  pages: number;
  tickets: number;
  pagerduty: number;
  oncall: number;
  pagesPerWeek: number;
  ticketsPerWeek: number;
}
interface Comparison {
  from: string;
  to: string;
  step: string;
  base: { ref: string; commit: string };
  slos: Array<{
    service: string;
    slo: string;
    change: string;
    renamedFrom?: string;
    specChanges: string[];
    base: { incidents: Incident[]; load: Load };
    head: { incidents: Incident[]; load: Load };
    incidents: { added: Incident[]; removed: Incident[]; moved: Array<{ base: Incident; head: Incident }> };
  }>;
  queries: { distinct: number; requests: number };
}

const near = (actual: string | null | undefined, expected: number) => {
  expect(actual, `expected about ${iso(expected)}`).toBeTypeOf('string');
  expect(Math.abs(Date.parse(actual!) - expected), `${actual} vs ${iso(expected)}`).toBeLessThanOrEqual(MIN);
};

describe('sloe backtest --base on a fixture repository with a changed threshold', () => {
  let json: Comparison;

  beforeAll(async () => {
    const r = await runSloe(['backtest', '--base', 'HEAD~1', 'slos', '--from', FROM, '--to', TO, '--format', 'json'], {
      cwd: repo,
      env,
      timeoutMs: 120_000,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    json = JSON.parse(r.stdout) as Comparison;
  }, 150_000);

  it('JSON: the raised threshold removes the 10 % episode and fires later on the 30 % one, as SPEC.md shapes it', () => {
    expect(json.from).toBe(iso(at(0)));
    expect(json.to).toBe(iso(END));
    expect(json.step).toBe('1m');
    expect(json.base.ref).toBe('HEAD~1');
    expect(json.base.commit).toBe(git('rev-parse', 'HEAD~1').trim());
    const errorRate = json.slos.find((s) => s.slo === 'error-rate')!;
    expect(errorRate).toMatchObject({ service: 'it-support-assistant', change: 'changed', specChanges: ['when'] });
    // Base: 10 % errors 05:00–05:10 fire at 05:02; 30 % errors 10:00–11:00 at 10:01; 100 % errors 21:00–23:00 at 21:01.
    expect(errorRate.base.incidents.map((i) => i.severity)).toEqual(['page', 'page', 'page']);
    expect(errorRate.incidents.removed).toHaveLength(1);
    near(errorRate.incidents.removed[0]!.firedAt, at(5, 2));
    near(errorRate.incidents.removed[0]!.resolvedAt, at(5, 19));
    // 30 % errors lift the 5m average over 20 % once 4 of its 5 minutes hold them: 10:04, not 10:01; and it falls
    // under 20 % at 11:02 instead of under 3 % at 11:05, so it resolves (5m later) about 3 minutes earlier.
    const moved = errorRate.incidents.moved.find((m) => Math.abs(Date.parse(m.base.firedAt) - at(10, 1)) <= MIN)!;
    expect(moved, JSON.stringify(errorRate.incidents.moved)).toBeDefined();
    near(moved.head.firedAt, at(10, 4));
    expect(Date.parse(moved.head.resolvedAt!)).toBeLessThan(Date.parse(moved.base.resolvedAt!));
    expect(errorRate.incidents.added).toEqual([]);
    expect(errorRate.head.incidents).toHaveLength(2);
    expect(errorRate.base.load).toMatchObject({ incidents: 3, pages: 3, tickets: 0, pagesPerWeek: 10.5 });
    expect(errorRate.head.load).toMatchObject({ incidents: 2, pages: 2, tickets: 0, pagesPerWeek: 7 });
    // The policy pages PagerDuty 10 minutes in and the person on call 25 minutes in: the removed incident lasted 17.
    expect(errorRate.base.load.pagerduty - errorRate.head.load.pagerduty).toBe(1);
    expect(errorRate.base.load.oncall).toBe(errorRate.head.load.oncall);
    expect(errorRate.head.incidents[0]!.steps.map((s) => s.notify)).toEqual(['slack', 'pagerduty', 'oncall']);
  });

  it('JSON: a renamed SLO (same service and query) is one SLO, unchanged in effect; the others are the same', () => {
    const renamed = json.slos.find((s) => s.slo === 'cache-hits')!;
    expect(renamed).toMatchObject({ change: 'same', renamedFrom: 'cache-hit-rate', specChanges: [] });
    expect(renamed.head.incidents).toEqual(renamed.base.incidents);
    expect(renamed.head.incidents).toHaveLength(1);
    expect(json.slos.find((s) => s.slo === 'cache-hit-rate')).toBeUndefined();
    expect(
      json.slos
        .filter((s) => s.change === 'same')
        .map((s) => s.slo)
        .sort(),
    ).toEqual([
      'approval-queue-depth',
      'availability',
      'cache-hits',
      'cost-per-request',
      'eval-score',
      'guardrail-trigger-rate',
      'latency-p95',
      'latency-p99',
    ]);
    expect(json.slos).toHaveLength(9);
  });

  it('both sides share the Prometheus answers: as many queries as one backtest of the same SLOs (11)', async () => {
    expect(json.queries).toEqual({ distinct: 11, requests: 11 });
  });

  it('text: one block per touched SLO and the totals', async () => {
    const r = await runSloe(['backtest', '--base', 'HEAD~1', 'slos', '--from', FROM, '--to', TO], {
      cwd: repo,
      env,
      timeoutMs: 120_000,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const commit = git('rev-parse', 'HEAD~1').trim().slice(0, 12);
    expect(r.stdout).toContain(`backtest ${iso(at(0))} → ${iso(END)} (2d, step 1m): base HEAD~1 (${commit}) → head\n`);
    expect(r.stdout).toMatch(
      /^it-support-assistant\/error-rate: when changed\n {4}incidents 3 → 2 \(\+0 −1 ~\d\), pages\/week 10\.5 → 7, tickets\/week 0, PagerDuty steps \d+ → \d+, on-call steps \d+/m,
    );
    expect(r.stdout).toMatch(/^ {4}- removed PAGE fired 2026-10-09T05:0\dZ?/m);
    expect(r.stdout).toMatch(/^ {4}~ moved {3}PAGE fired 2026-10-09T10:0\d:00Z → 2026-10-09T10:0\d:00Z, resolved /m);
    expect(r.stdout).toMatch(/^it-support-assistant\/cache-hits: renamed from cache-hit-rate; no effect on alerts$/m);
    expect(r.stdout).toMatch(
      /^1 SLO\(s\) changed, 0 added, 0 removed, 1 renamed, 7 untouched; pages\/week [\d.]+ → [\d.]+, .*; 11 distinct Prometheus queries \(11 requests\) for both sides$/m,
    );
  });

  it('markdown: a pull-request comment with a compact table and the details', async () => {
    const summary = join(repo, '..', `summary-${Date.now()}.md`);
    await writeFile(summary, '# earlier step\n');
    try {
      const r = await runSloe(
        [
          'backtest',
          '--base',
          'HEAD~1',
          'slos',
          '--from',
          FROM,
          '--to',
          TO,
          '--format',
          'markdown',
          '--github-summary',
        ],
        {
          cwd: repo,
          env: { ...env, GITHUB_STEP_SUMMARY: summary },
          timeoutMs: 120_000,
        },
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const md = r.stdout;
      expect(md).toMatch(/^### sloe backtest: what this change would have done$/m);
      expect(md).toContain(
        '| SLO | change | incidents (+ − ~) | pages / week | tickets / week | PagerDuty steps | on-call steps |\n|---|---|---|---|---|---|---|\n',
      );
      expect(md).toMatch(
        /^\| it-support-assistant\/error-rate \| when changed \| \+0 −1 ~\d \| 10\.5 → 7 \| 0 \| \d+ → \d+ \| \d+ \|$/m,
      );
      expect(md).toMatch(
        /^\| it-support-assistant\/cache-hits \| renamed from cache-hit-rate; no effect on alerts \| \+0 −0 ~0 \| 0 \| 3\.5 \| 0 \| 0 \|$/m,
      );
      expect(md).toMatch(
        /<details><summary>it-support-assistant\/error-rate: 0 added, 1 removed, \d moved<\/summary>\n\n- removed \*\*page\*\*: fired 2026-10-09T05:0/,
      );
      expect(md).toContain('</details>');
      // The summary file keeps what earlier steps wrote and gets the same Markdown.
      expect(await readFile(summary, 'utf8')).toBe(`# earlier step\n${md}\n`);
    } finally {
      await rm(summary, { force: true });
    }
  });
});

describe('sloe backtest --base: the working tree against a revision, directories, and failures', () => {
  it('--fail-on-new-pages: a lowered threshold in the working tree against HEAD exits 1, naming the new pages', async () => {
    await edit('slos/it-support-assistant.yaml', 'when: "> 20%"', 'when: "> 1.5%"');
    try {
      const r = await runSloe(
        [
          'backtest',
          '--base',
          'HEAD',
          'slos',
          '--from',
          FROM,
          '--to',
          TO,
          '--slo',
          'it-support-assistant/error-rate',
          '--fail-on-new-pages',
        ],
        { cwd: repo, env, timeoutMs: 120_000 },
      );
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^it-support-assistant\/error-rate: when changed\n {4}incidents 2 → [3-9] \(\+[1-9]/m);
      expect(r.stderr).toMatch(
        /^sloe backtest: the change would have paged [1-9]\d* more time\(s\) \(--fail-on-new-pages\)$/m,
      );
      const without = await runSloe(
        ['backtest', '--base', 'HEAD', 'slos', '--from', FROM, '--to', TO, '--slo', 'it-support-assistant/error-rate'],
        { cwd: repo, env, timeoutMs: 120_000 },
      );
      expect(without.code).toBe(0);
    } finally {
      git('checkout', '--', 'slos');
    }
  });

  it('a directory base; SLOs only on one side are added or removed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sloe-backtest-dir-'));
    try {
      await cp(join(repo, 'slos'), dir, { recursive: true });
      await edit(
        'slos/it-support-assistant.yaml',
        'name: latency-p95\n    signal: latency\n    by: [model]',
        'name: latency-p95-sonnet\n    description: renamed and requeried\n    signal: latency\n    by: [model, app]',
      );
      const r = await runSloe(
        ['backtest', '--base', dir, 'slos', '--from', FROM, '--to', new Date(at(4)).toISOString(), '--format', 'json'],
        { cwd: repo, env, timeoutMs: 120_000 },
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as Comparison;
      expect(out.base).toEqual({ dir });
      const added = out.slos.find((s) => s.slo === 'latency-p95-sonnet')!;
      expect(added.change).toBe('added');
      expect(added.head.incidents.map((i) => i.labels)).toEqual([{ app: 'it-support-assistant', model: 'sonnet' }]);
      expect(added.incidents.added).toHaveLength(1);
      const removed = out.slos.find((s) => s.slo === 'latency-p95')!;
      expect(removed.change).toBe('removed');
      expect(removed.incidents.removed).toHaveLength(1);
      expect(out.slos.at(-1)!.slo).toBe('latency-p95');
    } finally {
      git('checkout', '--', 'slos');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('paths that did not exist at the base: every SLO is added', async () => {
    git('mv', 'slos', 'specs');
    try {
      const r = await runSloe(
        [
          'backtest',
          '--base',
          'HEAD',
          'specs',
          '--from',
          FROM,
          '--to',
          new Date(at(2)).toISOString(),
          '--format',
          'json',
        ],
        { cwd: repo, env, timeoutMs: 120_000 },
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as Comparison;
      expect(out.slos.map((s) => s.change)).toEqual(Array(9).fill('added'));
    } finally {
      git('mv', 'specs', 'slos');
    }
  });

  it.each([
    [
      'an unknown revision',
      ['--base', 'no-such-branch'],
      /^sloe backtest: --base no-such-branch: no such directory, and no such git revision in /,
    ],
    [
      'an option for a revision',
      ['--base=--output=/tmp/x'],
      /^sloe backtest: --base must be a git revision or a directory/,
    ],
    [
      'markdown without a base',
      ['--format', 'markdown'],
      /^sloe backtest: --format markdown, --github-summary and --fail-on-new-pages compare with a base/,
    ],
    [
      '--github-summary outside GitHub Actions',
      ['--base', 'HEAD~1', '--github-summary'],
      /^sloe backtest: --github-summary needs GITHUB_STEP_SUMMARY/,
    ],
  ])('usage errors: %s (exit 2)', async (_name, args, message) => {
    const r = await runSloe(['backtest', ...args, 'slos', '--from', FROM, '--to', TO], {
      cwd: repo,
      env: { ...env, GITHUB_STEP_SUMMARY: '' },
    });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });

  it('an invalid base is a located problem in the base (exit 1), never an empty base', async () => {
    await edit('slos/it-support-assistant.yaml', 'objective: "< 3.5"', 'objective: "< fast"');
    git('commit', '-q', '-am', 'broken');
    git('revert', '--no-edit', 'HEAD');
    try {
      const r = await runSloe(['backtest', '--base', 'HEAD~1', 'slos', '--from', FROM, '--to', TO], { cwd: repo, env });
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^HEAD~1:slos\/it-support-assistant\.yaml:46:16: invalid objective: /m);
      expect(r.stderr).toMatch(/^sloe backtest: 1 problem\(s\) in the SLO files of the base HEAD~1$/m);
      expect(r.code).toBe(1);
    } finally {
      git('reset', '-q', '--hard', 'HEAD~2');
    }
  });

  it('Prometheus down: exit 2 naming the SLO, nothing on stdout', async () => {
    const r = await runSloe(
      ['backtest', '--base', 'HEAD~1', 'slos', '--from', FROM, '--to', TO, '--format', 'markdown'],
      {
        cwd: repo,
        env: { ...env, PROMETHEUS_URL: 'http://127.0.0.1:9' },
      },
    );
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('could not evaluate slo "it-support-assistant/');
    expect(r.stderr).toMatch(/SLO replays failed; no comparison is printed\n$/);
    expect(r.code).toBe(2);
  });
});
