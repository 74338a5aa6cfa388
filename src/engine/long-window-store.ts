/**
 * The long burn-rate windows of `sloe run` (evaluator/long-windows.ts) in Redis, shared by every replica: one string
 * per SLO, `longwin:<slo>` under the prefix, expiring when catching up from its sums would no longer be chosen over a
 * full read (6 hours), so the keys never outnumber the SLOs and a restarted replica reads sums and the base rates
 * since instead of 3 days of base rates.
 */
import type { Redis } from 'ioredis';
import type { LongWindowStore } from '../evaluator/long-windows.js';

export class RedisLongWindowStore implements LongWindowStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async load(sloId: string): Promise<string | undefined> {
    return (await this.redis.get(this.key(sloId))) ?? undefined;
  }

  async save(sloId: string, value: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.key(sloId), value, 'PX', Math.max(1, Math.round(ttlMs)));
  }

  private key(sloId: string): string {
    return `${this.prefix}longwin:${sloId}`;
  }
}
