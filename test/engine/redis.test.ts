import { describe, expect, it } from 'vitest';
import { type RedisTarget, describeRedisTarget, parseSentinels, redisTargetFromEnv } from '../../src/engine/redis.js';
import { freePort } from '../../src/local/process.js';
import { startRedis } from '../../src/local/redis.js';
import { runSloe } from '../support/cli.js';
import { queueSlo, startEngine, useStack, writeSlos } from '../support/engine.js';
import { sleep } from '../support/time.js';

const ctx = useStack();

describe('where Redis is', () => {
  it.each<[string, NodeJS.ProcessEnv, RedisTarget]>([
    ['no variable: the local default', {}, { kind: 'url', url: 'redis://localhost:6379' }],
    ['REDIS_URL', { REDIS_URL: 'redis://r:6380/2' }, { kind: 'url', url: 'redis://r:6380/2' }],
    [
      'REDIS_SENTINELS wins over REDIS_URL; ports default to 26379, IPv6 in brackets',
      { REDIS_URL: 'redis://r:6380', REDIS_SENTINELS: 's1:26380, s2,[::1]:26381', REDIS_SENTINEL_NAME: 'sloe' },
      {
        kind: 'sentinel',
        sentinels: [
          { host: 's1', port: 26380 },
          { host: 's2', port: 26379 },
          { host: '::1', port: 26381 },
        ],
        name: 'sloe',
      },
    ],
    [
      'passwords of the data nodes and of the sentinels from the environment; the name defaults to mymaster',
      { REDIS_SENTINELS: 's1:1', REDIS_PASSWORD: 'p1', REDIS_SENTINEL_PASSWORD: 'p2', REDIS_SENTINEL_USERNAME: 'u2' },
      {
        kind: 'sentinel',
        sentinels: [{ host: 's1', port: 1 }],
        name: 'mymaster',
        password: 'p1',
        sentinelPassword: 'p2',
        sentinelUsername: 'u2',
      },
    ],
  ])('%s', (_name, env, expected) => {
    const target = redisTargetFromEnv(env);
    // Unset credentials are left undefined.
    expect(JSON.parse(JSON.stringify(target))).toEqual(expected);
  });

  it.each([
    ['', 'REDIS_SENTINELS is empty'],
    [' , ', 'REDIS_SENTINELS is empty'],
    ['s1:0', '"s1:0" is not host:port'],
    ['s1:70000', '"s1:70000" is not host:port'],
    ['s1:x', '"s1:x" is not host:port'],
    ['a:b:c', '"a:b:c" is not host:port'],
  ])('REDIS_SENTINELS=%j is refused: %s', (value, message) => {
    expect(() => parseSentinels(value)).toThrow(message);
  });

  it('never names a password in what it logs', () => {
    expect(describeRedisTarget({ kind: 'url', url: 'redis://user:hunter2@r:6379/0' })).toBe('redis://r:6379/0');
    const sentinel = describeRedisTarget(
      redisTargetFromEnv({
        REDIS_SENTINELS: 's1:1,s2:2',
        REDIS_SENTINEL_NAME: 'sloe',
        REDIS_PASSWORD: 'hunter2',
        REDIS_SENTINEL_PASSWORD: 'hunter3',
      }),
    );
    expect(sentinel).toBe('master "sloe" of sentinels s1:1,s2:2');
  });

  it('sloe run with a malformed REDIS_SENTINELS exits 2 and says which entry', async () => {
    const paths = [await writeSlos(ctx.stack.dir, queueSlo())];
    const result = await runSloe(['run', paths[0]!], {
      env: { REDIS_SENTINELS: 'sentinel-1:26379,sentinel-2:port', SLOE_PORT: String(await freePort()) },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('REDIS_SENTINELS: "sentinel-2:port" is not host:port');
  });
});

describe("Redis' eviction policy", () => {
  async function policyLines(args: string[]) {
    const redis = await startRedis({ args });
    try {
      const paths = [await writeSlos(ctx.stack.dir, queueSlo())];
      const { engine, capture } = await startEngine(ctx.stack, paths, { env: { REDIS_URL: redis.url } });
      ctx.engines.push(engine);
      // The check runs when the connection becomes ready, beside the engine's own start.
      for (let i = 0; i < 50 && capture.events('redis-eviction-policy').length === 0; i++) await sleep(100);
      await engine.stop();
      return capture.events('redis-eviction-policy');
    } finally {
      await redis.stop();
    }
  }

  it("noeviction (Redis' default): checked, no warning", async () => {
    const lines = await policyLines([]);
    expect(lines.map((l) => [l.level, l.policy])).toEqual([['debug', 'noeviction']]);
  });

  it('an evicting policy: a warning that names it', async () => {
    const lines = await policyLines(['--maxmemory-policy', 'allkeys-lru']);
    expect(lines.map((l) => [l.level, l.policy])).toEqual([['warn', 'allkeys-lru']]);
    expect(lines[0]!.msg).toContain('maxmemory-policy is "allkeys-lru"');
    expect(lines[0]!.msg).toContain('set it to "noeviction"');
  });

  it('CONFIG refused (as on managed Redis): a warning that it could not be checked', async () => {
    const lines = await policyLines(['--rename-command', 'CONFIG', '']);
    expect(lines.map((l) => [l.level, l.policy])).toEqual([['warn', 'unknown']]);
    expect(lines[0]!.msg).toMatch(/^could not check Redis' maxmemory-policy \(ERR unknown command 'CONFIG'/);
  });
});
