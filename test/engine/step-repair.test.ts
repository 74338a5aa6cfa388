/**
 * The repair of lost escalation steps: a firing incident's step jobs are put in the queue once, not again on every
 * evaluation; they are put back after a Redis connection became ready again (a failover or a restart may have lost
 * them while the incident survived), and at the latest after the recheck period (5 minutes by default), for jobs lost
 * while the connection stayed open. Real Redis, Prometheus and BullMQ.
 */
import { type Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import type { Incident } from '../../src/incident/model.js';
import { sleep } from '../../src/util/async.js';
import { eventually, queueSlo, startEngine, useStack, writeSlos } from '../support/engine.js';

const ctx = useStack();

/**
 * An engine with a firing incident whose first step waits in the queue (steps 30 s and 60 s after firing: still
 * waiting for as long as a test runs), and `check` run on it; then the queue's connection is closed.
 */
async function withQueuedStep(
  options: Parameters<typeof startEngine>[2],
  check: (s: {
    engine: Engine;
    connection: Redis;
    deliver: Queue;
    incident: Incident;
    jobId: string;
    job: Job;
  }) => Promise<void>,
) {
  const paths = [await writeSlos(ctx.stack.dir, queueSlo({ after: ['30s', '60s'] }))];
  const { engine, prefix } = await startEngine(ctx.stack, paths, options);
  ctx.engines.push(engine);
  const connection = new Redis(ctx.stack.redis.url, { maxRetriesPerRequest: null });
  const deliver = new Queue('deliver', { connection, prefix });
  try {
    ctx.stack.exporter.gauge('demo_queue_depth').set(350);
    const incident = await eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);
    const jobId = `step.${incident.id}.${incident.token}.page.1`;
    const job = await eventually('the queued step', () => deliver.getJob(jobId));
    await check({ engine, connection, deliver, incident, jobId, job });
  } finally {
    await deliver.close();
    connection.disconnect();
  }
}

describe('sloe run: the steps of a firing incident', () => {
  it('are queued once while Redis stays connected, and queued again after a reconnect', () =>
    withQueuedStep({}, async ({ engine, connection, deliver, incident, jobId, job }) => {
      const evaluated = () =>
        engine.metrics.evaluations.get().then((m) => m.values.reduce((sum, v) => sum + v.value, 0));
      // The step's job is lost from the queue (as a failover to a replica that had not received it would lose it).
      await job.remove();
      const before = await evaluated();
      await eventually('three more evaluations', async () => (await evaluated()) >= before + 3);
      await sleep(500);
      // Evaluated while firing, with the connections as they were: the job is not added again on every evaluation.
      expect(await deliver.getJob(jobId)).toBeUndefined();

      // Every connection of the engine is dropped; once they are ready again the next evaluation queues the step.
      await connection.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      const again = await eventually('the step queued again', () => deliver.getJob(jobId));
      expect(again.data).toMatchObject({ incidentId: incident.id, token: incident.token, index: 1 });
      expect((await engine.store.get(incident.id))?.status).toBe('firing');
    }));

  it('are queued again after the recheck period when they were lost with the connection left open', () =>
    withQueuedStep({ stepRecheckMs: 6_000 }, async ({ deliver, incident, jobId, job }) => {
      await job.remove();
      const again = await eventually('the step queued again', () => deliver.getJob(jobId));
      expect(again.data).toMatchObject({ incidentId: incident.id, token: incident.token, index: 1 });
      // Not at the next evaluation (a second later), but once the recheck period had passed since it was queued (the
      // evaluation that queued it began before the job was made, up to a few hundred ms).
      expect(again.timestamp - job.timestamp).toBeGreaterThanOrEqual(5_000);
    }));
});
