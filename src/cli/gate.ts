import { createPrometheus } from '../evaluator/index.js';
import { type ComparedSlo, comparedSlos, measure } from '../gate/measure.js';
import { type CheckResult, type Verdict, verdict, verdictMarkdown } from '../gate/verdict.js';
import { UsageError, formatDuration, parseDuration } from '../rules/index.js';
import { describeError } from '../util/errors.js';
import { loadConfig } from './config.js';
import { EXIT, type Io, table } from './io.js';
import { DEFAULT_PATHS, iso, oneOf, parse, parseTime } from './options.js';

export const GATE_HELP = `Usage: sloe gate [PATH…] --variant V [--for 30m] [--at TIME] [--format text|json|markdown] [--label L]

The analysis step of a canary rollout: every SLO with \`compare:\` measures the candidate value V of its label
(a prompt or a model) against the baseline value over the window, from the same SLO files the engine runs. Each
side needs compare.minEvents events; a side with fewer is not enough data. SLOs without compare: are ignored.

Options:
  --slos PATH    SLO files or directories (repeatable; the same as positional PATHs; default ./slos)
  --variant V    the candidate value of the compared label, e.g. answer_v2
  --for DUR      the window, ending at --at (default 30m)
  --at TIME      RFC 3339 or Unix seconds (default now)
  --format F     text (a table), json (one object) or markdown (a pull-request or deployment comment)
  --label L      only the SLOs that compare label L (needed when the SLOs compare different labels)

Environment: PROMETHEUS_URL (default http://localhost:9090), PROMETHEUS_TIMEOUT, PROMETHEUS_BEARER_TOKEN or
PROMETHEUS_USERNAME and PROMETHEUS_PASSWORD.

Exit status: 0 promote, 1 roll back (an SLO regressed beyond compare.when), 3 not enough data yet (try again
later), 2 usage error, invalid SLO files or Prometheus failing (no verdict; never a promotion on no answer).
`;

const OPTIONS = {
  slos: { type: 'string', multiple: true },
  variant: { type: 'string' },
  for: { type: 'string' },
  at: { type: 'string' },
  format: { type: 'string' },
  label: { type: 'string' },
} as const;

/** What `sloe gate` was asked. */
export interface GateOptions {
  paths: string[];
  variant: string;
  windowMs: number;
  at: number;
  format: 'text' | 'json' | 'markdown';
  label?: string;
}

/** Reads the arguments of `sloe gate`; undefined for --help. Usage errors throw. */
export function gateOptions(args: string[], now: number): GateOptions | undefined {
  const { values, positionals } = parse(args, OPTIONS);
  if (values.help) return undefined;
  if (values.variant === undefined || values.variant === '')
    throw new UsageError('--variant is required: the candidate value of the compared label, e.g. --variant answer_v2');
  const windowText = values.for ?? '30m';
  const windowMs = parseDuration(windowText);
  if (windowMs === undefined || windowMs < 60_000)
    throw new UsageError(
      `--for must be a duration of at least 1m such as 30m or 2h (got ${JSON.stringify(windowText)})`,
    );
  const paths = [...(values.slos ?? []), ...positionals];
  return {
    paths: paths.length ? paths : DEFAULT_PATHS,
    variant: values.variant,
    windowMs,
    at: values.at !== undefined ? parseTime('at', values.at) : Math.floor(now / 1000) * 1000,
    format: oneOf('format', values.format, ['text', 'json', 'markdown'] as const, 'text'),
    ...(values.label !== undefined ? { label: values.label } : {}),
  };
}

/** The SLOs the gate compares; usage errors when there are none or they compare different labels. */
function pick(all: ComparedSlo[], o: GateOptions): ComparedSlo[] {
  if (all.length === 0)
    throw new UsageError(
      'no SLO declares compare: (compare: {label: prompt_key, baseline: answer_v1}); there is nothing to gate on',
    );
  const slos = o.label !== undefined ? all.filter((s) => s.compare.label === o.label) : all;
  const labels = [...new Set(all.map((s) => s.compare.label))].sort();
  if (slos.length === 0)
    throw new UsageError(`no SLO compares label ${JSON.stringify(o.label)} (they compare ${labels.join(', ')})`);
  if (o.label === undefined && labels.length > 1)
    throw new UsageError(`the SLOs compare different labels (${labels.join(', ')}): choose one with --label`);
  const same = slos.filter((s) => s.compare.baseline === o.variant);
  if (same.length > 0)
    throw new UsageError(
      `--variant ${JSON.stringify(o.variant)} is the baseline of ${same.map((s) => s.id).join(', ')}: name the candidate`,
    );
  return slos;
}

const num = (n: number): number | null => (Number.isFinite(n) ? n : null);
const side = (s: CheckResult['baseline']) => ({ value: num(s.value), events: s.events });
const WORDS = { promote: 'PROMOTE', rollback: 'ROLL BACK', insufficient: 'NOT ENOUGH DATA' } as const;

function render(v: Verdict, o: GateOptions, slos: ComparedSlo[]): string {
  const window = formatDuration(o.windowMs);
  const baselines = [...new Set(slos.map((s) => s.compare.baseline))].join(', ');
  if (o.format === 'json') {
    const json = {
      variant: o.variant,
      label: slos[0]!.compare.label,
      baseline: baselines,
      window,
      from: iso(o.at - o.windowMs),
      to: iso(o.at),
      outcome: v.outcome,
      exitCode: v.exitCode,
      checks: v.checks.map((c) => ({ ...c, baseline: side(c.baseline), candidate: side(c.candidate) })),
    };
    return JSON.stringify(json, null, 2) + '\n';
  }
  if (o.format === 'markdown') return verdictMarkdown(v, o.variant, baselines, `${window} to ${iso(o.at)}`);
  const cell = (s: CheckResult['baseline']) =>
    `${Number.isFinite(s.value) ? String(Number(s.value.toPrecision(4))) : '-'} (${s.events})`;
  return (
    `${slos[0]!.compare.label}=${o.variant} against ${baselines}, ${iso(o.at - o.windowMs)} to ${iso(o.at)}\n` +
    table(
      ['SLO', 'BASELINE (EVENTS)', 'CANDIDATE (EVENTS)', 'REGRESSION WHEN', 'OUTCOME', 'WHY'],
      v.checks.map((c) => [c.slo, cell(c.baseline), cell(c.candidate), c.condition, WORDS[c.outcome], c.reason]),
    ) +
    `verdict: ${WORDS[v.outcome]} (exit ${v.exitCode})\n`
  );
}

/** `sloe gate`: promote, roll back, or wait for more data. */
export async function gateCommand(args: string[], io: Io): Promise<number> {
  const o = gateOptions(args, Date.now());
  if (!o) {
    io.stdout.write(GATE_HELP);
    return EXIT.ok;
  }
  const config = await loadConfig(o.paths, io, 'slos');
  if (typeof config === 'number') {
    // Exit 1 is "roll back": files that cannot be read give no verdict at all.
    io.stderr.write('sloe gate: no verdict: the SLO files could not be used\n');
    return EXIT.usage;
  }
  const slos = pick(comparedSlos(config.slos), o);
  const prometheus = createPrometheus(io.env);
  const comparisons = [];
  try {
    for (const slo of slos) comparisons.push(...(await measure(prometheus, slo, o.variant, o.at, o.windowMs)));
  } catch (e) {
    io.stderr.write(`sloe gate: ${describeError(e)}\nsloe gate: no verdict: the comparison could not be measured\n`);
    return EXIT.usage;
  }
  const v = verdict(comparisons);
  io.stdout.write(render(v, o, slos));
  return v.exitCode;
}
