/**
 * The error budgets' share (budget/share.ts) in Redis, under the prefix:
 * - `budget:replicas:<configuration>`, a sorted set of the replicas refreshing budgets of one configuration (its
 *   groups: share.ts), scored by their last claim in Redis's own time (replicas' clocks may differ); a replica not
 *   seen for a lease is dropped from it, and the set expires two leases after the last claim (a replica whose own count
 *   is gone sooner: Redis lost it);
 * - `budget:lease:<group>`, the replica computing that group, expiring after the lease;
 * - `budget:group:<group>`, the budgets it published for that group.
 * A claim is one script: it counts the replicas, renews this replica's leases up to its share (the groups divided by
 * the replicas, rounded up) and gives up the rest, then takes free groups up to that share, in the order asked; a
 * greedy claim takes every free group not computed before (no published budgets: given up, or left by a stopped
 * replica, it is for the share claims) and gives up none.
 */
import type { Redis } from 'ioredis';
import type { BudgetShare } from '../budget/share.js';

/** Redis's own time in ms (`now`): replicas' clocks may differ. */
const NOW = `local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;

const CLAIM = `
local me, lease, greedy = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local groups, floor = tonumber(ARGV[4]), tonumber(ARGV[5])
${NOW}
-- The floor stands only when Redis lost this replica's own count (restarted empty): otherwise the count is whole.
local lost = redis.call('ZSCORE', KEYS[1], me) == false and not greedy
if not lost and not greedy then floor = 0 end
redis.call('ZADD', KEYS[1], now, me)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - lease)
redis.call('PEXPIRE', KEYS[1], 2 * lease)
local counted = redis.call('ZCARD', KEYS[1])
local share = math.ceil(groups / math.max(counted, floor))
local out = {}
if greedy then
  share = groups
  -- Fewer replicas counted than this one counted before: Redis lost the count; the others take their groups back.
  if counted < floor then share = 0 end
end
local held, free = 0, {}
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
    elseif not greedy then
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
out[groups + 1] = counted
out[groups + 2] = (lost and counted < floor) and 1 or 0
return out
`;

/** Keeps this replica counted and its leases of `KEYS[2..]` held while it computes them. */
const RENEW = `
local me, lease = ARGV[1], tonumber(ARGV[2])
${NOW}
redis.call('ZADD', KEYS[1], now, me)
redis.call('PEXPIRE', KEYS[1], 2 * lease)
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == me then redis.call('PEXPIRE', KEYS[i], lease) end
end
return 0
`;

const lease = (ms: number) => String(Math.max(1, Math.round(ms)));

/** Groups a read asks for in one MGET. */
const BATCH = 1_000;

export class RedisBudgetShare implements BudgetShare {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** This replica, as the engine names it. */
    private readonly replica: string,
  ) {}

  async claim(
    groups: readonly string[],
    leaseMs: number,
    options: { config: string; floor?: number; greedy?: boolean },
  ): Promise<{ held: boolean[]; replicas: number; lost: boolean }> {
    const keys = [
      this.replicas(options.config),
      ...groups.map((g) => `${this.prefix}budget:lease:${g}`),
      ...groups.map((g) => `${this.prefix}budget:group:${g}`),
    ];
    const out = (await this.redis.eval(
      CLAIM,
      keys.length,
      ...keys,
      this.replica,
      lease(leaseMs),
      options.greedy ? '1' : '0',
      String(groups.length),
      String(options.floor ?? 0),
    )) as number[];
    return {
      held: out.slice(0, groups.length).map((h) => h === 1),
      replicas: out[groups.length]!,
      lost: out[groups.length + 1] === 1,
    };
  }

  async renew(groups: readonly string[], leaseMs: number, config: string): Promise<void> {
    const keys = [this.replicas(config), ...groups.map((g) => `${this.prefix}budget:lease:${g}`)];
    await this.redis.eval(RENEW, keys.length, ...keys, this.replica, lease(leaseMs));
  }

  private replicas(config: string): string {
    return `${this.prefix}budget:replicas:${config}`;
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
