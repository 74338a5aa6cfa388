/**
 * Acknowledge, resolve and snooze, for Slack, PagerDuty webhooks and the HTTP API alike: the change is atomic in the
 * store, and an update job tells the channels.
 */
import type { UpdateJob } from '../incident/jobs.js';
import type { IncidentAction, IncidentActions } from '../incident/ports.js';
import type { Logger } from '../observability/log.js';
import type { RedisIncidentStore } from './store.js';

export interface IncidentCommandDeps {
  store: RedisIncidentStore;
  log: Logger;
  now(): number;
  queueUpdate(job: UpdateJob): Promise<void>;
}

/** The incident commands; silences are the engine's own (they need its configuration). */
export class IncidentCommands implements Omit<IncidentActions, 'silence'> {
  constructor(private readonly deps: IncidentCommandDeps) {}

  /**
   * Acknowledges a firing incident: its remaining steps will not run. With a `deadline` (epoch ms), nothing changes
   * once Redis' clock has passed it ('expired'): the one who asked was told it did not happen.
   */
  async acknowledge(id: string, by: string, via = 'api', deadline?: number): Promise<IncidentAction> {
    const at = this.deps.now();
    const before = await this.deps.store.acknowledge(id, at, by, { at, type: 'acknowledged', by, detail: `acknowledged via ${via}` }, deadline);
    return this.after(id, before, 'acknowledged', `acknowledged by ${by} via ${via}`, via);
  }

  /** Resolves an incident by hand: what was opened is resolved; a breach that persists fires anew after `for`. */
  async resolve(id: string, by: string, via = 'api', deadline?: number): Promise<IncidentAction> {
    const incident = await this.deps.store.get(id);
    if (!incident) return 'missing';
    const at = this.deps.now();
    const before = await this.deps.store.resolve(incident, at, by, { at, type: 'resolved', by, detail: `resolved via ${via}` }, deadline);
    return this.after(id, before === 'resolved' || before === 'expired' ? before : 'firing', 'resolved', `resolved by ${by} via ${via}`, via);
  }

  /** Holds the escalation of a firing incident for `ms`. */
  async snooze(id: string, ms: number, by: string, via = 'api', deadline?: number): Promise<IncidentAction> {
    const at = this.deps.now();
    const until = at + ms;
    const before = await this.deps.store.snooze(id, until, { at, type: 'snoozed', by, detail: `snoozed until ${new Date(until).toISOString()} via ${via}` }, deadline);
    return this.after(id, before, 'snoozed', `snoozed by ${by} via ${via}`, via, String(until));
  }

  private async after(id: string, before: string, update: UpdateJob['update'], what: string, origin: string, seq = 'manual'): Promise<IncidentAction> {
    if (before === 'missing' || before === 'expired') return before;
    if (before !== 'firing') return 'already';
    const incident = await this.deps.store.get(id);
    this.deps.log.info({ event: `incident-${update}`, incidentId: id, traceId: incident?.traceId, slo: incident?.sloId }, what);
    // A re-armed incident is acknowledged once per arming.
    const arming = update === 'acknowledged' && incident?.rearms ? `.${incident.rearms}` : '';
    await this.deps.queueUpdate({ incidentId: id, update, seq: `${seq}${arming}`, origin });
    return 'done';
  }
}
