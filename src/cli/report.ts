import { RedisIncidentStore } from '../engine/store.js';
import { connectRedis, redisTargetFromEnv } from '../engine/redis.js';
import { EvaluationError, createPrometheus } from '../evaluator/index.js';
import { reportJson, reportMarkdown, reportText } from '../report/format.js';
import { buildReport } from '../report/report.js';
import { UsageError, parseDuration } from '../rules/index.js';
import { withTimeout } from '../util/async.js';
import { describeError } from '../util/errors.js';
import { loadConfig } from './config.js';
import { EXIT, type Io, table } from './io.js';
import { DEFAULT_PATHS, oneOf, parse, parseTime } from './options.js';

export const REPORT_HELP = `Usage: sloe report [PATH…] [--at TIME] [--window DUR] [--format text|json|markdown]

Error budgets against Prometheus, per SLO: the objective, the SLI over the SLO window, the budget (total, spent,
remaining, and how long what remains lasts at the 1h burn rate), burn rates over 1h, 6h and 3d, when the budget runs
out at the 6h burn rate, and the incidents of the window. Ratio SLOs count good events; threshold SLOs count time:
their SLI is the share of the window spent within the objective, against a time objective of 99%.

Incidents are read from the incident store of \`sloe run\` when REDIS_URL (or REDIS_SENTINELS) is set, otherwise
replayed from history with the state machine of \`sloe backtest\`; the report says which.

Options:
  --at TIME        the end of the window: RFC 3339 or Unix seconds (default now)
  --window DUR     the window of every SLO (default: a ratio SLO's own window, 30d for threshold SLOs)
  --format F       text (a table), json (one object, see docs/spec.md) or markdown (an SLO review, a PR comment)
  --slo SVC/NAME   only this SLO (repeatable)

Environment: PROMETHEUS_URL …, REDIS_URL, SLOE_REDIS_PREFIX (default sloe).
Exit status: 0 reported, 1 invalid SLO files, 2 usage error, Prometheus or Redis failing.
`;

/** `sloe report`: error budgets and the incidents that spent them. */
export async function reportCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    at: { type: 'string' },
    window: { type: 'string' },
    format: { type: 'string' },
    slo: { type: 'string', multiple: true },
  });
  if (values.help) {
    io.stdout.write(REPORT_HELP);
    return EXIT.ok;
  }
  const format = oneOf('format', values.format, ['text', 'json', 'markdown'] as const, 'text');
  const at = values.at !== undefined ? parseTime('at', values.at) : Date.now();
  let windowMs: number | undefined;
  if (values.window !== undefined) {
    windowMs = parseDuration(values.window);
    if (windowMs === undefined || windowMs < 3600_000)
      throw new UsageError(
        `--window must be a duration of at least 1h such as 7d or 30d (got ${JSON.stringify(values.window)})`,
      );
  }
  const config = await loadConfig(positionals.length ? positionals : DEFAULT_PATHS, io, 'slos');
  if (typeof config === 'number') return config;
  const wanted = values.slo ?? [];
  const unknown = wanted.filter((w) => !config.slos.some((s) => s.id === w));
  if (unknown.length) throw new UsageError(`no such SLO: ${unknown.join(', ')} (use service/name)`);
  const slos = wanted.length ? config.slos.filter((s) => wanted.includes(s.id)) : config.slos;

  const useRedis = Boolean(io.env.REDIS_URL || io.env.REDIS_SENTINELS);
  const redis = useRedis
    ? connectRedis(redisTargetFromEnv(io.env), { maxRetriesPerRequest: 2, lazyConnect: true })
    : undefined;
  const progress = io.stderr.isTTY === true;
  try {
    if (redis) {
      await withTimeout(5000, () => redis.connect()).catch((e: unknown) => {
        throw new Error(
          `cannot read incidents from Redis (${describeError(e)}); unset REDIS_URL to replay them from history instead`,
        );
      });
    }
    const report = await buildReport(
      createPrometheus(io.env),
      { ...config, slos },
      {
        at,
        ...(windowMs !== undefined ? { windowMs } : {}),
        ...(redis ? { store: new RedisIncidentStore(redis, io.env.SLOE_REDIS_PREFIX || 'sloe') } : {}),
        ...(progress
          ? { onProgress: (done: number, total: number) => io.stderr.write(`\r\x1b[Kreport: ${done}/${total} SLOs`) }
          : {}),
      },
    );
    if (progress) io.stderr.write('\r\x1b[K');
    if (format === 'json') io.stdout.write(JSON.stringify(reportJson(report), null, 2) + '\n');
    else if (format === 'markdown') io.stdout.write(reportMarkdown(report));
    else io.stdout.write(reportText(report, table));
    return EXIT.ok;
  } catch (e) {
    if (progress) io.stderr.write('\r\x1b[K');
    if (e instanceof EvaluationError) {
      io.stderr.write(`sloe report: ${e.message}; no report is printed\n`);
      return EXIT.usage;
    }
    throw e;
  } finally {
    redis?.disconnect();
  }
}
