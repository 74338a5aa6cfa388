/**
 * The repair of lost escalation steps: a firing incident's step jobs are put in the queue once, not again on every
 * evaluation, and put back after a Redis connection became ready again (a failover or a restart may have lost them
 * while the incident survived). Real Redis, Prometheus and BullMQ.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { sleep } from '../../src/util/async.js';
import { eventually, queueSlo, startEngine, useStack, writeSlos } from '../support/engine.js';

const ctx = useStack();

describe('sloe run: the steps of a firing incident', () => {
  it('are queued once while Redis stays connected, and queued again after a reconnect', async () => {
    // Steps 30 s and 60 s after firing: still waiting in the queue for as long as the test runs.
    const paths = [await writeSlos(ctx.stack.dir, queueSlo({ after: ['30s', '60s'] }))];
    const { engine, prefix } = await startEngine(ctx.stack, paths);
    ctx.engines.push(engine);
    const connection = new Redis(ctx.stack.redis.url, { maxRetriesPerRequest: null });
    const deliver = new Queue('deliver', { connection, prefix });
    try {
      ctx.stack.exporter.gauge('demo_queue_depth').set(350);
      const incident = await eventually('an incident', async () => (await engine.store.list({ open: true }))[0]);
      const jobId = `step.${incident.id}.${incident.token}.page.1`;
      const job = await eventually('the queued step', () => deliver.getJob(jobId));
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
    } finally {
      await deliver.close();
      connection.disconnect();
    }
  });
});
