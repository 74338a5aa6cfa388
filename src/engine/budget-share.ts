/**
 * The error budgets' share (budget/share.ts) in Redis, under the prefix:
 * - `budget:replicas`, a sorted set of the replicas refreshing budgets, scored by their last refresh; a replica not
 *   seen for a lease is dropped from it;
 * - `budget:lease:<group>`, the replica computing that group, expiring after the lease;
 * - `budget:group:<group>`, the budgets it published for that group.
 * A claim is one script: it counts the replicas, renews this replica's leases up to its share (the groups divided by
 * the replicas, rounded up) and gives up the rest, then takes free groups up to that share; a greedy claim takes every
 * free group not computed before (no published budgets: given up, or left by a stopped replica, it is for the share
 * claims) and gives up none.
 */
import type { Redis } from 'ioredis';
import type { BudgetShare } from '../budget/share.js';

const CLAIM = `
local me, lease, now, greedy = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
redis.call('ZADD', KEYS[1], now, me)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - lease)
local replicas = redis.call('ZCARD', KEYS[1])
local groups = tonumber(ARGV[5])
local share = math.ceil(groups / replicas)
if greedy then share = groups end
local held, free, out = 0, {}, {}
for i = 2, groups + 1 do
  local owner = redis.call('GET', KEYS[i])
  out[i - 1] = 0
  if greedy and owner == false and redis.call('EXISTS', KEYS[i + groups]) == 1 then
    -- Given up by a replica (or left by one that stopped) and computed before: the share claims take it over.
    owner = true
  end
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

  async claim(groups: readonly string[], leaseMs: number, greedy = false): Promise<boolean[]> {
    const lease = String(Math.max(1, Math.round(leaseMs)));
    const keys = [
      `${this.prefix}budget:replicas`,
      ...groups.map((g) => `${this.prefix}budget:lease:${g}`),
      ...groups.map((g) => `${this.prefix}budget:group:${g}`),
    ];
    const held = (await this.redis.eval(
      CLAIM,
      keys.length,
      ...keys,
      this.replica,
      lease,
      String(this.now()),
      greedy ? '1' : '0',
      String(groups.length),
    )) as number[];
    return held.map((h) => h === 1);
  }

  async renew(groups: readonly string[], leaseMs: number): Promise<void> {
    const lease = String(Math.max(1, Math.round(leaseMs)));
    const keys = [`${this.prefix}budget:replicas`, ...groups.map((g) => `${this.prefix}budget:lease:${g}`)];
    await this.redis.eval(RENEW, keys.length, ...keys, this.replica, lease, String(this.now()));
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
