/**
 * A store starts an SLO's next evaluation from the state it wrote last, without reading Redis: that state must be the
 * one in Redis, and when anyone else wrote since (another replica, a resolution by hand), APPLY turns the evaluation
 * away and the state is read from Redis again. No decision is stored on top of a state it did not start from.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decide } from '../../src/engine/decide.js';
import { RedisIncidentStore } from '../../src/engine/store.js';
import type { SloFrame } from '../../src/evaluator/frame.js';
import type { AuditEntry } from '../../src/incident/model.js';
import { type LocalRedis, startRedis } from '../../src/local/redis.js';
import type { Config } from '../../src/rules/model.js';
import { NO_HOLDS } from '../../src/rules/silence.js';
import { configFromText } from '../support/rules.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const SPECS = `apiVersion: sloe/v1
kind: EscalationPolicy
name: default
page:
  - notify: slack
    channel: "#alerts"
---
apiVersion: sloe/v1
kind: ServiceLevels
service: checkout
owner: platform
escalation: default
dashboards: [{ id: main, owner: bob }]
slos:
  - name: errors
    signal: error_rate
    dashboard: main
    query: max by (model) (errors)
    objective: "< 3"
    alert: { when: "> 5", for: 0s, resolveAfter: 0s, severity: page }
`;

let redis: LocalRedis;
let clients: Redis[];
let config: Config;

beforeAll(async () => {
  redis = await startRedis();
  clients = [new Redis(redis.url), new Redis(redis.url)];
  config = await configFromText(SPECS);
});
afterAll(async () => {
  for (const c of clients ?? []) c.disconnect();
  await redis?.stop();
});

const frame = (value: number): SloFrame => ({
  status: 'data',
  instances: [
    {
      labels: { model: 'opus' },
      value,
      state: value > 5 ? 'breach' : 'ok',
      severity: 'page',
      message: `${value}`,
    },
  ],
});
let n = 0;
const ids = { token: () => `t${++n}`, traceId: () => `x${n}` };

describe('the state a store wrote last', () => {
  it('is the one in Redis, and is turned away once another replica or a resolution by hand wrote since', async () => {
    const prefix = `cache${Date.now()}`;
    // Two replicas sharing a Redis; a counter of the state reads each makes.
    const reads = [0, 0];
    const [a, b] = clients.map((client, k): RedisIncidentStore => {
      const store = new RedisIncidentStore(client, prefix);
      const hgetall = client.hgetall.bind(client);
      client.hgetall = ((key: string) => {
        if (key.includes(':state:')) reads[k]!++;
        return hgetall(key);
      }) as typeof client.hgetall;
      return store;
    }) as [RedisIncidentStore, RedisIncidentStore];
    const slo = config.slos[0]!;
    const policy = config.policies.get('default')!;
    const evaluate = async (store: RedisIncidentStore, s: number, value: number, fromRedis = false) => {
      const state = await store.loadState(slo.id, fromRedis);
      const d = decide(slo, policy, state, frame(value), T0 + s * 1000, ids, NO_HOLDS);
      return { state, result: await store.apply(slo.id, state.rev, T0 + s * 1000, d.instances, d.ops) };
    };

    // Replica a opens an incident; its next evaluation starts from what it wrote, which is what Redis holds.
    const first = await evaluate(a, 0, 9);
    expect(first.result.applied).toBe(true);
    expect(first.result.opened).toHaveLength(1);
    expect(reads[0]).toBe(1);
    const kept = await a.loadState(slo.id);
    expect(reads[0]).toBe(1);
    expect(kept).toEqual(await b.loadState(slo.id, true));
    expect(kept.rev).toBe(first.state.rev + 1);

    // Replica b evaluates the next minute (resolving it); a's state is stale now: a's decision from it is not stored.
    const second = await evaluate(b, 60, 1);
    expect(second.result.applied).toBe(true);
    expect(second.result.resolved).toHaveLength(1);
    const stale = await evaluate(a, 120, 9);
    expect(stale.state).toEqual(kept);
    expect(stale.result).toEqual({ applied: false, opened: [], escalated: [], rearmed: [], resolved: [] });
    // Its next attempt reads Redis, and goes on from b's state.
    const retried = await evaluate(a, 120, 9, true);
    expect(retried.state.rev).toBe(kept.rev + 1);
    expect(retried.result.applied).toBe(true);
    expect(retried.result.opened).toHaveLength(1);

    // A resolution by hand (through b) makes the instance start over: a's kept state does not know it, and is turned
    // away; read again, it carries the reset.
    const incident = (await a.get(retried.result.opened[0]!))!;
    const audit: AuditEntry = { at: T0 + 150_000, type: 'resolved', by: 'alice', detail: 'by hand' };
    expect(await b.resolve(incident, T0 + 150_000, 'alice', audit)).toBe('firing');
    const afterReset = await evaluate(a, 180, 9);
    expect(afterReset.state.resets).toEqual([]);
    expect(afterReset.result.applied).toBe(false);
    const fresh = await a.loadState(slo.id, true);
    expect(fresh.resets).toHaveLength(1);
  });
});
