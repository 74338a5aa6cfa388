/**
 * A replica killed (SIGKILL) while a Slack or PagerDuty request of a step is in flight: the other replica delivers
 * the step once the dead replica's delivery claim lapses. Nothing is lost; PagerDuty folds the retry into one
 * incident by its dedup key; Slack may show the message twice, never zero times.
 */
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/process.js';
import { type LogLine, eventually, useStack, writeSlos } from '../support/engine.js';
import { type SloeProcess, pidOfConnection, spawnSloe } from '../support/process.js';
import { channelSlo, resetStandIns, useChannels } from './support.js';

const ctx = useStack();
const channels = useChannels();

const API_TOKEN = 'failover-api-token';

/** Two `sloe run` replicas on one Redis, with short job locks and delivery claims so that a death is noticed in seconds. */
async function replicas(overrides: NodeJS.ProcessEnv = {}): Promise<[SloeProcess, SloeProcess]> {
  const paths = [await writeSlos(ctx.stack.dir, channelSlo())];
  const env: NodeJS.ProcessEnv = {
    ...channels.env,
    REDIS_URL: ctx.stack.redis.url,
    PROMETHEUS_URL: ctx.stack.prometheus.url,
    SLOE_REDIS_PREFIX: `failover${Date.now()}`,
    SLOE_API_TOKEN: API_TOKEN,
    NODE_EXTRA_CA_CERTS: channels.ca.caFile,
    SLOE_LOCK_DURATION_MS: '2000',
    SLOE_STALLED_INTERVAL_MS: '1000',
    SLOE_CLAIM_TTL_MS: '3000',
    ...overrides,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const [pa, pb] = await Promise.all([freePort(), freePort()]);
  const a = spawnSloe(['run', paths[0]!], env, pa);
  const b = spawnSloe(['run', paths[0]!], env, pb);
  ctx.processes.push(a, b);
  await Promise.all([a.waitFor('ready', (l) => l.event === 'ready'), b.waitFor('ready', (l) => l.event === 'ready')]);
  return [a, b];
}

/** Kills the replica holding the connection of a held request; returns the survivor. */
async function killHolder(remotePort: number, a: SloeProcess, b: SloeProcess): Promise<SloeProcess> {
  const pid = await pidOfConnection(remotePort, [a.child.pid!, b.child.pid!]);
  expect(pid, 'the replica whose request is held').toBeDefined();
  const [victim, survivor] = pid === a.child.pid ? [a, b] : [b, a];
  victim.kill('SIGKILL');
  await victim.exited;
  return survivor;
}

async function audit(p: SloeProcess, id: string): Promise<Array<{ type: string; step?: string }>> {
  const res = await fetch(`http://127.0.0.1:${p.port}/api/incidents/${id}`, {
    headers: { authorization: `Bearer ${API_TOKEN}` },
  });
  return ((await res.json()) as { audit: Array<{ type: string; step?: string }> }).audit;
}

const sent = (step: string) => (l: LogLine) => l.event === 'step-sent' && l.step === step;

describe('a replica dies while a step is being delivered', () => {
  it('SIGKILL during the Slack post: the other replica posts the message, and the escalation goes on', async () => {
    resetStandIns(channels);
    channels.slack.hold('chat.postMessage');
    const [a, b] = await replicas();
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const held = await eventually('the Slack post held in flight', () => channels.slack.holds.held[0]);
    const survivor = await killHolder(held.remotePort, a, b);
    held.release();

    await survivor.waitFor('the Slack step delivered by the survivor', sent('page.0'), 30_000);
    // Waiting for the dead replica's claim to lapse is not a failed attempt.
    expect(survivor.lines.filter((l) => l.event === 'job-failed')).toEqual([]);
    const id = [a, b].flatMap((p) => p.lines).find((l) => l.event === 'incident-fired')!.incidentId!;
    await survivor.waitFor('the last step', sent('page.3'), 30_000);
    const posts = channels.slack.of('chat.postMessage').filter((c) => c.args.channel === '#ai-alerts');
    expect(posts.length).toBeGreaterThanOrEqual(1);
    expect(channels.pagerduty.incidents.size).toBe(1);
    expect([...channels.pagerduty.incidents.keys()]).toEqual([`sloe-${id}`]);
    // Each step once; the one taken over runs after the dead replica's claim lapsed, so later than its turn.
    const steps = (await audit(survivor, id)).filter((e) => e.type === 'step').map((e) => e.step);
    expect(steps.sort()).toEqual(['page.0', 'page.1', 'page.2', 'page.3']);
  });

  it('SIGKILL during the PagerDuty trigger: the other replica triggers again with the same dedup key, and PagerDuty has one incident', async () => {
    resetStandIns(channels);
    channels.pagerduty.hold();
    const [a, b] = await replicas();
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const held = await eventually(
      'the PagerDuty trigger held in flight',
      () => channels.pagerduty.holds.held[0],
      20_000,
    );
    const survivor = await killHolder(held.remotePort, a, b);
    held.release();

    await survivor.waitFor('the PagerDuty step delivered by the survivor', sent('page.1'), 30_000);
    const id = [a, b].flatMap((p) => p.lines).find((l) => l.event === 'incident-fired')!.incidentId!;
    const triggers = channels.pagerduty.requests.filter((r) => r.event.event_action === 'trigger');
    expect(triggers.map((r) => r.event.dedup_key)).toEqual([`sloe-${id}`, `sloe-${id}`]);
    expect(channels.pagerduty.incidents.size).toBe(1);
    await survivor.waitFor('the on-call step', sent('page.2'), 30_000);
    const steps = (await audit(survivor, id)).filter((e) => e.type === 'step').map((e) => e.step);
    expect(steps.sort()).toEqual(['page.0', 'page.1', 'page.2']);
  });

  it('without SLOE_CLAIM_TTL_MS, the delivery claim follows SLOE_LOCK_DURATION_MS: a short lock means a quick takeover of the step', async () => {
    resetStandIns(channels);
    const earlier = channels.slack.holds.held.length;
    channels.slack.hold('chat.postMessage', { mode: 'request' });
    // Job locks of 2 s; the claim's own time is left to its default.
    const [a, b] = await replicas({ SLOE_CLAIM_TTL_MS: undefined });
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const held = await eventually('the Slack post held in flight', () => channels.slack.holds.held[earlier]);
    const survivor = await killHolder(held.remotePort, a, b);
    const killedAt = Date.now();
    held.drop();

    // A dead replica's claim lapses about as soon as its job lock: seconds, not a fixed 30 s (by then a short
    // incident has resolved and its first message is never posted).
    await survivor.waitFor('the Slack step delivered by the survivor', sent('page.0'), 15_000);
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    const posts = channels.slack
      .of('chat.postMessage')
      .filter((c) => c.args.channel === '#ai-alerts' && !c.args.thread_ts);
    expect(posts).toHaveLength(1);
  });
});
