import { ConfigError, Engine } from '../engine/engine.js';
import { channelsFromEnv } from '../escalation/channels.js';
import { formatProblem } from '../rules/index.js';
import { urlSettingProblems } from '../util/env-urls.js';
import { EXIT, type Io } from './io.js';
import { DEFAULT_PATHS, parse } from './options.js';

export const RUN_HELP = `Usage: sloe run [PATH…]

The engine: evaluates every SLO on its interval (BullMQ on Redis), opens incidents for sustained breaches,
escalates them step by step until acknowledged or resolved, and serves HTTP on SLOE_PORT:
  /healthz, /readyz, /metrics (with every SLO budget), /api/incidents[/:id], /slack/events, /webhooks/pagerduty,
  and the status page at / (error budgets, burn-down charts, open incidents; the token rule of the API).
Several replicas may share one Redis. SIGHUP (or a changed file) reloads the SLO files; an invalid change is
reported and the last good configuration kept. SIGTERM or SIGINT drains running jobs (for up to
SLOE_DRAIN_TIMEOUT seconds, default 25) and exits 0.

Environment: PROMETHEUS_URL, REDIS_URL (or REDIS_SENTINELS + REDIS_SENTINEL_NAME), SLOE_PORT, SLOE_API_TOKEN (every
/api route needs it; SLOE_API_PUBLIC_READ=1 opens reads), SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, PAGERDUTY_ROUTING_KEY,
PAGERDUTY_WEBHOOK_SECRET, LOG_LEVEL … (see docs/spec.md).
`;

/** `sloe run`: runs the engine until SIGTERM or SIGINT. */
export async function runCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {});
  if (values.help) {
    io.stdout.write(RUN_HELP);
    return EXIT.ok;
  }
  const malformed = urlSettingProblems(io.env);
  if (malformed.length > 0) {
    for (const m of malformed) io.stderr.write(`sloe run: ${m}\n`);
    return EXIT.usage;
  }
  // A SIGHUP while the engine starts (its files may have been read already) reloads them once it runs.
  let hangups = 0;
  const whileStarting = () => void hangups++;
  process.on('SIGHUP', whileStarting);
  let engine: Engine;
  try {
    const setup = channelsFromEnv(io.env);
    engine = await Engine.start({
      paths: positionals.length ? positionals : DEFAULT_PATHS,
      env: io.env,
      channels: setup.channels,
      routes: setup.routes,
    });
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const p of e.problems) io.stderr.write(formatProblem(p) + '\n');
      io.stderr.write(`sloe run: ${e.message}; nothing to run\n`);
      return EXIT.problem;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      io.stderr.write(`sloe run: cannot listen on port ${io.env.SLOE_PORT || 3000}: ${(e as Error).message}\n`);
      return EXIT.usage;
    }
    throw e;
  } finally {
    process.removeListener('SIGHUP', whileStarting);
  }
  const reload = () => engine.requestReload('SIGHUP');
  process.on('SIGHUP', reload);
  if (hangups > 0) reload();
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      engine.log.info({ event: 'signal', signal }, `${signal}: shutting down`);
      process.removeListener('SIGHUP', reload);
      const exit = (code: number) => {
        // Jobs left running at the drain timeout may still hold sockets and timers; they must not keep the
        // stopped process alive.
        setTimeout(() => process.exit(code), 1000).unref();
        resolve(code);
      };
      engine.stop().then(
        () => exit(EXIT.ok),
        (e: Error) => {
          engine.log.error({ error: e.message }, 'shutdown failed');
          exit(EXIT.usage);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
