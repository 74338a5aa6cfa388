/**
 * Runs escalation steps and incident updates. Each step is its own delayed job: it reloads the incident and does
 * nothing but write an audit record if the incident was acknowledged, resolved, or escalated anew (the job's token
 * is stale). A delivery is claimed in Redis first, so a retry or a second replica never sends it twice.
 */
import { type StepJob, type UpdateJob, heldNoteUpdate } from '../incident/jobs.js';
import { follows, groupRefresh, groupStatus } from '../incident/group.js';
import type { Incident } from '../incident/model.js';
import { stepKey as keyOf } from '../incident/model.js';
import type { Clock, IncidentStore, Logger } from '../incident/ports.js';
import type { Step } from '../rules/model.js';
import type { EngineMetrics } from '../observability/metrics.js';
import { type Channel, type DeliveryResult, type RetryPolicy, DEFAULT_RETRY, withRetries } from './notifier.js';
import { RunLater } from '../scheduler/run-later.js';
import { describeStep, releasedAt, repeatsAfter } from '../rules/plan.js';
import { holdText } from '../rules/inhibit.js';
import type { Holds } from '../rules/silence.js';

export type Channels = Record<Step['notify'], Channel>;

export const DEFAULT_CLAIM_TTL_MS = 30_000;

export interface EscalatorDeps {
  store: IncidentStore;
  channels: Channels;
  log: Logger;
  metrics: EngineMetrics;
  now: Clock;
  /** Identifies this replica in delivery claims. */
  owner: string;
  /**
   * How long a delivery claim lasts unless extended (default 30 s). The worker delivering extends it every third of
   * that; a worker that dies gives the delivery up to another one after at most this long.
   */
  claimTtlMs?: number;
  retry?: RetryPolicy;
  /** Schedules a step again (used when the incident is snoozed). */
  postpone(job: StepJob, until: number): Promise<void>;
  /** Schedules steps (repetitions); scheduling the same step twice schedules it once. */
  scheduleSteps(jobs: readonly StepJob[]): Promise<void>;
  /** Queues an update of the incident for the channels that took part (a failed delivery becomes a note). */
  queueUpdate(job: UpdateJob): Promise<void>;
  /** The silences in force: a step due while one covers the incident waits for its end. */
  holds?(): Promise<Holds>;
}

export class Escalator {
  constructor(private readonly deps: EscalatorDeps) {}

  private logFor(incident: Incident): Logger {
    return this.deps.log.child({ incidentId: incident.id, traceId: incident.traceId, slo: incident.sloId });
  }

  /** Runs one step; returns what happened, for tests and logs. */
  async runStep(job: StepJob): Promise<'sent' | 'failed' | 'skipped' | 'postponed' | 'missing'> {
    const { store, metrics } = this.deps;
    const incident = await store.get(job.incidentId);
    if (!incident) {
      this.deps.log.warn({ incidentId: job.incidentId }, 'escalation step for an unknown incident: skipped');
      return 'missing';
    }
    const log = this.logFor(incident);
    const key = keyOf(job.severity, job.index);
    const step = incident.policy[job.severity][job.index];
    const now = this.deps.now();
    const skip = async (detail: string) => {
      await store.addAudit(incident.id, { at: now, type: 'skipped', step: key, by: 'sloe', detail });
      metrics.notifications.inc({ channel: step?.notify ?? 'unknown', kind: 'step', outcome: 'skipped' });
      log.info({ event: 'step-skipped', step: key }, `step ${key} skipped: ${detail}`);
      return 'skipped' as const;
    };
    if (!step) return skip('the frozen policy has no such step');
    if (incident.token !== job.token)
      return skip('stale: the incident was escalated anew since this step was scheduled');
    if (follows(incident)) return skip(`it follows the escalation of its group (incident ${incident.group})`);
    // A group leader's steps are the group's: they run while any member fires, though the leader resolved.
    const group = incident.group ? await store.members(incident.id) : undefined;
    const status = group ? groupStatus(group) : incident.status;
    if (status === 'acknowledged')
      return skip(
        `acknowledged by ${incident.acknowledgedBy ?? group?.find((m) => m.acknowledgedBy)?.acknowledgedBy ?? 'someone'}`,
      );
    if (status === 'resolved') return skip(`resolved${incident.resolvedBy ? ` by ${incident.resolvedBy}` : ''}`);
    if (incident.snoozedUntil !== undefined && incident.snoozedUntil > now) {
      await this.deps.postpone(job, incident.snoozedUntil);
      await store.addAudit(incident.id, {
        at: now,
        type: 'note',
        step: key,
        by: 'sloe',
        detail: `postponed until ${new Date(incident.snoozedUntil).toISOString()} (snoozed)`,
      });
      return 'postponed';
    }
    const hold = (await this.deps.holds?.())?.(
      {
        service: incident.service,
        slo: incident.slo,
        signal: incident.signal,
        severity: job.severity,
        labels: incident.labels,
      },
      now,
    );
    if (hold) {
      const until = releasedAt(incident.policy, job, hold);
      await this.deps.postpone(job, until);
      await store.addAudit(incident.id, {
        at: now,
        type: 'note',
        step: key,
        by: 'sloe',
        detail: `held until ${new Date(until).toISOString()}: ${holdText(hold)}`,
      });
      log.info(
        { event: 'step-held', step: key, until, ...(hold.cause ? { dependency: hold.cause.sloId } : {}) },
        `step ${key} held until ${new Date(until).toISOString()}: ${hold.cause ? `caused by ${hold.by}?` : `silenced by ${hold.by}`}`,
      );
      // The dependency's Slack thread hears of each incident its page holds, once.
      const note = heldNoteUpdate(incident, hold);
      if (note) await this.deps.queueUpdate(note);
      return 'postponed';
    }

    // The next repetition is scheduled before this one is delivered, so that a worker dying now does not end them.
    const round = job.round ?? 0;
    const repeats = repeatsAfter(incident.policy, { index: job.index, severity: job.severity, at: job.at, round });
    if (repeats.length)
      await this.deps.scheduleSteps(
        repeats.map((r) => ({
          incidentId: incident.id,
          token: job.token,
          severity: r.severity,
          index: r.index,
          at: r.at,
          round: r.round,
        })),
      );

    const delivery = `${key}@${job.token}${round ? `.r${round}` : ''}`;
    const channel = this.deps.channels[step.notify];
    const what = `${describeStep(step)}${round ? ` (repeat ${round})` : ''}`;
    const fields = { step: key, ...(round ? { round } : {}) };
    let attempts = 0;
    const result = await this.deliver(incident.id, delivery, `step ${key}`, () => {
      if (attempts++ === 0) metrics.stepLag.observe(Math.max(0, now - job.at) / 1000);
      log.debug({ event: 'step-delivering', ...fields, channel: channel.name }, `delivering step ${key}`);
      return channel.step({
        incident,
        step,
        stepKey: key,
        round,
        log,
        now: this.deps.now,
        ...(group ? { group } : {}),
      });
    });
    if (result === 'done') return 'skipped';
    const at = this.deps.now();
    if (result.ok) {
      if (result.refs) await store.setRefs(incident.id, result.refs);
      await store.addAudit(incident.id, {
        at,
        type: 'step',
        ...fields,
        by: 'sloe',
        detail: `${what}: ${result.detail ?? 'sent'}`,
      });
      metrics.notifications.inc({ channel: channel.name, kind: 'step', outcome: 'sent' });
      log.info(
        { event: 'step-sent', ...fields, channel: channel.name, lagMs: now - job.at, attempts: result.attempts },
        `step ${key} ran: ${what}`,
      );
      if (!channel.logOnly) {
        await this.deps.queueUpdate({
          incidentId: incident.id,
          update: 'note',
          text: result.detail ?? `${what}: sent`,
          origin: channel.name,
          seq: delivery,
        });
      }
      // Members that joined while the step was being delivered are shown by an update of the group's message.
      if (group && (await store.members(incident.id)).length !== group.length)
        await this.deps.queueUpdate(groupRefresh(incident.id, this.deps.now()));
      return 'sent';
    }
    const detail = `${what} failed after ${result.attempts} attempt(s): ${result.error}`;
    await store.addAudit(incident.id, { at, type: 'failed', ...fields, by: 'sloe', detail });
    metrics.notifications.inc({ channel: channel.name, kind: 'step', outcome: 'failed' });
    log.error(
      { event: 'step-failed', ...fields, channel: channel.name, attempts: result.attempts, error: result.error },
      `step ${key} failed: ${detail}`,
    );
    await this.deps.queueUpdate({
      incidentId: incident.id,
      update: 'note',
      text: `Escalation step failed: ${detail}`,
      origin: 'sloe',
      seq: delivery,
    });
    return 'failed';
  }

  private get claimTtlMs(): number {
    return this.deps.claimTtlMs ?? DEFAULT_CLAIM_TTL_MS;
  }

  /**
   * Delivers once, whichever worker and replica runs the job: claim (a delivery done before is 'done'; one another
   * worker holds runs again when its claim lapses) → send with retries, extending the claim meanwhile → a send the
   * channel paced (`later`: Slack's pace, a storm summary not yet posted) gives the claim up and runs again then,
   * from the queue, holding no worker → the outcome recorded. What the outcome means (audit, metrics, notes) is the
   * caller's.
   */
  private async deliver(
    incidentId: string,
    delivery: string,
    what: string,
    send: () => Promise<DeliveryResult>,
  ): Promise<'done' | (DeliveryResult & { attempts: number })> {
    if ((await this.claim(incidentId, delivery, what)) === 'done') return 'done';
    const result = await this.holding(incidentId, delivery, () => withRetries(send, this.deps.retry ?? DEFAULT_RETRY));
    if (!result.ok && result.later !== undefined) {
      await this.deps.store.releaseDelivery(incidentId, delivery, this.deps.owner);
      throw new RunLater(result.later, `${what} of incident ${incidentId}: ${result.error}`);
    }
    await this.deps.store.finishDelivery(incidentId, delivery, result.ok ? 'done' : 'failed');
    return result;
  }

  /**
   * Claims a delivery for this worker. While another worker holds the claim the job runs again when the claim
   * lapses (RunLater: not a failed attempt): a holder that died gives it up then, a live one has finished by then
   * or extended it.
   */
  private async claim(incidentId: string, delivery: string, what: string): Promise<'claimed' | 'done'> {
    const claim = await this.deps.store.claimDelivery(incidentId, delivery, this.deps.owner, this.claimTtlMs);
    if (claim === 'claimed' || claim === 'done') return claim;
    throw new RunLater(
      claim.busyMs + 50,
      `${what} of incident ${incidentId} is being delivered by another worker; trying again when its claim lapses`,
    );
  }

  /** Runs a delivery while extending its claim, so that a delivery held up for long (Retry-After) stays this worker's. */
  private async holding<T>(incidentId: string, delivery: string, deliver: () => Promise<T>): Promise<T> {
    const ttl = this.claimTtlMs;
    const timer = setInterval(
      () => {
        this.deps.store.extendDelivery(incidentId, delivery, this.deps.owner, ttl).then(
          (mine) => {
            if (!mine)
              this.deps.log.warn(
                { event: 'claim-lost', incidentId, delivery },
                `the delivery claim of ${delivery} lapsed while delivering; another worker may deliver it too`,
              );
          },
          (e: Error) =>
            this.deps.log.warn(
              { event: 'claim-extend-failed', incidentId, delivery, error: e.message },
              `could not extend the delivery claim of ${delivery}: ${e.message}`,
            ),
        );
      },
      Math.max(100, Math.floor(ttl / 3)),
    );
    try {
      return await deliver();
    } finally {
      clearInterval(timer);
    }
  }

  /**
   * A step job that failed on every attempt (Redis errors, say) and will not run again: it is not lost silently but
   * recorded like a delivery that failed — audit trail, log, metric, and a note in the Slack thread.
   */
  async abandoned(job: StepJob, error: string): Promise<void> {
    const { store, metrics, log } = this.deps;
    const key = keyOf(job.severity, job.index);
    const round = job.round ?? 0;
    const incident = await store.get(job.incidentId).catch(() => undefined);
    const step = incident?.policy[job.severity]?.[job.index];
    const what = `${step ? describeStep(step) : `step ${key}`}${round ? ` (repeat ${round})` : ''}`;
    const detail = `${what} failed for good: the step job failed on every attempt (${error})`;
    const fields = { step: key, ...(round ? { round } : {}) };
    metrics.notifications.inc({ channel: step?.notify ?? 'unknown', kind: 'step', outcome: 'failed' });
    (incident ? this.logFor(incident) : log).error(
      { event: 'step-failed', incidentId: job.incidentId, ...fields, error },
      `step ${key} failed: ${detail}`,
    );
    await store.addAudit(job.incidentId, { at: this.deps.now(), type: 'failed', ...fields, by: 'sloe', detail });
    await this.deps.queueUpdate({
      incidentId: job.incidentId,
      update: 'note',
      text: `Escalation step failed: ${detail}`,
      origin: 'sloe',
      seq: `${key}@${job.token}${round ? `.r${round}` : ''}.abandoned`,
    });
  }

  /**
   * Reflects a change of an incident in every channel that took part in it. The channels are told side by side, each
   * through its own claim, retries and record, so a slow Slack does not hold up PagerDuty's acknowledge; the job fails
   * (and is retried, the claims keeping what was done) when telling one of them failed to run at all.
   */
  async runUpdate(job: UpdateJob): Promise<void> {
    const incident = await this.deps.store.get(job.incidentId);
    if (!incident) return;
    const routed = await this.route(incident, job);
    if (!routed) return;
    const outcomes = await Promise.allSettled(
      [...new Set(Object.values(this.deps.channels))].map((channel) =>
        this.updateChannel(routed.incident, channel, routed.job, routed.group),
      ),
    );
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Where an update of a grouped incident goes: to its group's leader, whose message and PagerDuty incident are the
   * group's. A member's change, or a resolution while other members still fire, becomes one refresh of the group's
   * message; the group resolves when its last member does.
   */
  private async route(
    incident: Incident,
    job: UpdateJob,
  ): Promise<{ incident: Incident; job: UpdateJob; group?: Incident[] } | undefined> {
    if (!incident.group) return { incident, job };
    const leader = follows(incident) ? await this.deps.store.get(incident.group) : incident;
    if (!leader) return { incident, job };
    const group = await this.deps.store.members(leader.id);
    const refresh = async () => {
      await this.deps.queueUpdate(groupRefresh(leader.id, this.deps.now()));
      return undefined;
    };
    if (job.update === 'resolved')
      return groupStatus(group) === 'resolved' ? { incident: leader, job: { ...job, seq: 'group' }, group } : refresh();
    if (follows(incident) && job.update !== 'note') return refresh();
    return { incident: leader, job, group };
  }

  /** Tells one channel of an update: claim → send with retries → record. */
  private async updateChannel(incident: Incident, channel: Channel, job: UpdateJob, group?: Incident[]): Promise<void> {
    const { store, metrics } = this.deps;
    const log = this.logFor(incident);
    const key = `update.${job.update}.${job.seq}.${channel.name}`;
    const ctx = {
      incident,
      update: job.update,
      ...(job.text !== undefined ? { text: job.text } : {}),
      ...(job.origin !== undefined ? { origin: job.origin } : {}),
      ...(group ? { group } : {}),
      log,
      now: this.deps.now,
    };
    const result = await this.deliver(
      incident.id,
      key,
      `update ${key}`,
      async () => (await channel.update(ctx)) ?? { ok: true, detail: 'not involved' },
    );
    if (result === 'done' || (result.ok && result.detail === 'not involved')) return;
    if (result.ok && result.refs) await store.setRefs(incident.id, result.refs);
    metrics.notifications.inc({ channel: channel.name, kind: 'update', outcome: result.ok ? 'sent' : 'failed' });
    if (!result.ok) {
      await store.addAudit(incident.id, {
        at: this.deps.now(),
        type: 'failed',
        by: 'sloe',
        detail: `${channel.name} ${job.update} update failed: ${result.error}`,
      });
      log.error(
        { event: 'update-failed', channel: channel.name, update: job.update, error: result.error },
        `${channel.name} could not be told the incident was ${job.update}`,
      );
    }
  }
}
