import {
  EvaluationError,
  createPrometheus,
  formatLabels,
  groupReplays,
  loadFrames,
  replay,
} from '../evaluator/index.js';
import { describeStep } from '../rules/plan.js';
import { silencer } from '../rules/silence.js';
import { holdText } from '../rules/inhibit.js';
import { alertLoad } from '../evaluator/backtest-diff.js';
import { andDependencies, inhibitPass } from '../evaluator/backtest-inhibit.js';
import { backtestRanges } from '../evaluator/backtest-ranges.js';
import { formatDuration, parseDuration } from '../rules/index.js';
import { UsageError } from '../rules/index.js';
import { mapLimit } from '../util/async.js';
import { loadConfig } from './config.js';
import { EXIT, type Io } from './io.js';
import { incidentJson } from './backtest-diff-format.js';
import { DEFAULT_PATHS, iso, oneOf, parse, parseTime } from './options.js';

export const BACKTEST_HELP = `Usage: sloe backtest [PATH…] --from TIME --to TIME [--step DUR] [--json]
       sloe backtest --base REF|DIR [PATH…] --from TIME --to TIME [--format text|json|markdown] [--github-summary]

Replays the alert state machine and the escalation policies over history, sending nothing: when each incident
would have fired and resolved, and which escalation steps would have run, repetitions (repeat) included
(acknowledgements are not simulated: repetitions go on until the incident resolves).

Options:
  --from TIME, --to TIME   RFC 3339 (2026-03-01T10:00:00Z) or Unix seconds
  --step DUR               evaluation step, a Prometheus duration (default 1m)
  --slo SERVICE/NAME       only this SLO (repeatable)
  --json                   one JSON object: { "from", "to", "step", "slos": [ { "service", "slo", "labels", "incidents" } ] }
  --format FORMAT          text (default) or json; with --base also markdown (a pull-request comment)

What a change would have changed:
  --base REF|DIR           also replay the specs at a base and compare, per SLO: incidents added, removed and
                           moved, pages and tickets per week, steps reaching PagerDuty and on-call, SLOs added,
                           removed and renamed. DIR: a directory holding the base's SLO files; REF: a git revision
                           of the repository the PATHs live in, whose files below the same PATHs are the base.
                           Each distinct Prometheus query is asked once for both sides.
  --github-summary         also append the Markdown comparison to $GITHUB_STEP_SUMMARY (GitHub Actions)
  --fail-on-new-pages      exit 1 when an SLO would have paged more often than at the base

Environment: as for sloe eval (PROMETHEUS_URL, …).
Exit status: 0 replayed (and compared), 1 invalid SLO files (or new pages with --fail-on-new-pages), 2 usage error
or Prometheus failing.
`;

/** `sloe backtest`: what a spec would have done against real history. */
export async function backtestCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    from: { type: 'string' },
    to: { type: 'string' },
    step: { type: 'string' },
    slo: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    format: { type: 'string' },
    base: { type: 'string' },
    'github-summary': { type: 'boolean' },
    'fail-on-new-pages': { type: 'boolean' },
  });
  if (values.help) {
    io.stdout.write(BACKTEST_HELP);
    return EXIT.ok;
  }
  if (values.from === undefined || values.to === undefined) throw new UsageError('--from and --to are required');
  const from = parseTime('from', values.from);
  const to = parseTime('to', values.to);
  if (to <= from) throw new UsageError('--to must be after --from');
  const stepMs = parseDuration(values.step ?? '1m');
  if (stepMs === undefined || stepMs < 1000 || stepMs % 1000 !== 0) {
    throw new UsageError(
      `--step must be a duration of whole seconds such as 30s or 1m (got ${JSON.stringify(values.step)})`,
    );
  }
  const format = values.json ? 'json' : oneOf('format', values.format, ['text', 'json', 'markdown'] as const, 'text');
  if (values.base === undefined) {
    if (format === 'markdown' || values['github-summary'] || values['fail-on-new-pages']) {
      throw new UsageError(
        '--format markdown, --github-summary and --fail-on-new-pages compare with a base: give --base REF|DIR',
      );
    }
  } else {
    const { backtestBaseCommand } = await import('./backtest-base.js');
    return backtestBaseCommand(
      {
        base: values.base,
        paths: positionals.length ? positionals : DEFAULT_PATHS,
        from,
        to,
        stepMs,
        slos: values.slo ?? [],
        format,
        githubSummary: values['github-summary'] === true,
        failOnNewPages: values['fail-on-new-pages'] === true,
      },
      io,
    );
  }
  const config = await loadConfig(positionals.length ? positionals : DEFAULT_PATHS, io, 'slos');
  if (typeof config === 'number') return config;
  const wanted = values.slo ?? [];
  const slos = wanted.length ? config.slos.filter((s) => wanted.includes(s.id)) : config.slos;
  const unknown = wanted.filter((w) => !config.slos.some((s) => s.id === w));
  if (unknown.length) throw new UsageError(`no such SLO: ${unknown.join(', ')} (use service/name)`);

  const times: number[] = [];
  for (let t = from; t <= to; t += stepMs) times.push(t);
  const prometheus = createPrometheus(io.env);
  const progress = io.stderr.isTTY === true;
  let done = 0;
  let failed = 0;
  const holds = silencer(config.silences);
  // The SLOs the selected ones wait for are replayed too: their pages hold the selected ones' (a second pass).
  const replayed = andDependencies(slos, config.slos);
  const ranges = backtestRanges(prometheus, replayed, from, to, stepMs);
  const first = await mapLimit(replayed, 4, async (slo) => {
    const policy = config.policies.get(slo.escalation);
    try {
      const frames = await loadFrames(ranges, slo, from, to, stepMs);
      return { slo, policy, frames, holds, instances: replay(slo, policy, times, frames, undefined, holds) };
    } catch (e) {
      if (!(e instanceof EvaluationError)) throw e;
      failed++;
      io.stderr.write(`${progress ? '\r\x1b[K' : ''}sloe backtest: ${e.message}\n`);
      return { slo, policy, frames: () => ({ status: 'nodata' as const, message: e.message }), holds, instances: [] };
    } finally {
      done++;
      if (progress) io.stderr.write(`\r\x1b[Kbacktest: ${done}/${replayed.length} SLOs, ${prometheus.queries} queries`);
    }
  });
  if (progress) io.stderr.write('\r\x1b[K');
  if (failed > 0) {
    io.stderr.write(
      `sloe backtest: ${failed} of ${replayed.length} SLOs could not be replayed; no result is printed\n`,
    );
    return EXIT.usage;
  }
  const second = inhibitPass(first, times);
  // Grouping spans SLOs: the replays of every SLO replayed are grouped, then the selected ones shown.
  const grouped = groupReplays(
    first.map((f, i) => ({ slo: f.slo, instances: second[i]! })),
    config.policies,
    times[times.length - 1]!,
    holds,
  );
  const results = grouped.filter((r) => slos.includes(r.slo));

  const entries = results.flatMap(({ slo, instances }) =>
    instances.length === 0
      ? [{ service: slo.service, slo: slo.name, labels: {}, incidents: [] }]
      : instances.map((i) => ({
          service: slo.service,
          slo: slo.name,
          labels: i.labels,
          incidents: i.incidents.map(incidentJson),
        })),
  );
  if (format === 'json') {
    io.stdout.write(
      JSON.stringify({ from: iso(from), to: iso(to), step: formatDuration(stepMs), slos: entries }, null, 2) + '\n',
    );
    return EXIT.ok;
  }
  const incidents = results.flatMap((r) =>
    r.instances.flatMap((i) => i.incidents.map((inc) => ({ slo: r.slo, labels: i.labels, inc }))),
  );
  io.stdout.write(`backtest ${iso(from)} → ${iso(to)}, step ${formatDuration(stepMs)}, ${slos.length} SLOs\n\n`);
  for (const { slo, labels, inc } of incidents.sort((a, b) => a.inc.firedAt - b.inc.firedAt)) {
    const resolved =
      inc.resolvedAt === null
        ? 'still open at the end'
        : `resolved ${iso(inc.resolvedAt)} after ${formatDuration(inc.resolvedAt - inc.firedAt)}`;
    io.stdout.write(
      `${iso(inc.firedAt)}  ${inc.severity.toUpperCase().padEnd(6)}  ${slo.id}${formatLabels(labels)}  ${resolved}\n`,
    );
    io.stdout.write(`    ${inc.reason === 'breach' ? '' : `${inc.reason}: `}${inc.message}\n`);
    if (inc.held) io.stdout.write(`    ${holdText(inc.held)} (steps from ${iso(inc.held.until)} if still firing)\n`);
    if (inc.group?.role === 'leader')
      io.stdout.write(`    leads a group of ${inc.group.size}: its steps are the group's\n`);
    if (inc.group?.role === 'member') {
      const { leader, leftAt } = inc.group;
      io.stdout.write(
        `    in the group of ${leader.sloId}${formatLabels(leader.labels)} fired ${iso(leader.firedAt)}: follows its steps${leftAt !== undefined ? ` until ${iso(leftAt)} (raised beyond its group)` : ''}\n`,
      );
    }
    for (const e of inc.escalations)
      io.stdout.write(
        `    ${iso(e.at)}  ${e.raised ? `raised to ${e.severity}` : `now ${e.reason === 'breach' ? 'a breach' : e.reason}: the ${e.severity} steps start over`}\n`,
      );
    const policy = config.policies.get(slo.escalation);
    for (const s of inc.steps) {
      const step = policy?.[s.severity][s.index];
      io.stdout.write(
        `    ${iso(s.at)}  → ${step ? describeStep(step) : s.notify}${s.round ? ` (repeat ${s.round})` : ''}\n`,
      );
    }
  }
  const load = alertLoad(incidents.map((i) => ({ labels: i.labels, incident: i.inc })));
  const steps = incidents.reduce((n, i) => n + i.inc.steps.length, 0);
  const inGroups = load.grouped ? `, ${load.grouped} in another's group` : '';
  io.stdout.write(
    `${incidents.length ? '\n' : ''}${incidents.length} incident(s) would have fired (${load.pages} page, ${load.tickets} ticket${inGroups}), running ${steps} escalation step(s); ${prometheus.queries} Prometheus queries\n`,
  );
  return EXIT.ok;
}
