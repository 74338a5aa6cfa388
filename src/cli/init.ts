/**
 * `sloe init`: finds which golden-signal metrics a service exports (Prometheus' series and metadata APIs), writes
 * slos/<service>.yaml with the guide's defaults, says what it found and what not, and backtests the last 7 days.
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  EvaluationError,
  PrometheusClient,
  type Labels,
  loadFrames,
  prometheusConfigFromEnv,
  replay,
} from '../evaluator/index.js';
import { check } from '../rules/check.js';
import { type Config, UsageError, formatProblem } from '../rules/index.js';
import { parseSource } from '../rules/source.js';
import { EXIT, type Io } from './io.js';
import { iso, parse, parseTime } from './options.js';

export const INIT_HELP = `Usage: sloe init --prometheus URL --service NAME [--job JOB | --selector MATCHERS] [--out DIR]

Finds the golden-signal metrics of a service in Prometheus (the OpenTelemetry GenAI conventions, or metric
names such as *_request_duration_seconds, *requests_total with an error status, *cost*_total, *cache*_total
with a hit result, *guardrail*_total, *queue_depth, *eval_score), writes DIR/NAME.yaml (default slos/) with the
guide's objectives and alerts, dashboards with an owner to fill in, an escalation policy and an on-call
schedule skeleton, prints what it found and what it did not, and what the SLOs would have done over the last
7 days.

Options:
  --prometheus URL     Prometheus to ask (also PROMETHEUS_URL; PROMETHEUS_BEARER_TOKEN etc. as for eval)
  --service NAME       the service ([a-z0-9-]+)
  --job JOB            its series carry job="JOB" (default: the service name)
  --selector M         label matchers of its series instead, e.g. app="assistant"
  --out DIR            where to write (default slos); an existing file is never overwritten
  --at TIME            end of the 7-day look-back (default now)
  --no-backtest        skip the backtest

Exit status: 0 written, 1 no golden-signal metric found, 2 usage error or Prometheus failing.
`;

const DAY = 86_400_000;

/** What was found for each signal: the names to put under metrics:, or why not. */
export interface Discovery {
  profile: 'opentelemetry-genai' | 'custom';
  metrics: Record<string, unknown>;
  modelLabel?: string;
  found: Array<{ signal: string; what: string }>;
  missing: Array<{ signal: string; why: string }>;
}

const first = <T>(list: T[], test: (t: T) => boolean): T | undefined => list.find(test);

/** Reads the series of a service and picks its golden-signal metrics. */
export function discover(series: Labels[], types: Record<string, string>): Discovery {
  const names = [...new Set(series.map((s) => s.__name__ ?? ''))].sort();
  const labelsOf = (name: string) => series.filter((s) => s.__name__ === name);
  const valuesOf = (name: string, label: string) =>
    new Set(
      labelsOf(name)
        .map((s) => s[label])
        .filter((v): v is string => v !== undefined),
    );
  const isType = (name: string, type: string) => types[name] === undefined || types[name] === type;
  const found: Discovery['found'] = [];
  const missing: Discovery['missing'] = [];
  const metrics: Record<string, unknown> = {};
  const otel = names.includes('gen_ai_client_operation_duration_seconds_bucket');
  const modelLabel = otel
    ? 'gen_ai_request_model'
    : names.some((n) => labelsOf(n).some((s) => 'model' in s))
      ? 'model'
      : undefined;

  if (otel) {
    found.push({ signal: 'latency', what: 'gen_ai_client_operation_duration_seconds (OpenTelemetry GenAI)' });
    found.push({
      signal: 'error_rate',
      what: 'gen_ai_client_operation_duration_seconds_count, failures by error_type',
    });
    if (names.includes('gen_ai_client_token_usage_sum')) {
      missing.push({
        signal: 'cost_per_request',
        why: 'gen_ai_client_token_usage found: set metrics.tokenPrices (US dollars per input and output token), or name a cost counter in metrics.cost',
      });
    }
  } else {
    const duration = first(
      names,
      (n) =>
        /(request|operation|response)_duration_seconds_bucket$/.test(n) &&
        isType(n.replace(/_bucket$/, ''), 'histogram'),
    );
    if (duration) {
      metrics.duration = duration.replace(/_bucket$/, '');
      found.push({ signal: 'latency', what: String(metrics.duration) });
    } else missing.push({ signal: 'latency', why: 'no *_request_duration_seconds histogram' });
    const requests = first(
      names,
      (n) => /requests_total$/.test(n) && !/cache/.test(n) && isType(n.replace(/_total$/, ''), 'counter'),
    );
    if (requests) {
      const label = ['status', 'outcome', 'result', 'code'].find((l) => valuesOf(requests, l).size > 0);
      const values = label ? [...valuesOf(requests, label)] : [];
      const errors = values.filter((v) => /^(error|errors|failed|failure|fail|5\d\d)$/i.test(v));
      const matcher = label
        ? errors.length === 1
          ? `${label}="${errors[0]}"`
          : errors.length > 1
            ? `${label}=~"${errors.join('|')}"`
            : `${label}="error"`
        : 'status="error"';
      metrics.requests = { counter: requests, errors: matcher };
      found.push({
        signal: 'error_rate',
        what: `${requests}, failures by ${matcher}${errors.length === 0 ? ' (no failure series yet: check the label value)' : ''}`,
      });
    } else missing.push({ signal: 'error_rate', why: 'no *requests_total counter' });
  }
  const cost = first(names, (n) => /cost.*_total$/.test(n));
  if ((cost && metrics.requests !== undefined) || (cost && otel)) {
    metrics.cost = cost;
    found.push({ signal: 'cost_per_request', what: cost! });
    const i = missing.findIndex((m) => m.signal === 'cost_per_request');
    if (i >= 0) missing.splice(i, 1);
  } else if (!missing.some((m) => m.signal === 'cost_per_request'))
    missing.push({ signal: 'cost_per_request', why: 'no *cost*_total counter' });
  const cache = first(
    names,
    (n) =>
      /cache.*_total$/.test(n) && [...valuesOf(n, 'result'), ...valuesOf(n, 'status')].some((v) => /^hits?$/.test(v)),
  );
  if (cache) {
    const label = valuesOf(cache, 'result').size > 0 ? 'result' : 'status';
    const hit = [...valuesOf(cache, label)].find((v) => /^hits?$/.test(v))!;
    metrics.cache = { counter: cache, hits: `${label}="${hit}"` };
    found.push({ signal: 'cache_hit_rate', what: `${cache}, hits by ${label}="${hit}"` });
  } else missing.push({ signal: 'cache_hit_rate', why: 'no *cache*_total counter with a hit result' });
  const guardrail = first(names, (n) => /guardrail.*_total$/.test(n));
  if (guardrail) {
    metrics.guardrail = guardrail;
    found.push({ signal: 'guardrail_rate', what: guardrail });
  } else
    missing.push({
      signal: 'guardrail_rate',
      why: 'no *guardrail*_total counter (a service whose guardrails never fired has none yet)',
    });
  const queue = first(names, (n) => /(approval|review).*(queue|depth)|queue_depth$/.test(n) && isType(n, 'gauge'));
  if (queue) {
    metrics.queue = queue;
    found.push({ signal: 'queue_depth', what: queue });
  } else missing.push({ signal: 'queue_depth', why: 'no approval queue depth gauge' });
  const evalScore = first(names, (n) => /eval.*score/.test(n) && isType(n, 'gauge'));
  if (evalScore) {
    metrics.evalScore = evalScore;
    found.push({ signal: 'eval_score', what: evalScore });
  } else missing.push({ signal: 'eval_score', why: 'no online eval score gauge' });
  return {
    profile: otel ? 'opentelemetry-genai' : 'custom',
    metrics,
    ...(modelLabel ? { modelLabel } : {}),
    found,
    missing,
  };
}

const yamlValue = (v: unknown): string =>
  typeof v === 'object' && v !== null
    ? `{ ${Object.entries(v)
        .map(([k, x]) => `${k}: ${yamlValue(x)}`)
        .join(', ')} }`
    : typeof v === 'string' && /^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(v)
      ? v
      : JSON.stringify(v);

/** The SLOs of the guide's golden-signal table, for the signals found. Four of them page. */
const SLOS: Array<{ signal: string; yaml: (d: Discovery) => string }> = [
  {
    signal: 'latency',
    yaml: (d) =>
      `  - name: latency-p95\n    signal: latency\n${d.modelLabel ? `    by: [${d.modelLabel}]\n` : ''}    dashboard: DASH\n    objective: "< 3.5"\n    alert: { when: "> 5", for: 5m }\n`,
  },
  {
    signal: 'latency',
    yaml: () =>
      `  # p95 alone misses tail incidents: the p99 opens a ticket.\n  - name: latency-p99\n    signal: latency\n    quantile: 0.99\n    dashboard: DASH\n    objective: "< 8"\n    alert: { when: "> 12", for: 10m, severity: ticket }\n`,
  },
  {
    signal: 'error_rate',
    yaml: () =>
      `  - name: error-rate\n    signal: error_rate\n    dashboard: DASH\n    objective: "< 1%"\n    alert: { when: "> 3%" }\n`,
  },
  {
    signal: 'cost_per_request',
    yaml: () =>
      `  - name: cost-per-request\n    signal: cost_per_request\n    dashboard: DASH\n    interval: 5m\n    objective: "< 0.05"\n    alert: { when: "> 0.08", severity: ticket }\n`,
  },
  {
    signal: 'cache_hit_rate',
    yaml: () =>
      `  - name: cache-hit-rate\n    signal: cache_hit_rate\n    dashboard: DASH\n    objective: "> 30%"\n    alert: { when: "< 10%", for: 10m, severity: ticket }\n`,
  },
  {
    signal: 'guardrail_rate',
    yaml: () =>
      `  - name: guardrail-trigger-rate\n    signal: guardrail_rate\n    dashboard: DASH\n    objective: "< 5%"\n    alert: { when: "> 15%", for: 10m, severity: ticket }\n`,
  },
  {
    signal: 'queue_depth',
    yaml: () =>
      `  - name: approval-queue-depth\n    signal: queue_depth\n    dashboard: DASH\n    objective: "< 50"\n    alert: { when: "> 200", for: 10m }\n`,
  },
  {
    signal: 'eval_score',
    yaml: () =>
      `  - name: eval-score\n    signal: eval_score\n    dashboard: DASH\n    noDataFor: 30m\n    alert: { when: "drop > 5", for: 30m }\n`,
  },
];

/** The file: ServiceLevels, EscalationPolicy and OnCallSchedule, with the owners left for people to fill in. */
export function renderSpec(service: string, selector: string, d: Discovery, owner = ''): string {
  const found = new Set(d.found.map((f) => f.signal));
  const dash = `${service}-golden-signals`;
  const metrics = [
    `  profile: ${d.profile}`,
    `  selector: ${selector}`,
    ...Object.entries(d.metrics).map(([k, v]) => `  ${k}: ${yamlValue(v)}`),
  ];
  const slos = SLOS.filter((s) => found.has(s.signal)).map((s) => s.yaml(d).replaceAll('DASH', dash));
  return `# yaml-language-server: $schema=https://sloe.dev/schema/sloe.schema.json
# Written by sloe init from the metrics ${service} exports; objectives and alerts are the golden-signal guide's
# defaults. Fill in the owners (the team, and the one person who owns the dashboard), the Slack channel, the
# on-call members, then run sloe validate --strict.
apiVersion: sloe/v1
kind: ServiceLevels
service: ${service}
owner: ${JSON.stringify(owner)}   # the owning team
escalation: ${service}-default
dashboards:
  - id: ${dash}
    title: ${service} golden signals (p50/p95/p99 latency, errors, cost)
    owner: ${JSON.stringify(owner)}   # the one person who owns this dashboard
metrics:
${metrics.join('\n')}
slos:
${slos.join('\n')}---
apiVersion: sloe/v1
kind: EscalationPolicy
name: ${service}-default
page:
  - notify: slack
    channel: "#${service}-alerts"
  - after: 10m
    notify: pagerduty
    routingKey: \${PAGERDUTY_ROUTING_KEY}
  - after: 25m
    notify: oncall
    schedule: ${service}-primary
ticket:
  - notify: slack
    channel: "#${service}-alerts"
---
apiVersion: sloe/v1
kind: OnCallSchedule
name: ${service}-primary
timezone: UTC
rotation: { every: 1w, start: "2026-01-05T09:00" }
members: []   # in rotation order: - { name: alice, slack: U01ALICE, pagerduty: PABC123 }
`;
}

/** `sloe init`. */
export async function initCommand(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, {
    prometheus: { type: 'string' },
    service: { type: 'string' },
    job: { type: 'string' },
    selector: { type: 'string' },
    out: { type: 'string' },
    at: { type: 'string' },
    'no-backtest': { type: 'boolean' },
  });
  if (values.help) {
    io.stdout.write(INIT_HELP);
    return EXIT.ok;
  }
  const service = values.service;
  if (!service || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(service))
    throw new UsageError('--service NAME is required: lower-case letters, digits and inner dashes');
  if (values.job !== undefined && values.selector !== undefined)
    throw new UsageError('give --job or --selector, not both');
  const selector = values.selector ?? `job=${JSON.stringify(values.job ?? service)}`;
  const at = values.at !== undefined ? parseTime('at', values.at) : Date.now();
  const out = values.out ?? 'slos';
  const file = join(out, `${service}.yaml`);
  if (
    await stat(file).then(
      () => true,
      () => false,
    )
  )
    throw new UsageError(`${file} exists: sloe init never overwrites a spec (use --out)`);
  const url = values.prometheus ?? io.env.PROMETHEUS_URL;
  if (!url) throw new UsageError('--prometheus URL is required (or PROMETHEUS_URL)');
  const prometheus = new PrometheusClient({ ...prometheusConfigFromEnv(io.env), url });

  let series: Labels[];
  let types: Record<string, string> = {};
  try {
    series = await prometheus.series(`{${selector}}`, at - 7 * DAY, at);
    const meta = await prometheus.metadata();
    types = Object.fromEntries(Object.entries(meta).map(([name, list]) => [name, list[0]?.type ?? 'unknown']));
  } catch (e) {
    io.stderr.write(`sloe init: could not read the series of {${selector}}: ${(e as Error).message}\n`);
    return EXIT.usage;
  }
  const d = discover(series, types);
  io.stdout.write(
    `${service}: ${new Set(series.map((s) => s.__name__)).size} metrics in Prometheus match {${selector}} (last 7 days); profile ${d.profile}\n`,
  );
  for (const f of d.found) io.stdout.write(`  found      ${f.signal.padEnd(17)} ${f.what}\n`);
  for (const m of d.missing) io.stdout.write(`  not found  ${m.signal.padEnd(17)} ${m.why}\n`);
  if (d.found.length === 0) {
    io.stderr.write(
      `sloe init: no golden-signal metric found for {${selector}}; nothing written (try --job or --selector)\n`,
    );
    return EXIT.problem;
  }
  await mkdir(out, { recursive: true });
  await writeFile(file, renderSpec(service, selector, d), { flag: 'wx' });
  io.stdout.write(`wrote ${file}: fill in the owners, then sloe validate ${file}\n`);
  if (values['no-backtest']) return EXIT.ok;

  // The backtest runs the file as written, with a stand-in owner: the SLOs do not depend on it.
  const source = parseSource(file, renderSpec(service, selector, d, 'owner-to-be-named'));
  const { config, problems } = check(source.docs);
  if (problems.length > 0) {
    for (const p of problems) io.stderr.write(formatProblem(p) + '\n');
    return EXIT.problem;
  }
  return backtestWeek(config, prometheus, at, io);
}

async function backtestWeek(config: Config, prometheus: PrometheusClient, at: number, io: Io): Promise<number> {
  const step = 60_000;
  const to = Math.floor(at / step) * step;
  const from = to - 7 * DAY;
  const times: number[] = [];
  for (let t = from; t <= to; t += step) times.push(t);
  io.stdout.write(`\nwhat these SLOs would have done from ${iso(from)} to ${iso(to)}:\n`);
  let pages = 0;
  let tickets = 0;
  for (const slo of config.slos) {
    try {
      const instances = replay(
        slo,
        config.policies.get(slo.escalation),
        times,
        await loadFrames(prometheus, slo, from, to, step),
      );
      const incidents = instances.flatMap((i) => i.incidents);
      pages += incidents.filter((i) => i.severity === 'page').length;
      tickets += incidents.filter((i) => i.severity === 'ticket').length;
      const list = incidents.map(
        (i) => `${i.severity} ${iso(i.firedAt)}${i.reason === 'breach' ? '' : ` (${i.reason})`}`,
      );
      io.stdout.write(
        `  ${slo.name.padEnd(24)} ${incidents.length === 0 ? 'no incident' : `${incidents.length}: ${list.slice(0, 3).join(', ')}${list.length > 3 ? ', …' : ''}`}\n`,
      );
    } catch (e) {
      if (!(e instanceof EvaluationError)) throw e;
      io.stderr.write(`sloe init: ${e.message}\n`);
      return EXIT.usage;
    }
  }
  io.stdout.write(`${pages} page(s) and ${tickets} ticket(s) in 7 days\n`);
  return EXIT.ok;
}
