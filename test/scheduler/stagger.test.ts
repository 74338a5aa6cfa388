/**
 * The evaluation shards of one interval come due spread over it, each at its own offset, the same on every replica
 * and across reloads; a start-up does not evaluate every shard at once. Real Redis and BullMQ job schedulers.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRedis, startRedis } from '../../src/local/redis.js';
import type { Slo } from '../../src/rules/model.js';
import { loadRules } from '../../src/rules/index.js';
import { Queues, type ShardJob, shardOffset, shards } from '../../src/scheduler/queues.js';

const MIN = 60_000;

/** `n` ratio SLOs evaluated every `interval`. */
async function slos(n: number, interval = '1m'): Promise<readonly Slo[]> {
  const dir = await mkdtemp(join(tmpdir(), 'sloe-stagger-'));
  try {
    const lines = [
      'apiVersion: sloe/v1',
      'kind: EscalationPolicy',
      'name: p',
      'page: [{ notify: slack, channel: "#p" }]',
      '---',
      'apiVersion: sloe/v1',
      'kind: ServiceLevels',
      'service: s',
      'owner: sre',
      'escalation: p',
      `interval: ${interval}`,
      'dashboards: [{ id: d, owner: sre }]',
      'slos:',
    ];
    for (let i = 0; i < n; i++)
      lines.push(
        `  - name: slo-${String(i).padStart(4, '0')}`,
        '    signal: error_rate',
        '    dashboard: d',
        '    ratio:',
        `      bad: sum(rate(x_total{i="${i}", status="error"}[$window]))`,
        `      total: sum(rate(x_total{i="${i}"}[$window]))`,
        '    objective: 99.9%',
        '    alert: { burnRate: workbook }',
      );
    await writeFile(join(dir, 'slos.yaml'), `${lines.join('\n')}\n`);
    const loaded = await loadRules([dir]);
    expect(loaded.problems).toEqual([]);
    return loaded.config.slos;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let redis: LocalRedis;
const clients: Redis[] = [];
let prefix = 0;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
});

/** A replica's queues on the shared Redis (BullMQ needs maxRetriesPerRequest null). */
function replica(name: string): Queues {
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  clients.push(connection);
  return new Queues(connection, name, () => Date.now());
}

/** When each scheduler's next job is due, by scheduler id. */
async function due(queues: Queues): Promise<Map<string, number>> {
  return new Map((await queues.evaluate.getJobSchedulers(0, -1)).map((s) => [s.key, s.next!]));
}

describe('staggered evaluation shards', () => {
  it('the shards of an interval come due at distinct offsets spread over it, the first within one interval', async () => {
    const name = `stagger${prefix++}`;
    const queues = replica(name);
    const config = await slos(400);
    const before = Date.now();
    await queues.syncSchedulers(config);
    const next = await due(queues);
    const jobs = shards(config);
    expect(jobs).toHaveLength(8);
    const offsets = jobs.map((job) => next.get(`shard.${job.intervalMs}.${job.shard}`)! % MIN);
    expect(offsets).toEqual(jobs.map(shardOffset));
    expect(new Set(offsets).size).toBe(8);
    // Spread: every eighth of the minute but one has a shard due in it (the golden ratio's multiples).
    const eighths = new Set(offsets.map((o) => Math.floor((o / MIN) * 8)));
    expect(eighths.size).toBeGreaterThanOrEqual(7);
    for (const t of next.values()) {
      expect(t).toBeGreaterThan(before);
      expect(t).toBeLessThanOrEqual(Date.now() + MIN);
    }
    await queues.close();
  });

  it('another replica, a reload and added shards leave the offsets where they are', async () => {
    const name = `stagger${prefix++}`;
    const first = replica(name);
    const config = await slos(200);
    await first.syncSchedulers(config);
    const before = await due(first);
    const second = replica(name);
    await second.syncSchedulers(config);
    await first.syncSchedulers(await slos(200));
    expect(await due(second)).toEqual(before);
    // 100 SLOs more: two shards more; the first four stay due when they were.
    await second.syncSchedulers(await slos(300));
    const grown = await due(second);
    expect(grown.size).toBe(6);
    for (const [id, t] of before) expect(grown.get(id), id).toBe(t);
    await Promise.all([first.close(), second.close()]);
  });

  it('a scheduler made without an offset (an earlier version) is made again at its offset', async () => {
    const name = `stagger${prefix++}`;
    const queues = replica(name);
    const job: ShardJob = { intervalMs: MIN, shard: 0 };
    await queues.evaluate.upsertJobScheduler(`shard.${MIN}.0`, { every: MIN }, { name: 'evaluate', data: job });
    await queues.syncSchedulers(await slos(10));
    const next = (await due(queues)).get(`shard.${MIN}.0`)!;
    expect(next % MIN).toBe(shardOffset(job));
    expect(await queues.evaluate.getJobSchedulersCount()).toBe(1);
    await queues.close();
  });

  it('offsets differ for every shard number and stay inside the interval', () => {
    for (const intervalMs of [1000, MIN, 10 * MIN]) {
      const offsets = Array.from({ length: 500 }, (_, shard) => shardOffset({ intervalMs, shard }));
      expect(new Set(offsets).size).toBe(500);
      for (const o of offsets) {
        expect(o).toBeGreaterThan(0);
        expect(o).toBeLessThan(intervalMs);
      }
    }
  });
});
