/** How `sloe validate` and `sloe run` find and read SLO files: Kubernetes ConfigMap mounts, empty paths, aliases. */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runSloe } from '../support/cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sloe-loading-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const minimal = () => readFile(join(ROOT, 'test/fixtures/slos/good/minimal.yaml'), 'utf8');

/** The layout the kubelet writes for a ConfigMap volume: each key a symlink through `..data` to a timestamped dir. */
async function configMapMount(at: string, files: Record<string, string>): Promise<string> {
  const stamp = '..2026_11_28_10_00_00.123456789';
  await mkdir(join(at, stamp), { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    await writeFile(join(at, stamp, name), text);
    await symlink(`..data/${name}`, join(at, name));
  }
  await symlink(stamp, join(at, '..data'));
  return at;
}

/** An unreachable Redis and Prometheus: `run` must refuse before it needs them. */
const OFFLINE = { REDIS_URL: 'redis://127.0.0.1:9', PROMETHEUS_URL: 'http://127.0.0.1:9', SLOE_PORT: '0' };

describe('a Kubernetes ConfigMap mount', () => {
  it('loads every key through its symlinks, once, skipping the ..data internals', async () => {
    const mount = await configMapMount(join(dir, 'configmap'), { 'spec.yaml': await minimal() });
    const r = await runSloe(['validate', mount]);
    // The one lint warning of the minimal spec (a lone p95) is not a problem.
    expect(r.stdout).toMatch(/^(\S+: warning: .* \[single-quantile-latency\]\n)?$/);
    expect(r.stderr).toBe(`sloe: 1 SLO in 1 file: valid${r.stdout ? ', 1 lint warning' : ''}\n`);
    expect(r.code).toBe(0);
  });

  it('links inside the path are followed; a link leading outside it, or back into a directory being read, is a problem', async () => {
    const root = join(dir, 'linked');
    const slos = join(root, 'slos');
    await mkdir(join(slos, 'real'), { recursive: true });
    await mkdir(join(root, 'elsewhere'));
    await writeFile(join(slos, 'real', 'spec.yaml'), await minimal());
    await writeFile(join(root, 'elsewhere', 'spec.yaml'), await minimal());
    await symlink('real', join(slos, 'current'));
    await symlink('.', join(slos, 'real', 'again'));
    await symlink(join(root, 'elsewhere', 'spec.yaml'), join(slos, 'escape.yaml'));
    const r = await runSloe(['validate', slos]);
    expect(r.stdout).toBe(
      [
        `${slos}/current/again:1:1: symbolic link loop: ${slos}/current/again leads back to ${slos}/real, which is already being read`,
        `${slos}/escape.yaml:1:1: symbolic link leads outside ${slos} (to ${root}/elsewhere/spec.yaml): links below an SLO path must stay inside it`,
        '',
      ].join('\n'),
    );
    expect(r.stderr).toBe('sloe: 2 problems in 2 files\n');
    expect(r.code).toBe(1);
  });
});

describe('no SLO files', () => {
  it('validate says so and exits 1', async () => {
    const empty = join(dir, 'empty');
    await mkdir(empty);
    const r = await runSloe(['validate', empty]);
    expect(r.stdout).toBe(`${empty}:1:1: no SLO files (*.yaml, *.yml) found\n`);
    expect(r.code).toBe(1);
  });

  it('run refuses to start with no SLOs', async () => {
    const empty = join(dir, 'empty-run');
    await mkdir(empty);
    const r = await runSloe(['run', empty], { env: OFFLINE, timeoutMs: 20_000 });
    expect(r.stderr).toContain(`${empty}:1:1: no SLO files (*.yaml, *.yml) found`);
    expect(r.stderr).toContain('nothing to run');
    expect(r.code).toBe(1);
  });
});

describe('a spec that reaches for a secret', () => {
  it('run refuses to start, naming the line', async () => {
    const at = join(dir, 'leak');
    await mkdir(at);
    const text = (await minimal()).replace(
      '    objective: "< 0.5"\n',
      '    objective: "< 0.5"\n    labels:\n      leak: ${SLACK_SIGNING_SECRET}\n',
    );
    await writeFile(join(at, 'spec.yaml'), text);
    const r = await runSloe(['run', at], {
      env: { ...OFFLINE, SLACK_SIGNING_SECRET: 'very-secret' },
      timeoutMs: 20_000,
    });
    expect(r.stderr).toContain(
      `${join(at, 'spec.yaml')}:25:13: \${SLACK_SIGNING_SECRET} is not allowed in slos[0].labels.leak`,
    );
    expect(r.stderr + r.stdout).not.toContain('very-secret');
    expect(r.code).toBe(1);
  });
});

describe('YAML aliases', () => {
  it('more than 100 alias uses in a document is a located problem; the other files are still checked', async () => {
    const at = join(dir, 'aliases');
    await mkdir(at);
    const uses = Array.from(
      { length: 101 },
      (_, i) => `  - { name: s${i}, signal: latency, dashboard: *dash, query: up, objective: "< 1" }`,
    ).join('\n');
    await writeFile(
      join(at, 'a-many.yaml'),
      `apiVersion: sloe/v1\nkind: ServiceLevels\nservice: many\nowner: t\nescalation: default\ndashboards:\n  - { id: &dash shop, owner: alice }\nslos:\n${uses}\n`,
    );
    await writeFile(join(at, 'b-other.yaml'), (await minimal()).replace('signal: latency', 'signal: latancy'));
    const r = await runSloe(['validate', at]);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(
      `${join(at, 'a-many.yaml')}:109:47: more than 100 alias uses in this document (*dash here): YAML expands every alias, so sloe refuses more (a guard against alias bombs); write the value out or split the document`,
    );
    expect(lines.some((l) => l.startsWith(`${join(at, 'b-other.yaml')}:20:13: "signal" must be one of`))).toBe(true);
    expect(r.code).toBe(1);
  });
});
