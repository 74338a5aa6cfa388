/**
 * `npm run bench`: runs every benchmark (or those named: validate, backtest, backtest-base, evaluation, idle, escalation,
 * status, scaleout, scaleout-budgets), prints a table of figures and writes bench/results.json. Each comparison is
 * measured side by side in one run. The scaleout sections (100,000 SLOs on 1, 2 and 4 replicas, and 10,000 with their
 * error budgets) run only when named.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { benchBacktest } from './backtest.js';
import { benchBacktestBase } from './backtest-base.js';
import { benchEscalation } from './escalation.js';
import { benchEvaluation } from './evaluation.js';
import { benchIdle } from './idle.js';
import { benchScaleout } from './scaleout.js';
import { benchStatus } from './status.js';
import { benchValidate } from './validate.js';

type Figures = Record<string, number | string>;

const SECTIONS: Record<string, () => Promise<Figures>> = {
  validate: () => benchValidate(),
  backtest: () => benchBacktest(),
  'backtest-base': () => benchBacktestBase(),
  escalation: () => benchEscalation(),
  evaluation: () => benchEvaluation(),
  idle: () => benchIdle(),
  status: () => benchStatus(),
  scaleout: () => benchScaleout(),
  // The error budgets shared by the replicas, refreshed every minute, at a size the replay server answers in a run.
  'scaleout-budgets': () =>
    benchScaleout({ slos: Number(process.env.BENCH_SCALE_BUDGET_SLOS ?? 10_000), refresh: '1m' }),
};

/** Sections run only when named. */
const ON_REQUEST = new Set(['scaleout', 'scaleout-budgets']);

const only = process.argv.slice(2);
const unknown = only.filter((name) => !(name in SECTIONS));
if (unknown.length) {
  process.stderr.write(`bench: no such section: ${unknown.join(', ')} (have ${Object.keys(SECTIONS).join(', ')})\n`);
  process.exit(2);
}
const file = join(import.meta.dirname, 'results.json');
// Sections not run this time keep their last figures.
const previous = (await readFile(file, 'utf8')
  .then((t) => JSON.parse(t) as { results?: Record<string, Figures> })
  .catch(() => ({}))) as { results?: Record<string, Figures> };
const results: Record<string, Figures> = { ...(previous.results ?? {}) };
for (const [name, run] of Object.entries(SECTIONS)) {
  if (only.length > 0 ? !only.includes(name) : ON_REQUEST.has(name)) continue;
  process.stderr.write(`bench: ${name}…\n`);
  results[name] = { ...(await run()), measured_at: new Date().toISOString() };
}

for (const [name, figures] of Object.entries(results)) {
  console.log(`\n${name}`);
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  for (const [k, v] of Object.entries(figures)) console.log(`  ${k.padEnd(width)}  ${v}`);
}
await writeFile(
  file,
  JSON.stringify({ node: process.version, cpus: (await import('node:os')).cpus().length, results }, null, 2) + '\n',
);
console.log(`\nwritten to ${file}`);
