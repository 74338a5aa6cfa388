/**
 * The error budgets' share (budget/share.ts) in Redis, under the prefix:
 * - `budget:replicas`, a sorted set of the replicas refreshing budgets, scored by their last refresh; a replica not
 *   seen for a lease is dropped from it;
 * - `budget:lease:<group>`, the replica computing that group, expiring after the lease;
 * - `budget:group:<group>`, the budgets it published for that group.
 * A claim is one script: it counts the replicas, renews this replica's leases up to its share (the groups divided by
 * the replicas, rounded up) and gives up the rest, then takes free groups up to that share.
 */
import type { Redis } from 'ioredis';
import type { BudgetShare } from '../budget/share.js';

const CLAIM = `
local me, lease, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now, me)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - lease)
local replicas = redis.call('ZCARD', KEYS[1])
local groups = #KEYS - 1
local share = math.ceil(groups / replicas)
local held, free, out = 0, {}, {}
for i = 2, #KEYS do
  local owner = redis.call('GET', KEYS[i])
  out[i - 1] = 0
  if owner == me then
    if held < share then
      redis.call('PEXPIRE', KEYS[i], lease)
      held = held + 1
      out[i - 1] = 1
    else
      redis.call('DEL', KEYS[i])
    end
  elseif not owner then
    free[#free + 1] = i
  end
end
for _, i in ipairs(free) do
  if held >= share then break end
  redis.call('SET', KEYS[i], me, 'PX', lease)
  held = held + 1
  out[i - 1] = 1
end
return out
`;

/** Keeps this replica counted and its leases of `KEYS[2..]` held while it computes them. */
const RENEW = `
local me, lease, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now, me)
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == me then redis.call('PEXPIRE', KEYS[i], lease) end
end
return 0
`;

/** Groups a read asks for in one MGET. */
const BATCH = 1_000;

export class RedisBudgetShare implements BudgetShare {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** This replica, as the engine names it. */
    private readonly replica: string,
    private readonly now: () => number,
  ) {}

  async claim(groups: readonly string[], leaseMs: number): Promise<boolean[]> {
    const held = (await this.leases(CLAIM, groups, leaseMs)) as number[];
    return held.map((h) => h === 1);
  }

  async renew(groups: readonly string[], leaseMs: number): Promise<void> {
    await this.leases(RENEW, groups, leaseMs);
  }

  private leases(script: string, groups: readonly string[], leaseMs: number): Promise<unknown> {
    const lease = String(Math.max(1, Math.round(leaseMs)));
    const keys = [`${this.prefix}budget:replicas`, ...groups.map((g) => `${this.prefix}budget:lease:${g}`)];
    return this.redis.eval(script, keys.length, ...keys, this.replica, lease, String(this.now()));
  }

  async publish(group: string, entries: string, keepMs: number): Promise<void> {
    await this.redis.set(`${this.prefix}budget:group:${group}`, entries, 'PX', Math.max(1, Math.round(keepMs)));
  }

  async read(groups: readonly string[]): Promise<(string | undefined)[]> {
    const out: (string | undefined)[] = [];
    for (let i = 0; i < groups.length; i += BATCH) {
      const texts = await this.redis.mget(groups.slice(i, i + BATCH).map((g) => `${this.prefix}budget:group:${g}`));
      for (const t of texts) out.push(t ?? undefined);
    }
    return out;
  }
}
