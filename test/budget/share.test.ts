/**
 * Replicas share the error budgets' work through Redis: each group of SLOs is computed by one replica and read by the
 * others, with the same figures a lone replica computes; a replica that stops refreshing has its groups taken over,
 * and a Redis that cannot be reached leaves every budget computed where it is asked for, with a warning.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BudgetEntry, BudgetSnapshot } from '../../src/budget/keeper.js';
import { BudgetKeeper } from '../../src/budget/keeper.js';
import { RedisBudgetShare } from '../../src/engine/budget-share.js';
import { engineConnections } from '../../src/engine/redis.js';
import { createLogger } from '../../src/observability/log.js';
import { withTimeout } from '../../src/util/async.js';
import { PrometheusClient, type PrometheusPort, prometheusConfigFromEnv } from '../../src/evaluator/prometheus.js';
import { requestCounters } from '../../src/local/history.js';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { type LocalRedis, startRedis } from '../../src/local/redis.js';
import type { Slo } from '../../src/rules/index.js';
import { configFromText, oneService, ratioSlos } from '../support/rules.js';

/** Three groups: two full, one of 5. */
/** SLOs a lease covers here: small groups keep the test's reads few. */
const GROUP = 20;
const N = 2 * GROUP + 5;
const APPS = 5;
const HOUR = 3600_000;
let prom: LocalPrometheus;
let redis: LocalRedis;
let slos: readonly Slo[];
const clients: Redis[] = [];

beforeAll(async () => {
  // Objectives from 99% to 99.9%, so that SLOs reading the same series still have budgets of their own.
  const ratio = ratioSlos(
    N,
    (i) => `a${i % APPS}`,
    (i) => `    objective: ${(99 + (i % 10) / 10).toFixed(1)}%\n    window: 7d`,
  );
  slos = (await configFromText(oneService(ratio))).slos;
  const to = Math.floor(Date.now() / 60_000) * 60_000;
  const history = Array.from({ length: APPS }, (_, a) =>
    requestCounters('req_total', { app: `a${a}` }, to - 50 * HOUR, to, (t) => ({
      requests: 100 + a * 10,
      // An error burst in one hour of every 11, heavier for the later apps.
      errorShare: Math.floor(t / HOUR) % 11 === a ? 0.02 * (a + 1) : 0.001,
    })),
  ).flatMap((g) => [...g]);
  [prom, redis] = await Promise.all([startPrometheus({ history }), startRedis()]);
}, 180_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.allSettled([prom?.stop(), redis?.stop()]);
});

function connect(options: { commandTimeout?: number } = {}): Redis {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1, ...options });
  clients.push(client);
  return client;
}

interface Replica {
  keeper: BudgetKeeper;
  prometheus: PrometheusClient;
  /** Ranges asked for that span more than a day: whole windows, not the newest points. */
  wholeWindows: number;
  warnings: { event?: string; op?: string }[];
}

/** One time for every replica of a test that compares figures: each budget is then that of the same window. */
const AT = Date.now();

function replica(
  name: string,
  prefix: string,
  options: { refreshMs?: number; redis?: Redis; now?: () => number; slos?: () => readonly Slo[] } = {},
): Replica {
  const now = options.now ?? (() => AT);
  const prometheus = new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url });
  const warnings: Replica['warnings'] = [];
  const port: PrometheusPort = {
    instant: (query, at) => prometheus.instant(query, at),
    range: (query, start, end, stepMs) => {
      if (end - start > 24 * HOUR) r.wholeWindows++;
      return prometheus.range(query, start, end, stepMs);
    },
  };
  const keeper = new BudgetKeeper({
    prometheus: port,
    slos: options.slos ?? (() => slos),
    now,
    refreshMs: options.refreshMs ?? 60_000,
    log: { warn: (fields) => warnings.push(fields) },
    share: new RedisBudgetShare(options.redis ?? connect(), prefix, name),
    groupSize: GROUP,
  });
  const r: Replica = { keeper, prometheus, wholeWindows: 0, warnings };
  return r;
}

/** A budget's figures as published: what every replica must show alike. */
function figures(entry: BudgetEntry | undefined) {
  if (!entry?.budget) return entry;
  const { burnDown: _, ...rest } = entry.budget;
  return rest;
}

const sameFigures = (a: BudgetSnapshot, b: BudgetSnapshot) => {
  expect(a.bySlo.size).toBe(N);
  expect(b.bySlo.size).toBe(N);
  for (const slo of slos) expect(figures(b.bySlo.get(slo.id))).toEqual(figures(a.bySlo.get(slo.id)));
};

/** The owner of each group's lease. */
async function owners(prefix: string): Promise<string[]> {
  const client = connect();
  const keys = await client.keys(`${prefix}budget:lease:*`);
  return keys.length ? ((await client.mget(keys)) as string[]).sort() : [];
}

describe('error budgets shared by replicas', () => {
  it('two replicas split the groups, and each shows every budget with the figures one replica alone computes', async () => {
    const prefix = 'split:';
    const alone = new BudgetKeeper({
      prometheus: new PrometheusClient({ ...prometheusConfigFromEnv({}), url: prom.url }),
      slos: () => slos,
      now: () => AT,
    });
    const r1 = replica('r1', prefix);
    const r2 = replica('r2', prefix);
    // The first to refresh is alone: it takes every group. The second finds none free, and reads them all.
    await r1.keeper.refresh();
    const second = await r2.keeper.refresh();
    expect(await owners(prefix)).toEqual(['r1', 'r1', 'r1']);
    expect(r2.prometheus.queries).toBe(0);
    // The next refresh of the first sees two replicas: it keeps two groups and gives one up, which the second takes.
    const r1Before = r1.prometheus.queries;
    const [a] = await Promise.all([r1.keeper.refresh(), alone.refresh()]);
    const b = await r2.keeper.refresh();
    expect(await owners(prefix)).toEqual(['r1', 'r1', 'r2']);
    expect(r2.prometheus.queries).toBeGreaterThan(0);
    expect(r1.prometheus.queries).toBeGreaterThan(r1Before);
    const lone = await alone.refresh();
    for (const [x, y] of [
      [a, b],
      [lone, b],
      [lone, second],
    ] as const)
      sameFigures(x, y);
    // Budgets with data: the bursts spend part of each budget, differently for each objective.
    const spent = new Set(slos.map((s) => b.bySlo.get(s.id)?.budget?.budget.spent.toFixed(6)));
    // Ten kinds of SLO (an app and an objective: i mod 10), ten budgets.
    expect(spent.size).toBe(10);
    expect([...spent].every((s) => s !== undefined && Number(s) > 0)).toBe(true);
    expect([...r1.warnings, ...r2.warnings]).toEqual([]);
  }, 120_000);

  it('replicas started together split the first refresh; one never refreshing leaves nothing undone', async () => {
    const together = [replica('r1', 'start:'), replica('r2', 'start:')];
    await Promise.all(together.map((r) => r.keeper.announce()));
    await Promise.all(together.map((r) => r.keeper.refresh()));
    expect((await owners('start:')).join()).toMatch(/^(r1,r1,r2|r1,r2,r2)$/);
    for (const r of together) expect(r.prometheus.queries).toBeGreaterThan(0);
    // Each read the other's groups before they were published; the next refresh shows them all.
    const snapshots = await Promise.all(together.map((r) => r.keeper.refresh()));
    expect((await owners('start:')).join()).toMatch(/^(r1,r1,r2|r1,r2,r2)$/);
    sameFigures(snapshots[0]!, snapshots[1]!);
    // r4 is counted in, but never refreshes: r3 takes its share, then the groups no replica holds.
    const [r3, r4] = [replica('r3', 'idle:'), replica('r4', 'idle:')];
    await Promise.all([r3.keeper.announce(), r4.keeper.announce()]);
    const alone = await r3.keeper.refresh();
    expect(await owners('idle:')).toEqual(['r3', 'r3', 'r3']);
    expect([...alone.bySlo.values()].filter((e) => e.budget).length).toBe(N);
    expect([...together, r3].flatMap((r) => r.warnings)).toEqual([]);
  }, 120_000);

  it("replicas count each other by Redis's clock, not their own: one an hour behind still takes its share", async () => {
    const prefix = 'skew:';
    const r1 = replica('r1', prefix);
    const r2 = replica('r2', prefix, { now: () => AT - 3600_000 });
    for (let i = 0; i < 2; i++) {
      await r1.keeper.refresh();
      await r2.keeper.refresh();
    }
    expect(await owners(prefix)).toEqual(['r1', 'r1', 'r2']);
  }, 120_000);

  it("another replica's budget gets its burn-down line when a page draws it", async () => {
    const prefix = 'draw:';
    const r1 = replica('r1', prefix);
    const r2 = replica('r2', prefix);
    const own = await r1.keeper.refresh();
    const read = await r2.keeper.refresh();
    const slo = slos[7]!;
    const theirs = read.bySlo.get(slo.id)!.budget!;
    expect(theirs.burnDown().times.length).toBe(0);
    expect(theirs.burnDown().error).toMatch(/another replica/);
    await r2.keeper.drawable(read, [slo], 10_000);
    const line = theirs.burnDown();
    const mine = own.bySlo.get(slo.id)!.budget!.burnDown();
    expect(line.error).toBeUndefined();
    expect(line.times.length).toBeGreaterThan(100);
    expect(Array.from(line.times)).toEqual(Array.from(mine.times));
    // The owner folds its weights as float32 (keeper.ts), the page reads them in full: equal to that precision.
    const most = Math.max(...Array.from(line.remaining, (v, i) => Math.abs(v - mine.remaining[i]!)));
    expect(most).toBeLessThan(1e-5);
    expect(Math.min(...line.remaining)).toBeLessThan(0.95);
  }, 120_000);

  it('a burn-down line not read in time says so, rather than show the line of an older budget', async () => {
    const prefix = 'redraw:';
    let t = AT;
    const now = () => t;
    const r1 = replica('r1', prefix, { now });
    const r2 = replica('r2', prefix, { now });
    await r1.keeper.refresh();
    const before = await r2.keeper.refresh();
    const slo = slos[7]!;
    await r2.keeper.drawable(before, [slo], 10_000);
    expect(before.bySlo.get(slo.id)!.budget!.burnDown().error).toBeUndefined();
    // A day later, a page draws that SLO again and Prometheus does not answer in time.
    t = AT + 24 * HOUR;
    await r1.keeper.refresh();
    const later = await r2.keeper.refresh();
    const budget = later.bySlo.get(slo.id)!.budget!;
    expect(budget.at).toBe(t);
    await r2.keeper.drawable(later, [slo], 1);
    const line = budget.burnDown();
    // Either the line of this budget (ending at its time) or none, saying why: not yesterday's line.
    if (line.times.length > 0) expect(line.times[line.times.length - 1]).toBeGreaterThan(t - HOUR);
    else expect(line.error).toMatch(/not read in time/);
  }, 120_000);

  it('a page that got the budgets just before this replica took their group over still gets their lines', async () => {
    const prefix = 'takeover-draw:';
    const refreshMs = 1500;
    const r1 = replica('r1', prefix, { refreshMs, now: Date.now });
    const r2 = replica('r2', prefix, { refreshMs, now: Date.now });
    await r1.keeper.refresh();
    // The page's budgets: all of them computed by r1.
    const page = await r2.keeper.refresh();
    const slo = slos[7]!;
    expect(page.bySlo.get(slo.id)?.budget?.burnDown().error).toMatch(/another replica/);
    // r1 stops; r2 takes its groups over (a refresh that ends while the page is drawn).
    await new Promise((r) => setTimeout(r, 2 * refreshMs + 200));
    await r2.keeper.refresh();
    expect(await owners(prefix)).toEqual(['r2', 'r2', 'r2']);
    await r2.keeper.drawable(page, [slo], 10_000);
    const line = page.bySlo.get(slo.id)!.budget!.burnDown();
    expect(line.error).toBeUndefined();
    expect(line.times.length).toBeGreaterThan(100);
  }, 120_000);

  it('a replica that stops refreshing has its groups taken over once its lease lapses', async () => {
    const prefix = 'failover:';
    const refreshMs = 1500;
    const r1 = replica('r1', prefix, { refreshMs, now: Date.now });
    const r2 = replica('r2', prefix, { refreshMs, now: Date.now });
    await r1.keeper.refresh();
    await r2.keeper.refresh();
    await r1.keeper.refresh();
    await r2.keeper.refresh();
    expect(await owners(prefix)).toEqual(['r1', 'r1', 'r2']);
    // r1 stops; within its lease (2 refreshes) r2 still reads what r1 published, then takes its groups.
    const within = await r2.keeper.refresh();
    expect(within.bySlo.size).toBe(N);
    expect(await owners(prefix)).toEqual(['r1', 'r1', 'r2']);
    await new Promise((r) => setTimeout(r, 2 * refreshMs + 200));
    const before = r2.prometheus.queries;
    const after = await r2.keeper.refresh();
    expect(await owners(prefix)).toEqual(['r2', 'r2', 'r2']);
    expect(r2.prometheus.queries).toBeGreaterThan(before);
    expect([...after.bySlo.values()].filter((e) => e.budget).length).toBe(N);
  }, 120_000);

  it('a replica holds the leases of its own groups until it published them, while it computes groups nobody held', async () => {
    const prefix = 'hold:';
    // Leases of 500 ms of real time; the share's clock stays at AT, so no replica leaves the count.
    const refreshMs = 250;
    const [r1, r2, r3] = ['r1', 'r2', 'r3'].map((n) => replica(n, prefix, { refreshMs }));
    // Three replicas counted: r1's share is one group; r2 and r3 never refresh, so r1 then takes the other two.
    await Promise.all([r1!, r2!, r3!].map((r) => r.keeper.announce()));
    const client = connect();
    let done = false;
    let first: string | undefined;
    const lapses: string[] = [];
    const watch = (async () => {
      while (!done) {
        const leases = await client.keys(`${prefix}budget:lease:*`);
        const held = leases.length ? await client.mget(leases) : [];
        if (first === undefined)
          first = leases.find((_, i) => held[i] === 'r1')?.slice(`${prefix}budget:lease:`.length);
        if (first !== undefined) {
          const [owner, published] = await Promise.all([
            client.get(`${prefix}budget:lease:${first}`),
            client.exists(`${prefix}budget:group:${first}`),
          ]);
          if (!done && owner !== 'r1' && published === 0) lapses.push(`${first}: held by ${owner ?? 'nobody'}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await r1!.keeper.refresh().finally(() => {
      done = true;
    });
    await watch;
    expect(first).toBeDefined();
    // While r1 computed the two groups nobody held, the group it computed first was neither held nor published: any
    // replica claiming then would have taken it and computed it again.
    expect([...new Set(lapses)]).toEqual([]);
  }, 120_000);

  it('a replica on another configuration (a reload not there yet) does not leave groups of this one uncomputed', async () => {
    const prefix = 'reload:';
    let t = AT;
    const now = () => t;
    const r1 = replica('r1', prefix, { now });
    // r2 has reloaded a configuration without the first SLO: its groups are others.
    const theirs = slos.slice(1);
    const r2 = replica('r2', prefix, { now, slos: () => theirs });
    await Promise.all([r1.keeper.announce(), r2.keeper.announce()]);
    await r1.keeper.refresh();
    await r2.keeper.refresh();
    // A refresh later, both still on their configurations.
    t += 60_000;
    const snapshot = await r1.keeper.refresh();
    await r2.keeper.refresh();
    // Every budget r1 shows is of this refresh: no replica but r1 computes r1's groups.
    const stale = slos.filter((s) => snapshot.bySlo.get(s.id)?.budget?.at !== t).length;
    expect(stale).toBe(0);
  }, 120_000);

  it('after Redis restarts empty, each replica keeps computing the groups whose points it holds', async () => {
    const prefix = 'wipe:';
    const own = await startRedis();
    try {
      const [c1, c2, c3] = [0, 1, 2].map(() => {
        const c = new Redis(own.url, { maxRetriesPerRequest: 1 });
        clients.push(c);
        return c;
      });
      const r1 = replica('r1', prefix, { redis: c1 });
      const r2 = replica('r2', prefix, { redis: c2 });
      const held = async () => {
        const keys = await c3!.keys(`${prefix}budget:lease:*`);
        return keys.length ? ((await c3!.mget(keys)) as string[]).sort() : [];
      };
      await r1.keeper.refresh();
      await r2.keeper.refresh();
      await r1.keeper.refresh();
      await r2.keeper.refresh();
      expect(await held()).toEqual(['r1', 'r1', 'r2']);
      await own.restart({ wipe: true });
      for (const c of [c1!, c2!, c3!]) {
        for (let i = 0; ; i++) {
          try {
            await c.ping();
            break;
          } catch (e) {
            if (i > 100) throw e;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
      expect(await held()).toEqual([]);
      // Both replicas refresh as before: each holds the points of its groups and reads only the newest.
      await r1.keeper.refresh();
      await r2.keeper.refresh();
      expect(await held()).toEqual(['r1', 'r1', 'r2']);
    } finally {
      await own.stop();
    }
  }, 120_000);

  it("a replica whose configuration gives an SLO another objective shows that SLO's budget for its own objective", async () => {
    const prefix = 'objectives:';
    // The same SLOs, one of them with another objective (a reload that reached r2 first): the same queries.
    const i = N - 2;
    const theirs = await configFromText(
      oneService(
        ratioSlos(
          N,
          (k) => `a${k % APPS}`,
          (k) => `    objective: ${k === i ? '98.5' : (99 + (k % 10) / 10).toFixed(1)}%\n    window: 7d`,
        ),
      ),
    );
    expect(theirs.slos[i]!.id).toBe(slos[i]!.id);
    expect(theirs.slos[i]!.objective).not.toBe(slos[i]!.objective);
    const r1 = replica('r1', prefix);
    const r2 = replica('r2', prefix, { slos: () => theirs.slos });
    const mine = await r1.keeper.refresh();
    const read = await r2.keeper.refresh();
    expect(mine.bySlo.get(slos[i]!.id)?.budget?.objective).toBe(slos[i]!.objective);
    expect(read.bySlo.get(slos[i]!.id)?.budget?.objective).toBe(theirs.slos[i]!.objective);
  }, 120_000);

  it("a reload that changes one ratio SLO's objective reads no whole window but that SLO's, once", async () => {
    const prefix = 'objective:';
    // The same SLOs, but for one of the last group, whose objective changes: its queries stay, and so do its points.
    const changed = (
      await configFromText(
        oneService(
          ratioSlos(
            N,
            (i) => `a${i % APPS}`,
            (i) => `    objective: ${i === N - 2 ? '98.5' : (99 + (i % 10) / 10).toFixed(1)}%\n    window: 7d`,
          ),
        ),
      )
    ).slos;
    let current = slos;
    const r1 = replica('r1', prefix, { slos: () => current });
    const r2 = replica('r2', prefix, { slos: () => current });
    await r1.keeper.refresh();
    await r2.keeper.refresh();
    await r1.keeper.refresh();
    await r2.keeper.refresh();
    expect(await owners(prefix)).toEqual(['r1', 'r1', 'r2']);
    // Both replicas reload, then refresh as they did.
    current = changed;
    r1.wholeWindows = 0;
    r2.wholeWindows = 0;
    for (let i = 0; i < 2; i++) {
      await r1.keeper.refresh();
      await r2.keeper.refresh();
    }
    // The groups stay where they were (their keys name their SLOs, not their objectives), and r2 reads only the newest
    // points of the SLO whose objective changed. r1, reloaded before r2 published that SLO's budget for its new
    // objective, reads that one SLO's whole window (one request) rather than show the budget of the old objective.
    expect({ r1: r1.wholeWindows, r2: r2.wholeWindows }).toEqual({ r1: 1, r2: 0 });
    expect(await owners(prefix)).toEqual(['r1', 'r1', 'r2']);
  }, 120_000);

  it("a Redis that cannot be reached on the engine's connection leaves every budget computed here, with a warning", async () => {
    const own = await startRedis();
    const env = { REDIS_URL: own.url };
    const { store, queues } = engineConnections(env, createLogger(env, { write: () => undefined }));
    queues.disconnect();
    // The engine listens for its connections' errors (and logs them); so does this test.
    store.on('error', () => undefined);
    try {
      await store.ping();
      const r1 = replica('r1', 'engine:', { redis: store });
      await r1.keeper.refresh();
      expect(r1.warnings).toEqual([]);
      await own.kill();
      // Redis is down: the refresh computes every budget here and says why, rather than wait for Redis to come back.
      const snapshot = await withTimeout(30_000, () => r1.keeper.refresh());
      expect([...snapshot.bySlo.values()].filter((e) => e.budget).length).toBe(N);
      expect(r1.warnings.map((w) => [w.event, w.op])).toContainEqual(['budget-share-failed', 'claim']);
    } finally {
      store.disconnect();
      await own.stop();
    }
  }, 120_000);

  it('a Redis that does not answer leaves every budget computed here, with a warning', async () => {
    const r1 = replica('r1', 'down:', { redis: connect({ commandTimeout: 500 }) });
    redis.pause();
    try {
      const snapshot = await r1.keeper.refresh();
      expect([...snapshot.bySlo.values()].filter((e) => e.budget).length).toBe(N);
    } finally {
      redis.resume();
    }
    expect(r1.warnings.map((w) => [w.event, w.op])).toContainEqual(['budget-share-failed', 'claim']);
  }, 120_000);
});
