/**
 * Slack's pace and storms in Redis, shared by every replica (escalation/slack/storm.ts says what they are). Times
 * are Redis' own clock, the same for every replica. Keys (under the prefix): `slack:pace:<channel>` and
 * `slack:refresh:<channel>` (the time the next message may go, GCRA), `slack:posts:<channel>` sorted set (incidents
 * whose first message was posted, by time), `slack:storm:<channel>` hash and `slack:storm-members:<channel>` sorted
 * set (a storm's incidents, by the order they joined).
 */
import type { Redis } from 'ioredis';
import { STORM, type SlackFlow, type Storm } from '../escalation/slack/storm.js';

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** GCRA: 0 and the message counted when one may go now, else how many ms until one may. */
const PACE = `
${NOW}
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now - (burst - 1) * interval
if wait > 0 then return wait end
redis.call('SET', KEYS[1], tat + interval, 'PX', tat + interval - now + 1000)
return 0
`;

/** Admits an incident's first message, or adds it to the channel's storm: {'post'} or {'storm'}. */
const ADMIT = `
local posts, storm, members = KEYS[1], KEYS[2], KEYS[3]
local id, admit, window, quiet = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
${NOW}
if redis.call('ZSCORE', posts, id) then return 'post' end
if redis.call('ZSCORE', members, id) then return 'storm' end
redis.call('ZREMRANGEBYSCORE', posts, '-inf', now - window)
local active = redis.call('EXISTS', storm) == 1
if not active and redis.call('ZCARD', posts) < admit then
  redis.call('ZADD', posts, now, id)
  redis.call('PEXPIRE', posts, window * 2)
  return 'post'
end
if not active then redis.call('HSET', storm, 'creator', id, 'since', now) end
redis.call('ZADD', members, redis.call('ZCARD', members), id)
redis.call('HSET', storm, 'latest', id)
redis.call('PEXPIRE', storm, quiet)
redis.call('PEXPIRE', members, quiet)
return 'storm'
`;

type Scripts = Redis & {
  sloeSlackPace(key: string, interval: string, burst: string): Promise<number>;
  sloeSlackAdmit(
    posts: string,
    storm: string,
    members: string,
    id: string,
    admit: string,
    window: string,
    quiet: string,
  ): Promise<string>;
};

export class RedisSlackFlow implements SlackFlow {
  private readonly redis: Scripts;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    this.redis = redis as Scripts;
    this.redis.defineCommand('sloeSlackPace', { numberOfKeys: 1, lua: PACE });
    this.redis.defineCommand('sloeSlackAdmit', { numberOfKeys: 3, lua: ADMIT });
  }

  private key(kind: string, channel: string): string {
    return `${this.prefix}:slack:${kind}:${channel}`;
  }

  async pace(channel: string): Promise<number> {
    return Number(
      await this.redis.sloeSlackPace(this.key('pace', channel), String(STORM.postIntervalMs), String(STORM.postBurst)),
    );
  }

  async paceRefresh(channel: string): Promise<number> {
    return Number(await this.redis.sloeSlackPace(this.key('refresh', channel), String(STORM.refreshMs), '1'));
  }

  async admit(channel: string, incidentId: string): Promise<{ post: true } | { post: false; storm: Storm }> {
    const outcome = await this.redis.sloeSlackAdmit(
      this.key('posts', channel),
      this.key('storm', channel),
      this.key('storm-members', channel),
      incidentId,
      String(STORM.admit),
      String(STORM.windowMs),
      String(STORM.quietMs),
    );
    if (outcome === 'post') return { post: true };
    const storm = await this.storm(channel);
    // A storm that ended between the two calls: the incident is posted after all.
    return storm ? { post: false, storm } : { post: true };
  }

  async storm(channel: string): Promise<Storm | undefined> {
    const [h, count, first] = await Promise.all([
      this.redis.hgetall(this.key('storm', channel)),
      this.redis.zcard(this.key('storm-members', channel)),
      this.redis.zrange(this.key('storm-members', channel), '0', String(STORM.lines - 1)),
    ]);
    if (!h.creator) return undefined;
    return {
      creator: h.creator,
      latest: h.latest ?? h.creator,
      since: Number(h.since),
      count,
      first,
      ...(h.channel && h.ts ? { message: { channel: h.channel, ts: h.ts } } : {}),
    };
  }

  async posted(channel: string, message: { channel: string; ts: string }): Promise<void> {
    await this.redis.hset(this.key('storm', channel), 'channel', message.channel, 'ts', message.ts);
  }
}
