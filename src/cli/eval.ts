import {
  EvaluationError,
  type PrometheusClient,
  type SloFrame,
  conditionText,
  createPrometheus,
  evaluateAt,
  fmt,
  formatLabels,
  objectiveText,
} from '../evaluator/index.js';
import { type Slo, formatDuration } from '../rules/index.js';
import { type Holds, NO_HOLDS, silencer } from '../rules/silence.js';
import { mapLimit } from '../util/async.js';
import { loadConfig } from './config.js';
import { EXIT, type Io, table } from './io.js';
import { DEFAULT_PATHS, iso, parse, parseTime } from './options.js';

export const EVAL_HELP = `Usage: sloe eval [PATH…] [--at TIME] [--json]

Evaluates every SLO once against Prometheus at TIME (default now) and prints value, objective and state
(ok, breach, nodata, error). Needs no Redis and sends nothing.

Options:
  --at TIME     RFC 3339 (2026-03-01T10:00:00Z) or Unix seconds
  --json        one JSON object: { "at", "slos": [ { "service", "slo", "labels", "value", "state", … } ] }

Environment: PROMETHEUS_URL (default http://localhost:9090), PROMETHEUS_TIMEOUT (seconds, default 30),
PROMETHEUS_BEARER_TOKEN or PROMETHEUS_USERNAME and PROMETHEUS_PASSWORD.

Exit status: 0 evaluated, 1 invalid SLO files, 2 usage error or Prometheus failing.
`;

/** One row of `sloe eval` output. */
export interface EvalRow {
  service: string;
  slo: string;
  signal: string;
  labels: Record<string, string>;
  value: number | null;
  baseline?: number | null;
  objective: string | null;
  condition: string;
  state: 'ok' | 'breach' | 'nodata' | 'error';
  severity?: string;
  message: string;
  /** A breaching instance a silence covers at this time: which, and why. */
  silenced?: { by: string; reason: string; until: string };
  /** A page a dependency holds: one it waits for (dependsOn, inhibits) breaches at page severity at this time. */
  held?: { by: string; reason: string };
  tiers?: Array<{
    severity: string;
    long: string;
    short: string;
    factor: number;
    longBurn: number | null;
    shortBurn: number | null;
    events: number;
    firing: boolean;
  }>;
}

const num = (n: number): number | null => (Number.isFinite(n) ? n : null);

/** The rows of one SLO's frame. */
export function evalRows(slo: Slo, frame: SloFrame, holds: Holds = NO_HOLDS, at = 0): EvalRow[] {
  const base = {
    service: slo.service,
    slo: slo.name,
    signal: slo.signal,
    objective: objectiveText(slo),
    condition: conditionText(slo),
  };
  if (frame.status !== 'data') {
    const state = frame.status === 'nodata' ? 'nodata' : 'error';
    return [{ ...base, labels: {}, value: null, state, message: frame.message }];
  }
  return frame.instances.map((r) => {
    const hold =
      r.state === 'breach'
        ? holds(
            {
              service: slo.service,
              slo: slo.name,
              signal: slo.signal,
              severity: r.severity,
              labels: { ...slo.labels, ...r.labels },
            },
            at,
          )
        : undefined;
    return {
      ...base,
      labels: r.labels,
      value: num(r.value),
      ...(r.baseline !== undefined ? { baseline: num(r.baseline) } : {}),
      state: r.state,
      ...(r.state === 'breach' ? { severity: r.severity } : {}),
      message: r.message,
      ...(hold ? { silenced: { by: hold.by, reason: hold.reason, until: iso(hold.until) } } : {}),
      ...(r.tiers
        ? {
            tiers: r.tiers.map((t) => ({
              severity: t.severity,
              long: formatDuration(t.longMs),
              short: formatDuration(t.shortMs),
              factor: Number(t.factor.toFixed(4)),
              longBurn: num(t.longBurn),
              shortBurn: num(t.shortBurn),
              events: Math.round(t.events),
              firing: t.firing,
            })),
          }
        : {}),
    };
  });
}

/**
 * Marks the page rows that a dependency holds: one the SLO waits for (its dependsOn, or an SLO whose inhibits names
 * it) breaches at page severity in the same evaluation. `run` would hold that page while the dependency's page fires.
 */
function markHeld(rows: EvalRow[], slos: readonly Slo[]): void {
  const paging = rows.filter((r) => r.state === 'breach' && r.severity === 'page');
  for (const row of paging) {
    if (row.silenced) continue;
    const slo = slos.find((s) => s.service === row.service && s.name === row.slo);
    for (const { ref, via } of slo?.inhibitedBy ?? []) {
      const cause = paging.find(
        (p) =>
          p !== row &&
          (ref.includes('/') ? `${p.service}/${p.slo}` === ref : p.service === ref) &&
          !(p.service === row.service && p.slo === row.slo),
      );
      if (!cause) continue;
      const id = `${cause.service}/${cause.slo}`;
      row.held = {
        by: id,
        reason: `it breaches at page severity now (${via === 'inhibits' ? `${id} inhibits ${row.slo}` : `${row.service}/${row.slo} depends on ${ref}`})`,
      };
      break;
    }
  }
}

/** `sloe eval`: every SLO once, at one instant. */
export async function evalCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { at: { type: 'string' }, json: { type: 'boolean' } });
  if (values.help) {
    io.stdout.write(EVAL_HELP);
    return EXIT.ok;
  }
  const at = values.at !== undefined ? parseTime('at', values.at) : Math.floor(Date.now() / 1000) * 1000;
  const config = await loadConfig(positionals.length ? positionals : DEFAULT_PATHS, io, 'slos');
  if (typeof config === 'number') return config;
  const prometheus: PrometheusClient = createPrometheus(io.env);
  let failed = 0;
  const holds = silencer(config.silences);
  const rows = (
    await mapLimit(config.slos, 8, async (slo) => {
      try {
        return evalRows(slo, await evaluateAt(prometheus, slo, at), holds, at);
      } catch (e) {
        if (!(e instanceof EvaluationError)) throw e;
        failed++;
        io.stderr.write(`sloe eval: ${e.message}\n`);
        return [];
      }
    })
  ).flat();
  markHeld(rows, config.slos);
  if (failed > 0) {
    io.stderr.write(
      `sloe eval: ${failed} of ${config.slos.length} SLOs could not be evaluated; no result is printed\n`,
    );
    return EXIT.usage;
  }
  if (values.json) {
    io.stdout.write(JSON.stringify({ at: iso(at), slos: rows }, null, 2) + '\n');
  } else {
    io.stdout.write(`at ${iso(at)}\n`);
    io.stdout.write(
      table(
        ['SERVICE', 'SLO', 'LABELS', 'VALUE', 'OBJECTIVE', 'ALERT WHEN', 'STATE', 'DETAIL'],
        rows.map((r) => [
          r.service,
          r.slo,
          formatLabels(r.labels) || '-',
          r.value === null ? '-' : r.condition.startsWith('burn') ? `${fmt(r.value * 100)}%` : fmt(r.value),
          r.objective ?? '-',
          r.condition,
          r.state === 'breach'
            ? `BREACH (${r.severity})${r.silenced ? ' SILENCED' : r.held ? ' HELD' : ''}`
            : r.state.toUpperCase(),
          r.silenced
            ? `${r.message}; silenced by ${r.silenced.by} until ${r.silenced.until}: ${r.silenced.reason}`
            : r.held
              ? `${r.message}; held: caused by ${r.held.by}? ${r.held.reason}`
              : r.message,
        ]),
      ),
    );
  }
  return EXIT.ok;
}
