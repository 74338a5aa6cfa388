/**
 * `npm run chaos`: the paging path under faults. Replicas of `sloe run`, real Redis and Prometheus, the Slack and
 * PagerDuty stand-ins, and a scripted schedule of breaches and faults (see bench/chaos/plan.ts); prints the
 * accounting, writes it to bench/chaos.json, and exits 1 when an invariant fails. Timings: CHAOS_MINUTES,
 * CHAOS_REPLICAS, CHAOS_INTERVAL_S, CHAOS_FAULTS, CHAOS_PROMETHEUS_DOWN_S, CHAOS_REDIS_PAUSE_S, CHAOS_PROFILE=short.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { account, formatReport, loadRecords } from './chaos/account.js';
import { profileFromEnv } from './chaos/plan.js';
import { runChaos } from './chaos/run.js';

// `chaos --account FILE`: the accounting of a run's records.json again (after a change to the accounting).
if (process.argv[2] === '--account') {
  const report = account(
    loadRecords(await readFile(process.argv[3] ?? join(import.meta.dirname, 'chaos-logs', 'records.json'), 'utf8')),
  );
  process.stdout.write(formatReport(report) + '\n');
  process.exit(report.invariants.every((i) => i.ok) ? 0 : 1);
}

let profile: ReturnType<typeof profileFromEnv>;
try {
  profile = profileFromEnv(process.env);
} catch (e) {
  process.stderr.write(`chaos: ${(e as Error).message}\n`);
  process.exit(2);
}
const logDir = process.env.CHAOS_LOG_DIR || join(import.meta.dirname, 'chaos-logs');
const report = await runChaos(profile, { logDir });
const out = {
  ...report,
  node: process.version,
  cpus: cpus().length,
  finishedAt: new Date().toISOString(),
  logs: logDir,
};
await writeFile(join(import.meta.dirname, 'chaos.json'), JSON.stringify(out, null, 2) + '\n');
process.stdout.write(formatReport(report) + '\n');
process.stdout.write(`written to bench/chaos.json; replica logs in ${logDir}\n`);
process.exit(report.invariants.every((i) => i.ok) ? 0 : 1);
