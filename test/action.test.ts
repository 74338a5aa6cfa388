/**
 * The GitHub Action (action.yml) run as its composite definition says: each `run:` step in order, in its
 * working directory, with `${{ … }}` filled from the inputs and the github context, the GITHUB_* environment a runner
 * sets, and bash as `shell: bash` runs it. The action's checkout is a copy of this repository's files (its own
 * `npm ci --omit=dev` must build it); the workflow's repository is a fixture with two commits, and Prometheus a
 * real one holding the last three days of history.
 */
import { type SpawnOptions, execFileSync, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { requestCounters } from '../src/local/history.js';
import { type LocalPrometheus, startPrometheus } from '../src/local/prometheus.js';
import { ROOT } from './support/cli.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

interface Step {
  name: string;
  if?: string;
  uses?: string;
  shell?: string;
  run?: string;
  env?: Record<string, string>;
  'working-directory'?: string;
}
interface Action {
  inputs: Record<string, { default?: string; required?: boolean }>;
  runs: { using: string; steps: Step[] };
}

let work: string;
let actionPath: string;
let repo: string;
let prom: LocalPrometheus;
let base: string;
let install: StepRun;
const action = parse(await readFile(join(ROOT, 'action.yml'), 'utf8')) as Action;

/** A minute of the shop's traffic: 10 % errors for 10 minutes 30 hours ago, 30 % errors for 30 minutes 20 hours ago. */
function history(now: number) {
  const from = now - 3 * 24 * HOUR;
  const minute0 = Math.floor(from / MIN) * MIN;
  const episode = (t: number, ago: number, minutes: number) => t > now - ago && t <= now - ago + minutes * MIN;
  // An hour into the future: the backtest's last steps, however long the install took, have data.
  return requestCounters('shop_requests_total', { app: 'shop' }, minute0, now + HOUR, (t) => ({
    requests: 100,
    errorShare: episode(t, 30 * HOUR, 10) ? 0.1 : episode(t, 20 * HOUR, 30) ? 0.3 : 0.002,
  }));
}

const spec = (threshold: string) => `apiVersion: sloe/v1
kind: EscalationPolicy
name: shop
page:
  - { notify: slack, channel: "#shop" }
  - { after: 10m, notify: pagerduty, severity: critical }
---
apiVersion: sloe/v1
kind: ServiceLevels
service: shop
owner: shop-team
escalation: shop
dashboards:
  - { id: shop, title: Shop, owner: dana }
slos:
  - name: error-rate
    signal: error_rate
    dashboard: shop
    query: sum(rate(shop_requests_total{app="shop", status="error"}[5m])) / sum(rate(shop_requests_total{app="shop"}[5m]))
    objective: "< 1%"
    alert:
      when: "${threshold}"
`;

function git(...args: string[]): string {
  return execFileSync(
    'git',
    ['-c', 'user.name=sloe test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args],
    { cwd: repo, encoding: 'utf8' },
  ).trim();
}

/** Fills `${{ expr }}` as the runner does, for the expressions the action uses; any other is an error. */
function evaluate(expr: string, inputs: Record<string, string>, github: Record<string, string>): string {
  const e = expr.trim();
  if (e.startsWith('inputs.')) {
    const name = e.slice('inputs.'.length);
    if (!(name in action.inputs)) throw new Error(`action.yml uses an undeclared input: ${name}`);
    return inputs[name] ?? '';
  }
  if (e.startsWith('github.') && e.slice('github.'.length) in github) return github[e.slice('github.'.length)]!;
  throw new Error(`this test does not know the expression ${JSON.stringify(e)}: teach it, or keep action.yml simpler`);
}
const fill = (text: string, inputs: Record<string, string>, github: Record<string, string>) =>
  text.replace(/\$\{\{(.*?)\}\}/g, (_, e: string) => evaluate(e, inputs, github));

/** `if:` conditions of the form `EXPR != ''` or `EXPR == ''`. */
function condition(text: string, inputs: Record<string, string>, github: Record<string, string>): boolean {
  const m = /^\s*([\w.-]+)\s*(==|!=)\s*''\s*$/.exec(text);
  if (!m) throw new Error(`this test does not know the condition ${JSON.stringify(text)}`);
  const empty = evaluate(m[1]!, inputs, github) === '';
  return m[2] === '==' ? empty : !empty;
}

interface StepRun {
  name: string;
  skipped: boolean;
  code: number | null;
  output: string;
}

function bash(script: string, options: SpawnOptions): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // What the runner runs for `shell: bash`.
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
      ...options,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** Runs the action's steps with `with:` inputs in the fixture repository; stops at the first failing step, as a runner does. */
async function runAction(
  withInputs: Record<string, string>,
  only?: (step: Step) => boolean,
): Promise<{ steps: StepRun[]; summary: string }> {
  const github = { action_path: actionPath, workspace: repo, 'event.pull_request.base.sha': base };
  const inputs = Object.fromEntries(
    Object.entries(action.inputs).map(([name, i]) => [name, fill(withInputs[name] ?? i.default ?? '', {}, github)]),
  );
  const summary = join(work, `summary-${Date.now()}.md`);
  await writeFile(summary, '');
  const runs: StepRun[] = [];
  for (const step of action.runs.steps) {
    if (only && !only(step)) continue;
    expect(step.uses, `${step.name}: a composite step this test cannot run`).toBeUndefined();
    expect(step.shell).toBe('bash');
    if (step.if !== undefined && !condition(step.if, inputs, github)) {
      runs.push({ name: step.name, skipped: true, code: null, output: '' });
      continue;
    }
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      // npm's cache of this machine, so that the install does not depend on the network when it need not.
      npm_config_prefer_offline: 'true',
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      GITHUB_WORKSPACE: repo,
      GITHUB_ACTION_PATH: actionPath,
      GITHUB_STEP_SUMMARY: summary,
      GITHUB_EVENT_NAME: 'pull_request',
      RUNNER_TEMP: work,
      ...Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, fill(String(v), inputs, github)])),
    };
    const cwd = step['working-directory'] ? fill(step['working-directory'], inputs, github) : repo;
    const r = await bash(fill(step.run!, inputs, github), { cwd, env });
    runs.push({ name: step.name, skipped: false, ...r });
    if (r.code !== 0) break;
  }
  return { steps: runs, summary: await readFile(summary, 'utf8') };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sloe-action-'));
  // The action's checkout: the files of this repository that git would check out (no node_modules, no dist).
  actionPath = join(work, 'action');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter(Boolean);
  for (const f of files) {
    await mkdir(dirname(join(actionPath, f)), { recursive: true });
    await cp(join(ROOT, f), join(actionPath, f)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e; // deleted in the working tree, not yet in the index
    });
  }
  repo = join(work, 'repo');
  await mkdir(join(repo, 'slos'), { recursive: true });
  git('init', '-q', '-b', 'main');
  await writeFile(join(repo, 'slos', 'shop.yaml'), spec('> 3%'));
  git('add', '.');
  git('commit', '-q', '-m', 'shop SLOs');
  base = git('rev-parse', 'HEAD');
  await writeFile(join(repo, 'slos', 'shop.yaml'), spec('> 20%'));
  git('commit', '-q', '-am', 'shop pages above 20 % errors');
  // The first step, as the runner runs it; the others run in the tests below.
  install = (await runAction({}, (s) => s.name === 'Install sloe')).steps[0]!;
  prom = await startPrometheus({ history: history(Math.floor(Date.now() / MIN) * MIN) });
}, 900_000);

afterAll(async () => {
  await prom?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('action.yml, run as its composite definition says', () => {
  it('declares the inputs paths, prometheus-url, backtest-days and base-ref, and only run steps', () => {
    expect(action.runs.using).toBe('composite');
    expect(Object.keys(action.inputs).sort()).toEqual(['backtest-days', 'base-ref', 'paths', 'prometheus-url']);
    expect(action.inputs['base-ref']!.default).toBe('${{ github.event.pull_request.base.sha }}');
    expect(action.runs.steps.map((s) => s.name)).toEqual([
      'Install sloe',
      'Validate SLO files',
      'Dashboard owners',
      'Backtest the change',
    ]);
    expect(action.runs.steps[0]!.run).toContain('npm ci --omit=dev');
  });

  it('installs sloe in its own checkout, validates, lists owners, and writes the backtest of the change to the job summary', async () => {
    expect(install.code, install.output).toBe(0);
    const { steps, summary } = await runAction(
      { 'prometheus-url': prom.url, 'backtest-days': '2' },
      (s) => s.name !== 'Install sloe',
    );
    const [validate, owners, backtest] = steps;
    expect(validate!.code, validate!.output).toBe(0);
    expect(validate!.output).toContain('1 SLO in 1 file: valid');
    expect(owners!.code, owners!.output).toBe(0);
    expect(owners!.output).toMatch(/^shop\s+dana\s+Shop\s+shop\/error-rate$/m);
    expect(backtest!.code, backtest!.output).toBe(0);
    // The log gets the text; the summary the Markdown comment.
    expect(backtest!.output).toMatch(
      /^shop\/error-rate: when changed\n {4}incidents 2 → 1 \(\+0 −1 ~1\), pages\/week 7 → 3\.5/m,
    );
    expect(summary).toMatch(/^### sloe backtest: what this change would have done$/m);
    expect(summary).toContain(`with the specs of ${base.slice(0, 12)}`);
    expect(summary).toMatch(/^\| shop\/error-rate \| when changed \| \+0 −1 ~1 \| 7 → 3\.5 \| 0 \| 2 → 1 \| 0 \|$/m);
  }, 120_000);

  it('without a Prometheus URL the backtest step is skipped', async () => {
    const { steps, summary } = await runAction({}, (s) => s.name !== 'Install sloe');
    expect(steps.map((s) => [s.name, s.skipped, s.code])).toEqual([
      ['Validate SLO files', false, 0],
      ['Dashboard owners', false, 0],
      ['Backtest the change', true, null],
    ]);
    expect(summary).toBe('');
  }, 120_000);

  it('an invalid SLO file fails the validate step with a GitHub annotation on its line', async () => {
    await writeFile(join(repo, 'slos', 'shop.yaml'), spec('> 20%').replace('objective: "< 1%"', 'objective: "< lots"'));
    try {
      const { steps } = await runAction({ 'prometheus-url': prom.url }, (s) => s.name !== 'Install sloe');
      expect(steps).toHaveLength(1);
      expect(steps[0]!.code).toBe(1);
      expect(steps[0]!.output).toMatch(/^::error file=slos\/shop\.yaml,line=20,col=16::invalid objective/m);
    } finally {
      git('checkout', '--', 'slos');
    }
  }, 120_000);
});
