import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSentinelGroup, startSentinelGroup } from '../../src/local/sentinel.js';
import { eventually, queueSlo, startEngine, useStack, writeSlos } from '../support/engine.js';
import { sleep } from '../support/time.js';

const ctx = useStack();
let group: LocalSentinelGroup;

beforeAll(async () => {
  group = await startSentinelGroup();
});
afterAll(() => group?.stop());

describe('Redis Sentinel', () => {
  it('the master killed (SIGKILL) in the middle of an escalation: after the promotion every remaining step runs exactly once', async () => {
    const paths = [await writeSlos(ctx.stack.dir, queueSlo({ after: ['8s', '14s'] }))];
    // REDIS_URL still points at the stack's own Redis: REDIS_SENTINELS must win over it.
    const env = { ...group.env };
    const a = await startEngine(ctx.stack, paths, { env });
    const b = await startEngine(ctx.stack, paths, { env, prefix: a.prefix });
    ctx.engines.push(a.engine, b.engine);
    // Both engines' lines, in the order they were written.
    const lines = () =>
      [...a.capture.lines, ...b.capture.lines].sort((x, y) => Date.parse(String(x.time)) - Date.parse(String(y.time)));
    const sent = () => lines().filter((l) => l.event === 'notification');
    expect(a.capture.events('redis-target')[0]?.redis).toBe(
      `master "${group.name}" of sentinels ${group.env.REDIS_SENTINELS}`,
    );

    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await eventually('an incident', async () => (await a.engine.store.list({ open: true }))[0]);
    await eventually('the first step', () => sent().length === 1);

    const killedAt = Date.now();
    const old = await group.killMaster();
    const promoted = await group.waitForFailover(old);
    const promotedAt = Date.now();
    expect(promoted.port).not.toBe(old);
    // The second step is due 8 s after firing: it has not run yet, on either side of the failover.
    expect(sent().map((l) => l.step)).toEqual(['page.0']);

    await eventually('the remaining steps', () => sent().length >= 3, 30_000);
    await sleep(3000);
    expect(sent().map((l) => l.step)).toEqual(['page.0', 'page.1', 'page.2']);
    for (const l of sent().slice(1)) expect(Date.parse(String(l.time))).toBeGreaterThanOrEqual(promotedAt - 1000);

    // The incident survived on the promoted replica: fired once, still firing, each step in the audit trail once.
    const after = await a.engine.store.get(incident.id);
    expect(after?.status).toBe('firing');
    const audit = await a.engine.store.audit(incident.id);
    expect(audit.filter((x) => x.type === 'fired')).toHaveLength(1);
    expect(audit.filter((x) => x.type === 'step').map((x) => x.step)).toEqual(['page.0', 'page.1', 'page.2']);
    expect(lines().filter((l) => l.event === 'incident-fired')).toHaveLength(1);
    process.stderr.write(
      `sentinel failover: master ${old} killed, ${promoted.port} promoted after ${promotedAt - killedAt} ms\n`,
    );
  }, 90_000);
});
