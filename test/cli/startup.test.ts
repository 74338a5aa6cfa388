/**
 * What each command loads. `sloe validate` in CI, `sloe --version` and the other one-shot commands must not load the
 * engine's packages (Slack, PagerDuty, BullMQ, Redis, metrics, logging, HTTP routing): each costs start-up time on
 * every invocation. The real binary runs with a preload that records every module file the process loaded.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { COMMANDS } from '../../src/cli/main.js';
import { ROOT, runSloe } from '../support/cli.js';

/** Packages only `sloe run` has a use for. */
const ENGINE_PACKAGES = [
  '@slack/bolt',
  '@slack/web-api',
  '@pagerduty/pdjs',
  'bullmq',
  'ioredis',
  'prom-client',
  'pino',
  'pino-pretty',
  'find-my-way',
];

const RECORD = pathToFileURL(join(ROOT, 'test/support/record-modules.mjs')).href;
/** Prometheus is not listening: commands that query it go as far as their first query, then fail. */
const NO_PROMETHEUS = 'http://127.0.0.1:9';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sloe-startup-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Runs sloe and returns the packages it loaded (by name, from every file below node_modules), and its exit code. */
async function packagesLoaded(args: string[]): Promise<{ packages: Set<string>; code: number | null; stderr: string }> {
  const file = join(dir, `modules-${Math.random().toString(36).slice(2)}.txt`);
  const r = await runSloe(args, {
    env: {
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${RECORD}`.trim(),
      SLOE_TEST_MODULES_FILE: file,
      PROMETHEUS_URL: NO_PROMETHEUS,
      REDIS_URL: '',
      REDIS_SENTINELS: '',
    },
  });
  const packages = new Set<string>();
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(line);
    if (m) packages.add(m[1]!);
  }
  return { packages, code: r.code, stderr: r.stderr };
}

const engineIn = (packages: Set<string>) => ENGINE_PACKAGES.filter((p) => packages.has(p));

/** Each command run as a user runs it; a command not listed here is checked through `--help`, which loads it. */
const INVOCATIONS: Record<string, string[]> = {
  validate: ['validate', 'slos/'],
  owners: ['owners', 'slos/'],
  eval: ['eval', 'slos/'],
  backtest: ['backtest', 'slos/', '--from', '2026-11-01T00:00:00Z', '--to', '2026-11-02T00:00:00Z'],
  report: ['report', 'slos/'],
  export: ['export', 'prometheus-rules', 'slos/'],
  import: ['import', 'openslo', 'test/fixtures/import/openslo/good/multiple-objectives.yaml'],
  schema: ['schema'],
};

// Concurrent: most of the time is Node starting and commands waiting for Prometheus to refuse a connection.
describe.concurrent('start-up: what a command loads', () => {
  it('sloe run loads the engine packages (the recording sees them)', async ({ expect }) => {
    const { packages, code } = await packagesLoaded(['run', '--help']);
    expect(code).toBe(0);
    expect(engineIn(packages)).toEqual(ENGINE_PACKAGES.filter((p) => p !== 'pino-pretty'));
  });

  it('--version and help load no package at all', async ({ expect }) => {
    for (const args of [['--version'], ['--help']]) {
      const { packages, code } = await packagesLoaded(args);
      expect(code).toBe(0);
      expect([...packages]).toEqual([]);
    }
  });

  const others = Object.keys(COMMANDS).filter((name) => name !== 'run');
  it.for(others)('sloe %s loads none of the engine packages', async (name, { expect }) => {
    const args = INVOCATIONS[name] ?? [name, '--help'];
    const { packages, code, stderr } = await packagesLoaded(args);
    // The command ran: it finished, or got as far as Prometheus, which is not there.
    if (code !== 0) expect(stderr).toContain(NO_PROMETHEUS);
    expect(engineIn(packages)).toEqual([]);
    expect(packages.size).toBeGreaterThan(0);
  });

  it('validate --explain loads none of the engine packages either', async ({ expect }) => {
    const { packages, code } = await packagesLoaded(['validate', 'slos/', '--explain']);
    expect(code).toBe(0);
    expect(engineIn(packages)).toEqual([]);
  });

  it('validate loads the date library only for silences and on-call schedules', async ({ expect }) => {
    const without = await packagesLoaded(['validate', 'test/fixtures/slos/budget']);
    expect(without.code).toBe(0);
    expect(without.packages.has('luxon')).toBe(false);
    // slos/ holds an OnCallSchedule.
    const withSchedule = await packagesLoaded(['validate', 'slos/']);
    expect(withSchedule.code).toBe(0);
    expect(withSchedule.packages.has('luxon')).toBe(true);
  });

  it('report loads the Redis client when it reads incidents from Redis', async ({ expect }) => {
    const file = join(dir, 'report-redis.txt');
    await runSloe(['report', 'slos/'], {
      env: {
        NODE_OPTIONS: `--import ${RECORD}`,
        SLOE_TEST_MODULES_FILE: file,
        PROMETHEUS_URL: NO_PROMETHEUS,
        REDIS_URL: 'redis://127.0.0.1:9',
      },
    });
    expect(await readFile(file, 'utf8')).toMatch(/node_modules\/ioredis\//);
  });
});
