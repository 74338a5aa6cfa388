/**
 * What the error budgets of `sloe run` hold in memory at N ratio SLOs (30-day windows, 5m grid): a BudgetKeeper for
 * the SLOs of bench/evaluation.ts's sloeFiles(N) against an in-process Prometheus that answers their range queries
 * with 60 days of varying rates, its first refresh, then refreshes with a moving `now` (a minute apart, then across
 * blocks of the burn-down). After each, with the garbage collected: heapUsed, external, arrayBuffers and RSS, what
 * they grew by over the SLOs loaded without budgets, and keeper.keptBytes().
 *
 * Usage: node --expose-gc --import tsx bench/budget-memory.ts [N] (default 10,000).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BudgetKeeper } from '../src/budget/keeper.js';
import type { Labels } from '../src/evaluator/labels.js';
import type { PrometheusPort, RangeSeries } from '../src/evaluator/prometheus.js';
import { loadRules } from '../src/rules/index.js';
import { sloeFiles } from './evaluation.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const MERGED = /label_replace\(\((.*?)\), "sloe_query", "(\d+)", "", ""\)/g;
const APP = /app="app-(\d+)"/;

/**
 * Prometheus with `days` of history before `end`: app `a` serves about 5 requests a second, 0.04% errors, with
 * bursts of 5% errors in some hours. Merged queries (BatchingPort's `sloe_query` label) are answered part by part.
 */
function history(end: number, days: number): PrometheusPort {
  const value = (query: string, t: number) => {
    const app = Number(APP.exec(query)?.[1] ?? 0);
    const total = (300 + ((app * 7 + t / MIN) % 50)) / 60;
    if (!query.includes('status="error"')) return total;
    return total * ((Math.floor(t / HOUR) + app) % 97 < 2 ? 0.05 : 0.0004);
  };
  return {
    instant: () => Promise.reject(new Error('no instant queries here')),
    range: async (query: string, start: number, stop: number, stepMs: number): Promise<RangeSeries[]> => {
      const parts = [...query.matchAll(MERGED)];
      const asked = parts.length ? parts.map((m) => ({ query: m[1]!, label: m[2] })) : [{ query, label: undefined }];
      const from = start + Math.max(0, Math.ceil((end - days * DAY - start) / stepMs)) * stepMs;
      const times = Float64Array.from({ length: Math.max(0, (stop - from) / stepMs + 1) }, (_, k) => from + k * stepMs);
      return asked.map(({ query: q, label }) => ({
        labels: (label === undefined ? {} : { sloe_query: label }) as Labels,
        times,
        values: times.map((t) => value(q, t)),
      }));
    },
  };
}

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

function measure() {
  global.gc!();
  global.gc!();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss };
}

async function main() {
  if (!global.gc) throw new Error('run node with --expose-gc');
  const n = Number(process.argv[2] ?? 10_000);
  const dir = await mkdtemp(join(tmpdir(), 'sloe-budget-memory-'));
  try {
    for (const [name, text] of Object.entries(sloeFiles(n))) await writeFile(join(dir, name), text);
    const loaded = await loadRules([dir]);
    if (loaded.problems.length) throw new Error(JSON.stringify(loaded.problems.slice(0, 3)));
    const slos = loaded.config.slos.map((s) => (s.kind === 'ratio' ? { ...s, windowMs: 30 * DAY } : s));
    let now = Date.parse('2026-11-01T00:00:00Z') + 17_000;
    const keeper = new BudgetKeeper({ prometheus: history(now + 2 * DAY, 60), slos: () => slos, now: () => now });
    const base = measure();
    const row = (what: string, ms: number) => {
      const m = measure();
      const grew = (k: keyof typeof m) => `${mb(m[k])} (+${mb(m[k] - base[k])})`;
      console.log(
        `${what.padEnd(22)} heapUsed ${grew('heapUsed')}  external ${grew('external')}  arrayBuffers ${grew('arrayBuffers')}  rss ${grew('rss')}  kept ${mb(keeper.keptBytes())} MB  ${Math.round(ms)} ms`,
      );
    };
    console.log(
      `${n} SLOs loaded, no budgets: heapUsed ${mb(base.heapUsed)} MB  external ${mb(base.external)}  arrayBuffers ${mb(base.arrayBuffers)}  rss ${mb(base.rss)}`,
    );
    let started = performance.now();
    let snapshot = await keeper.refresh();
    row('first refresh', performance.now() - started);
    for (const advance of [MIN, MIN, 5 * MIN, HOUR, 3 * HOUR + 7 * MIN, DAY + 11 * MIN]) {
      now += advance;
      started = performance.now();
      snapshot = await keeper.refresh();
      row(`+${advance / MIN} min`, performance.now() - started);
    }
    const failed = [...snapshot.bySlo.values()].filter((e) => e.error !== undefined).length;
    if (failed) throw new Error(`${failed} budgets failed`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
