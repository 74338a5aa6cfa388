/**
 * Benchmark: `sloe backtest --base` against a single `sloe backtest` of the same 100 SLOs over 30 days at a 1m step,
 * side by side on one Prometheus (the backtest section's history). The base is the previous commit of a git
 * repository: once with one threshold changed (a typical pull request), once with every SLO changed (each replayed
 * twice). Each command runs twice (BENCH_BASE_RUNS), alternating; the figures are the fastest runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrometheus } from '../src/local/prometheus.js';
import { history, run, slos } from './backtest.js';

const DAY = 86_400_000;
/** Runs of each command per scenario (BENCH_BASE_RUNS); the fastest counts. */
const RUNS = Number(process.env.BENCH_BASE_RUNS ?? 2);

/** Runs the benchmark and returns its figures. */
export async function benchBacktestBase(): Promise<Record<string, number | string>> {
  const to = Date.parse('2026-10-31T00:00:00Z');
  const from = to - 30 * DAY;
  const prom = await startPrometheus({ history: history(from - 3 * DAY, to) });
  const dir = await mkdtemp(join(tmpdir(), 'sloe-bench-backtest-base-'));
  const git = (...args: string[]) =>
    execFileSync(
      'git',
      ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', '-c', 'commit.gpgsign=false', ...args],
      { cwd: dir, encoding: 'utf8' },
    );
  try {
    const spec = slos();
    await writeFile(join(dir, 'slos.yaml'), spec);
    git('init', '-q');
    git('add', 'slos.yaml');
    git('commit', '-q', '-m', 'base');
    const oneChanged = spec.replace('when: "> 3%", for: 5m', 'when: "> 5%", for: 5m');
    const allChanged = spec
      .replaceAll('when: "> 3%", for: 5m', 'when: "> 5%", for: 5m')
      .replaceAll('objective: 99.9%', 'objective: 99.5%');
    const window = ['--from', String(from / 1000), '--to', String(to / 1000), '--step', '1m'];
    const env = { PROMETHEUS_URL: prom.url };
    const timed = async (args: string[]) => {
      const r = await run(args, env);
      if (r.code !== 0) throw new Error(`sloe ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
      return r;
    };
    const figures: Record<string, number | string> = {};
    for (const [name, text] of [
      ['one_changed', oneChanged],
      ['all_changed', allChanged],
    ] as const) {
      await writeFile(join(dir, 'slos.yaml'), text);
      const single: number[] = [];
      const based: number[] = [];
      let summary = '';
      try {
        for (let i = 0; i < RUNS; i++) {
          single.push((await timed(['backtest', dir, ...window])).wallMs);
          const b = await timed(['backtest', '--base', 'HEAD', dir, ...window]);
          based.push(b.wallMs);
          summary = b.stdout.trim().split('\n').pop() ?? '';
        }
      } catch (e) {
        // A failed run is a figure too: the other scenario's figures are kept.
        figures[`${name}_error`] = (e as Error).message.split('\n')[0]!.slice(0, 300);
        continue;
      }
      const s = Math.min(...single) / 1000;
      const b = Math.min(...based) / 1000;
      figures[`${name}_single_wall_s`] = Number(s.toFixed(2));
      figures[`${name}_base_wall_s`] = Number(b.toFixed(2));
      figures[`${name}_base_over_single`] = Number((b / s).toFixed(2));
      figures[`${name}_summary`] = summary.replace(/^.*?; (pages)/, '$1');
    }
    figures.slos = 100;
    figures.days = 30;
    figures.target_one_changed = '≤ 1.2';
    return figures;
  } finally {
    await prom.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchBacktestBase());
}
