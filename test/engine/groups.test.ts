/**
 * Grouping in the store (the APPLY script, real Redis): which group a new incident joins — the latest of its key,
 * if its leader fired at most `wait` before and fires at its severity or above — and actions on a group's member
 * acting on the whole group.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decide } from '../../src/engine/decide.js';
import { IncidentCommands } from '../../src/engine/incident-commands.js';
import { RedisIncidentStore } from '../../src/engine/store.js';
import type { SloFrame } from '../../src/evaluator/frame.js';
import type { UpdateJob } from '../../src/incident/jobs.js';
import { type LocalRedis, startRedis } from '../../src/local/redis.js';
import { createLogger } from '../../src/observability/log.js';
import type { Config, Slo } from '../../src/rules/model.js';
import { silencer } from '../../src/rules/silence.js';
import { configFromText } from '../support/rules.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const SPECS = `apiVersion: sloe/v1
kind: EscalationPolicy
name: default
group: { by: [service], wait: 30s }
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
  - name: latency
    signal: latency
    dashboard: main
    query: max by (model) (latency)
    objective: "< 3"
    alert: { when: "> 5", for: 0s, resolveAfter: 0s, severity: ticket }
  - name: errors
    signal: error_rate
    dashboard: main
    query: max by (model) (errors)
    objective: "< 3"
    alert: { when: "> 5", for: 0s, resolveAfter: 0s, severity: page }
---
apiVersion: sloe/v1
kind: Silence
name: sonnet-maintenance
owner: alice
reason: sonnet is being redeployed
matchers: ["model = sonnet"]
startsAt: "2026-12-01T09:00:00Z"
endsAt: "2026-12-01T11:00:00Z"
`;

let redis: LocalRedis;
let client: Redis;
let config: Config;
let store: RedisIncidentStore;
const updates: UpdateJob[] = [];

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  config = await configFromText(SPECS);
  store = new RedisIncidentStore(client, `groups${Date.now()}`);
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

const breach = (severity: 'page' | 'ticket', models: string[]): SloFrame => ({
  status: 'data',
  instances: models.map((model) => ({ labels: { model }, value: 9, state: 'breach', severity, message: '9 > 5' })),
});
let n = 0;
const ids = { token: () => `t${++n}`, traceId: () => `x${n}` };

/** Evaluates `slo` at T0 + `s` seconds with these models breaching; returns the incidents it opened. */
async function evaluate(slo: Slo, s: number, ...models: string[]) {
  const state = await store.loadState(slo.id);
  // As the SLOs' alerts say: latency tickets, errors page.
  const frame = breach(slo.name === 'errors' ? 'page' : 'ticket', models);
  const d = decide(slo, config.policies.get('default')!, state, frame, T0 + s * 1000, ids, silencer(config.silences));
  const result = await store.apply(slo.id, state.rev, T0 + s * 1000, d.instances, d.ops);
  expect(result.applied).toBe(true);
  return Promise.all(result.opened.map(async (id) => (await store.get(id))!));
}

describe('groups in the store', () => {
  it('joins the latest group of its key within wait at its severity or below; a held incident takes no part', async () => {
    const [latency, errors] = config.slos;
    const [opus] = await evaluate(latency!, 0, 'opus');
    expect(opus!.group).toBe(opus!.id);
    // Within 30s, the same service: one group, though another SLO (by: [service]).
    const [haiku] = await evaluate(latency!, 10, 'opus', 'haiku');
    expect(haiku!.group).toBe(opus!.id);
    // A page does not join a ticket's group: it leads its own.
    const [page] = await evaluate(errors!, 12, 'opus');
    expect(page!.group).toBe(page!.id);
    // The latest group of the key is now the page's: a ticket joins it.
    const [ticket] = await evaluate(latency!, 20, 'opus', 'haiku', 'mistral');
    expect(ticket!.group).toBe(page!.id);
    // A silenced incident is in no group.
    const [held] = await evaluate(latency!, 21, 'opus', 'haiku', 'mistral', 'sonnet');
    expect(held!.group).toBeUndefined();
    // Past the wait of the latest group: a group of its own.
    const [late] = await evaluate(latency!, 43, 'opus', 'haiku', 'mistral', 'sonnet', 'gemma');
    expect(late!.group).toBe(late!.id);
    expect((await store.members(opus!.id)).map((m) => m.labels.model)).toEqual(['opus', 'haiku']);
    expect((await store.members(page!.id)).map((m) => [m.slo, m.labels.model])).toEqual([
      ['errors', 'opus'],
      ['latency', 'mistral'],
    ]);
  });

  it("acknowledging a member acknowledges its group; one update goes to the leader's channels", async () => {
    const commands = new IncidentCommands({
      store,
      log: createLogger({ LOG_LEVEL: 'silent' }),
      now: () => T0 + 60_000,
      queueUpdate: async (job) => void updates.push(job),
    });
    const leader = (await store.list({ open: true })).find((i) => i.slo === 'errors')!;
    const [, member] = await store.members(leader.id);
    expect(await commands.acknowledge(member!.id, 'alice', 'api')).toBe('done');
    expect((await store.members(leader.id)).map((m) => m.status)).toEqual(['acknowledged', 'acknowledged']);
    expect((await store.audit(member!.id)).at(-1)?.detail).toBe(
      `acknowledged via api with its group (incident ${leader.id})`,
    );
    expect(updates).toEqual([{ incidentId: leader.id, update: 'acknowledged', seq: 'manual', origin: 'api' }]);
    expect(await commands.acknowledge(leader.id, 'bob', 'api')).toBe('already');
  });
});
