/**
 * `sloe backtest --base`: replays the specs at a base (a git revision or a directory) and the specs now over the same
 * history, with each distinct Prometheus query asked once for both, and shows per SLO what the change would have
 * changed.
 */
import { appendFile } from 'node:fs/promises';
import { type ReplayedSlo, diffBacktests, modelKey } from '../evaluator/backtest-diff.js';
import {
  type BacktestInstance,
  EvaluationError,
  createPrometheus,
  groupReplays,
  loadFrames,
  replay,
} from '../evaluator/index.js';
import { QueryCache } from '../evaluator/query-cache.js';
import { andDependencies, inhibitPass } from '../evaluator/backtest-inhibit.js';
import { backtestRanges } from '../evaluator/backtest-ranges.js';
import type { FrameSource } from '../evaluator/frame.js';
import { type Config, type EscalationPolicy, type Slo, UsageError, formatProblem, loadRules } from '../rules/index.js';
import { type Silence, couldMatch, silencer } from '../rules/silence.js';
import { mapLimit } from '../util/async.js';
import {
  type BacktestComparison,
  comparisonJson,
  comparisonMarkdown,
  comparisonText,
  newPages,
} from './backtest-diff-format.js';
import { loadConfig } from './config.js';
import { baseSpecs } from './git.js';
import { EXIT, type Io } from './io.js';
import { checkOptions } from './options.js';

export interface BaseOptions {
  base: string;
  paths: string[];
  from: number;
  to: number;
  stepMs: number;
  slos: string[];
  format: 'text' | 'json' | 'markdown';
  githubSummary: boolean;
  failOnNewPages: boolean;
}

type Side = Pick<Config, 'slos' | 'policies' | 'silences'>;

/** Loads the base's specs; problems are printed as the base calls its files (`REF:path:line:col`). */
async function loadBase(base: Awaited<ReturnType<typeof baseSpecs>>, io: Io): Promise<Side | number> {
  if (base.paths.length === 0) return { slos: [], policies: new Map(), silences: [] };
  const { config, problems, envProblems } = await loadRules(base.paths, {
    ...checkOptions(undefined, io.env),
    env: io.env,
  });
  const shown = (p: (typeof problems)[number]) => formatProblem({ ...p, file: base.display(p.file) });
  if (problems.length > 0) {
    for (const p of problems) io.stderr.write(shown(p) + '\n');
    io.stderr.write(`sloe backtest: ${problems.length} problem(s) in the SLO files of the base ${base.label}\n`);
    return EXIT.problem;
  }
  const missing = envProblems.filter((p) => p.kind === 'ServiceLevels');
  if (missing.length > 0) {
    for (const p of missing) io.stderr.write(shown(p) + '\n');
    return EXIT.usage;
  }
  return config;
}

/** Runs `sloe backtest --base` and returns its exit code. */
export async function backtestBaseCommand(o: BaseOptions, io: Io): Promise<number> {
  if (o.githubSummary && !io.env.GITHUB_STEP_SUMMARY)
    throw new UsageError('--github-summary needs GITHUB_STEP_SUMMARY (set by GitHub Actions)');
  const head = await loadConfig(o.paths, io, 'slos');
  if (typeof head === 'number') return head;
  const base = await baseSpecs(o.base, o.paths);
  let baseConfig: Side | number;
  try {
    baseConfig = await loadBase(base, io);
  } finally {
    await base.dispose();
  }
  if (typeof baseConfig === 'number') return baseConfig;

  const pick = (slos: readonly Slo[]) => (o.slos.length ? slos.filter((s) => o.slos.includes(s.id)) : [...slos]);
  const unknown = o.slos.filter((w) => !head.slos.some((s) => s.id === w) && !baseConfig.slos.some((s) => s.id === w));
  if (unknown.length) throw new UsageError(`no such SLO: ${unknown.join(', ')} (use service/name)`);
  const sides = { base: pick(baseConfig.slos), head: pick(head.slos) };
  // The SLOs the picked ones wait for are replayed too, for their pages (inhibition's second pass).
  const replaying = {
    base: andDependencies(sides.base, baseConfig.slos),
    head: andDependencies(sides.head, head.slos),
  };

  const times: number[] = [];
  for (let t = o.from; t <= o.to; t += o.stepMs) times.push(t);
  const client = createPrometheus(io.env);
  const cache = new QueryCache(client);
  // A replay is a function of the SLO, its policy, the times and the answers: an SLO the change left as it was is
  // replayed once for both sides.
  // The silences that may match the SLO are part of what its replay is a function of.
  const replays = new Map<
    string,
    {
      slo: Slo;
      policy: EscalationPolicy | undefined;
      silences: Silence[];
      frames?: FrameSource;
      instances?: BacktestInstance[];
    }
  >();
  const keyOf = (slo: Slo, side: Pick<Config, 'policies' | 'silences'>) => {
    const policy = side.policies.get(slo.escalation);
    const silences = side.silences.filter((s) => couldMatch(s, slo));
    const key = `${modelKey(slo)}\0${modelKey(policy)}\0${JSON.stringify(silences.map(({ source: _, ...s }) => s))}`;
    if (!replays.has(key)) replays.set(key, { slo, policy, silences });
    return key;
  };
  const keys = {
    base: replaying.base.map((s) => keyOf(s, baseConfig)),
    head: replaying.head.map((s) => keyOf(s, head)),
  };
  const failures: string[] = [];
  const ranges = backtestRanges(
    cache,
    [...replays.values()].map((r) => r.slo),
    o.from,
    o.to,
    o.stepMs,
  );
  await mapLimit([...replays.values()], 4, async (r) => {
    try {
      r.frames = await loadFrames(ranges, r.slo, o.from, o.to, o.stepMs);
      r.instances = replay(r.slo, r.policy, times, r.frames, undefined, silencer(r.silences));
    } catch (e) {
      if (!(e instanceof EvaluationError)) throw e;
      failures.push(e.message);
    }
  });
  if (failures.length > 0) {
    for (const f of failures) io.stderr.write(`sloe backtest: ${f}\n`);
    io.stderr.write(
      `sloe backtest: ${failures.length} of ${replays.size} SLO replays failed; no comparison is printed\n`,
    );
    return EXIT.usage;
  }
  // Each side's dependents are replayed again with the holds of that side's dependencies; then each side groups its
  // own replays (which both sides may share) by its own policies.
  const replayed = (
    slos: Slo[],
    k: string[],
    shown: Slo[],
    side: Pick<Config, 'policies' | 'silences'>,
  ): ReplayedSlo[] => {
    const first = slos.map((slo, i) => {
      const r = replays.get(k[i]!)!;
      return { slo, policy: r.policy, frames: r.frames!, holds: silencer(r.silences), instances: r.instances! };
    });
    const second = inhibitPass(first, times);
    const grouped = groupReplays(
      slos.map((slo, i) => ({ slo, instances: second[i]! })),
      side.policies,
      times[times.length - 1]!,
      silencer(side.silences),
    );
    return grouped.filter((r) => shown.includes(r.slo));
  };
  const comparison: BacktestComparison = {
    from: o.from,
    to: o.to,
    stepMs: o.stepMs,
    base: { label: base.label, ...(base.commit ? { commit: base.commit } : {}) },
    slos: diffBacktests(
      { slos: replayed(replaying.base, keys.base, sides.base, baseConfig), policies: baseConfig.policies },
      { slos: replayed(replaying.head, keys.head, sides.head, head), policies: head.policies },
    ),
    queries: { distinct: cache.distinct, requests: client.queries },
  };

  const markdown = o.format === 'markdown' || o.githubSummary ? comparisonMarkdown(comparison) : '';
  io.stdout.write(
    o.format === 'json' ? comparisonJson(comparison) : o.format === 'markdown' ? markdown : comparisonText(comparison),
  );
  if (o.githubSummary) await appendFile(io.env.GITHUB_STEP_SUMMARY!, markdown + '\n');
  const added = newPages(comparison);
  if (o.failOnNewPages && added > 0) {
    io.stderr.write(`sloe backtest: the change would have paged ${added} more time(s) (--fail-on-new-pages)\n`);
    return EXIT.problem;
  }
  return EXIT.ok;
}
