/**
 * The hostile corpus: specs written to read secrets, inject Slack markup, stall or crash the engine. Each runs the
 * real `sloe validate`, which must exit 1 within 2 s with a `path:line:col: message` line naming the problem, and
 * no stack trace. Committed cases are in test/fixtures/hostile/ (`# expect: line:col: text of the message`);
 * cases that cannot or should not be committed (a 30 MB file, other encodings, links, FIFOs) are made here.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runSloe } from '../support/cli.js';

const CORPUS = join(ROOT, 'test', 'fixtures', 'hostile');
const LIMIT_MS = 2000;

/** Fails when output carries a stack trace, a Node warning or an uncaught error instead of problems. */
function expectClean(output: string): void {
  expect(output).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(output).not.toMatch(/node:internal|\(node:\d+\) |Uncaught|RangeError|TypeError|ReferenceError/);
}

/** What the cases took: printed at the end, for the record. */
const timings: Array<{ name: string; ms: number; cpuMs: number }> = [];

/**
 * Runs validate on `target` and checks the exit code, the located line, the time and the absence of traces. The
 * time limit applies to the CPU time the sloe process used: on a machine shared with other work, wall-clock time
 * also counts the other processes (a node process that does nothing takes 0.5 s of wall time at a load of 10).
 */
async function expectRefused(target: string, file: string, line: number, col: number, text: string): Promise<void> {
  const r = await runSloe(['validate', target], { timeoutMs: 30_000, cpuTime: true });
  timings.push({ name: target, ms: Math.round(r.ms), cpuMs: Math.round(r.cpuMs ?? NaN) });
  const prefix = `${file}:${line}:${col}: `;
  const lines = r.stdout.split('\n');
  expect(
    lines.find((l) => l.startsWith(prefix) && l.includes(text)),
    `a line "${prefix}…${text}…" in:\n${r.stdout.slice(0, 2000)}\n${r.stderr.slice(0, 2000)}`,
  ).toBeDefined();
  expect(r.code).toBe(1);
  expectClean(r.stdout);
  expectClean(r.stderr);
  expect(r.cpuMs, 'CPU milliseconds').toBeLessThan(LIMIT_MS);
}

afterAll(() => {
  const cpu = timings.map((t) => t.cpuMs).sort((a, b) => a - b);
  const wall = timings.map((t) => t.ms).sort((a, b) => a - b);
  const at = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];
  console.log(
    `hostile corpus: ${timings.length} cases; CPU ms median ${at(cpu, 0.5)}, max ${cpu[cpu.length - 1]}; wall ms median ${at(wall, 0.5)}, max ${wall[wall.length - 1]}`,
  );
});

const committed = readdirSync(CORPUS)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((name) => {
    const head = readFileSync(join(CORPUS, name), 'utf8').slice(0, 4000);
    const m = /^# expect: (\d+):(\d+): (.*)$/m.exec(head);
    if (!m) throw new Error(`${name} has no "# expect: line:col: message" line`);
    return { name, line: Number(m[1]), col: Number(m[2]), text: m[3]! };
  });

describe('the hostile corpus', () => {
  it('has at least 40 committed cases, every one with an expectation', () => {
    expect(committed.length).toBeGreaterThanOrEqual(40);
  });

  it.each(committed)('$name', async ({ name, line, col, text }) => {
    const file = join('test', 'fixtures', 'hostile', name);
    await expectRefused(file, file, line, col, text);
  });
});

describe('hostile files made by the test', () => {
  let dir: string;
  let spec: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sloe-hostile-'));
    spec = await readFile(join(ROOT, 'test', 'fixtures', 'slos', 'good', 'minimal.yaml'), 'utf8');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** A directory of its own for one case, holding the given files. */
  async function place(name: string, files: Record<string, string | Buffer>): Promise<string> {
    const at = join(dir, name);
    await mkdir(at);
    for (const [file, content] of Object.entries(files)) await writeFile(join(at, file), content);
    return at;
  }

  it('a 30 MB file is refused by its size, unread, and the other files are still checked', async () => {
    const at = await place('big', {
      'big.yaml': Buffer.alloc(30 * 1024 * 1024, 'a: b\n'),
      'other.yaml': spec.replace('signal: latency', 'signal: latancy'),
    });
    await expectRefused(at, join(at, 'big.yaml'), 1, 1, 'the file is 30.0 MiB; an SLO file may be at most 1 MiB');
    await expectRefused(at, join(at, 'other.yaml'), 20, 13, '"signal" must be one of');
  });

  it('an objective of "<1", 120,000 spaces and x is refused in milliseconds', async () => {
    const text = spec.replace('objective: "< 0.5"', `objective: "<1${' '.repeat(120_000)}x"`);
    const at = await place('condition', { 'spec.yaml': text });
    await expectRefused(at, join(at, 'spec.yaml'), 23, 16, 'longer than 64 KiB');
  });

  it('100,000 nested flow sequences', async () => {
    const at = await place('nesting', { 'spec.yaml': `a: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n` });
    await expectRefused(at, join(at, 'spec.yaml'), 1, 4 + 63, 'nesting deeper than 64 levels');
  });

  it('100,000 nested block sequences', async () => {
    const at = await place('nesting-block', { 'spec.yaml': `a:\n${'- '.repeat(100_000)}x\n` });
    await expectRefused(at, join(at, 'spec.yaml'), 2, 1 + 2 * 64, 'nesting deeper than 64 levels');
  });

  it.each([
    [
      'UTF-16LE with a byte order mark',
      () => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(spec, 'utf16le')]),
      1,
      1,
      'UTF-16',
    ],
    [
      'UTF-16BE with a byte order mark',
      () => Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(spec, 'utf16le').swap16()]),
      1,
      1,
      'UTF-16',
    ],
    ['UTF-16 without a byte order mark', () => Buffer.from(spec, 'utf16le'), 1, 2, 'NUL byte'],
    [
      'Latin-1',
      () => Buffer.from(spec.replace('owner: shop-team', 'owner: équipe'), 'latin1'),
      14,
      8,
      'invalid UTF-8 (byte 0xe9)',
    ],
    [
      'a stray 0xff byte',
      () => Buffer.concat([Buffer.from(spec.slice(0, 20)), Buffer.from([0xff]), Buffer.from(spec.slice(20))]),
      2,
      1,
      'invalid UTF-8 (byte 0xff)',
    ],
    ['gzip', () => gzipSync(spec), 1, 4, 'NUL byte'],
  ] as const)('a file in %s', async (name, bytes, line, col, text) => {
    const at = await place(`encoding-${name.replace(/\W+/g, '-')}`, { 'spec.yaml': bytes() });
    await expectRefused(at, join(at, 'spec.yaml'), line, col, text);
  });

  it('a link to itself', async () => {
    const at = await place('self-loop', {});
    await symlink('loop.yaml', join(at, 'loop.yaml'));
    await expectRefused(at, join(at, 'loop.yaml'), 1, 1, 'symbolic link loop');
  });

  it('two links to each other', async () => {
    const at = await place('pair-loop', {});
    await symlink('b.yaml', join(at, 'a.yaml'));
    await symlink('a.yaml', join(at, 'b.yaml'));
    await expectRefused(at, join(at, 'a.yaml'), 1, 1, 'symbolic link loop');
  });

  it('a directory link back to its parent', async () => {
    const at = await place('dir-loop', { 'spec.yaml': spec });
    await symlink('.', join(at, 'again'));
    await expectRefused(at, join(at, 'again'), 1, 1, `symbolic link loop: ${join(at, 'again')} leads back to`);
  });

  it('a broken link', async () => {
    const at = await place('broken', {});
    await symlink('gone.yaml', join(at, 'spec.yaml'));
    await expectRefused(at, join(at, 'spec.yaml'), 1, 1, 'broken symbolic link');
  });

  it('a link out of the SLO directory', async () => {
    const at = await place('escape', {});
    await symlink('/etc/hostname', join(at, 'host.yaml'));
    await expectRefused(at, join(at, 'host.yaml'), 1, 1, 'symbolic link leads outside');
  });

  it('a device given as a file', async () => {
    const at = await place('device', {});
    await symlink('/dev/zero', join(at, 'zero.yaml'));
    await expectRefused(join(at, 'zero.yaml'), join(at, 'zero.yaml'), 1, 1, 'not a regular file');
  });

  it('a FIFO named like an SLO file', async () => {
    const at = await place('fifo', {});
    execFileSync('mkfifo', [join(at, 'pipe.yaml')]);
    await expectRefused(at, join(at, 'pipe.yaml'), 1, 1, 'not a regular file');
  });

  it('a directory with no SLO files', async () => {
    const at = await place('empty', { 'README.md': '# nothing here\n', '.hidden.yaml': spec });
    await expectRefused(at, at, 1, 1, 'no SLO files (*.yaml, *.yml) found');
  });

  it('terminal escapes, bidi overrides and line breaks in spec text are escaped in text and GitHub output', async () => {
    // ESC [2J clears the screen, ESC ]0;… sets the window title, BEL rings, U+202E reverses what follows; a line
    // break followed by `::` would start a workflow command of its own in GitHub Actions.
    const hostile = spec
      .replace(
        'owner: shop-team',
        'owner: shop-team\ndescription: "x ${\\e[2J\\e]0;pwned\\a\\u202e}"\n"own\\e[31mer\\u202e": 1',
      )
      .replace('signal: latency', 'signal: "late\\r\\n::add-mask::\\e[8m"');
    const at = await place('escapes', { 'spec.yaml': hostile });
    const file = join(at, 'spec.yaml');
    await expectRefused(at, file, 15, 14, '${\\x1b[2J\\x1b]0;pwned\\x07\\u202e} is not allowed in description');
    for (const format of ['text', 'github']) {
      const r = await runSloe(['validate', at, '--format', format], { timeoutMs: 30_000 });
      expect(r.code).toBe(1);
      expect(r.stdout, format).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines, format).toHaveLength(3);
      if (format === 'github')
        for (const line of lines) expect(line).toMatch(/^::error file=[^\n]*,line=\d+,col=\d+::/);
      expect(r.stdout).toContain(
        format === 'github' ? 'unknown key "own\\u001b[31mer\\u202e"' : 'unknown key "own\\u001b[31mer\\u202e"',
      );
    }
  });

  it('18,000 unknown keys in one flat mapping: the "did you mean" search stays cheap and 100 problems are listed', async () => {
    const letters = 'abcdefghijklmnopqrstuvwxyz';
    const keys: string[] = [];
    for (const a of letters) for (const b of letters) for (const c of letters) keys.push(a + b + c);
    for (const a of letters) for (const b of letters) keys.push(a + b);
    const at = await place('flat-mapping', {
      'spec.yaml': `apiVersion: sloe/v1\nkind: ServiceLevels\n${keys.map((k) => `${k}: 0`).join('\n')}\n`,
    });
    const file = join(at, 'spec.yaml');
    await expectRefused(
      at,
      file,
      100,
      1,
      `…and ${keys.length + 3 - 100} more problems in this file (only the first 100 are listed)`,
    );
  });

  it('more than 1000 documents in one file: the rest are not read', async () => {
    const docs = Array.from(
      { length: 1500 },
      (_, i) => `apiVersion: sloe/v1\nkind: EscalationPolicy\nname: p${i}\npage: [{ notify: slack, channel: "#a" }]\n`,
    ).join('---\n');
    const at = await place('documents', { 'spec.yaml': docs });
    const r = await runSloe(['validate', '--format', 'json', at], { timeoutMs: 30_000, cpuTime: true });
    expect(r.code).toBe(1);
    const problems = (JSON.parse(r.stdout) as { problems: Array<{ line: number; message: string }> }).problems;
    // Reported at the 1001st document (each is 4 lines and a `---`).
    const cap = problems.find((p) => p.message.startsWith('more than 1000 documents in one file (1500)'));
    expect(cap!.line).toBeGreaterThanOrEqual(5 * 1000);
    expect(cap!.line).toBeLessThanOrEqual(5 * 1000 + 2);
    expect(problems.length).toBeLessThanOrEqual(2);
    expect(r.cpuMs).toBeLessThan(LIMIT_MS);
  });
});
