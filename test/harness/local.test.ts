import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalPrometheus, startPrometheus } from '../../src/local/prometheus.js';
import { type LocalRedis, pingRedis, startRedis } from '../../src/local/redis.js';

const T0 = Date.parse('2026-03-01T00:00:00Z');

describe('a Prometheus loaded with history', () => {
  let prom: LocalPrometheus;
  beforeAll(async () => {
    prom = await startPrometheus({
      history: [
        {
          name: 'harness_gauge',
          labels: { app: 'a' },
          samples: Array.from({ length: 120 }, (_, i) => [T0 + i * 60_000, i] as const),
        },
        {
          name: 'harness_requests_total',
          samples: Array.from({ length: 120 }, (_, i) => [T0 + i * 60_000, i * 60] as const),
        },
      ],
    });
  });
  afterAll(() => prom?.stop());

  async function instant(
    query: string,
    at: number,
  ): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(query)}&time=${at / 1000}`);
    const body = (await res.json()) as {
      status: string;
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    expect(body.status).toBe('success');
    return body.data.result;
  }

  it('answers the known value at a known past time', async () => {
    const result = await instant('harness_gauge', T0 + 42 * 60_000);
    expect(result).toEqual([
      { metric: { __name__: 'harness_gauge', app: 'a' }, value: [(T0 + 42 * 60_000) / 1000, '42'] },
    ]);
  });

  it('computes rates over the loaded counter', async () => {
    const [sample] = await instant('rate(harness_requests_total[10m])', T0 + 60 * 60_000);
    expect(Number(sample!.value[1])).toBeCloseTo(1, 5);
  });

  it('has nothing before the history starts', async () => {
    expect(await instant('harness_gauge', T0 - 3600_000)).toEqual([]);
  });
});

describe('a local Redis', () => {
  let redis: LocalRedis;
  beforeAll(async () => {
    redis = await startRedis({ persist: true });
  });
  afterAll(() => redis?.stop());

  it('answers PING on its own port, not on 6379', async () => {
    expect(redis.port).not.toBe(6379);
    expect(await pingRedis(redis.port)).toBe(true);
  });

  it('is unreachable while paused and back after resume', async () => {
    redis.pause();
    expect(await pingRedis(redis.port)).toBe(false);
    redis.resume();
    expect(await pingRedis(redis.port)).toBe(true);
  });

  it('comes back on the same port after a restart', async () => {
    await redis.restart();
    expect(await pingRedis(redis.port)).toBe(true);
  });

  it('keeps its data across a restart, and loses it when the restart wipes it', async () => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: null });
    client.on('error', () => undefined);
    try {
      await client.set('harness:kept', 'yes');
      await redis.restart();
      expect(await client.get('harness:kept')).toBe('yes');
      await redis.restart({ wipe: true });
      expect(await client.get('harness:kept')).toBeNull();
    } finally {
      client.disconnect();
    }
  });
});
