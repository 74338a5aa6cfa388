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
   * once Redis' clock has passed it ('expired'): the one who asked was told it did not happen. An incident in a group
   * is acknowledged with its whole group, as are snoozes and resolutions by hand: the group's message and PagerDuty
   * incident speak for all of them.
   */
  async acknowledge(id: string, by: string, via = 'api', deadline?: number): Promise<IncidentAction> {
    const at = this.deps.now();
    const { leader, ids } = await this.targets(id);
    const before = await this.each(ids, (m) =>
      this.deps.store.acknowledge(
        m,
        at,
        by,
        { at, type: 'acknowledged', by, detail: `acknowledged via ${via}${this.with(m, leader)}` },
        deadline,
      ),
    );
    return this.after(leader, before, 'acknowledged', `acknowledged by ${by} via ${via}`, via);
  }

  /** Resolves an incident by hand: what was opened is resolved; a breach that persists fires anew after `for`. */
  async resolve(id: string, by: string, via = 'api', deadline?: number): Promise<IncidentAction> {
    const incident = await this.deps.store.get(id);
    if (!incident) return 'missing';
    const at = this.deps.now();
    const { leader, ids } = await this.targets(id);
    const before = await this.each(ids, async (m) => {
      const member = m === id ? incident : await this.deps.store.get(m);
      if (!member) return 'missing';
      const was = await this.deps.store.resolve(
        member,
        at,
        by,
        { at, type: 'resolved', by, detail: `resolved via ${via}${this.with(m, leader)}` },
        deadline,
      );
      return was === 'resolved' || was === 'expired' || was === 'missing' ? was : 'firing';
    });
    return this.after(leader, before, 'resolved', `resolved by ${by} via ${via}`, via);
  }

  /** Holds the escalation of a firing incident for `ms`. */
  async snooze(id: string, ms: number, by: string, via = 'api', deadline?: number): Promise<IncidentAction> {
    const at = this.deps.now();
    const until = at + ms;
    const { leader, ids } = await this.targets(id);
    const before = await this.each(ids, (m) =>
      this.deps.store.snooze(
        m,
        until,
        {
          at,
          type: 'snoozed',
          by,
          detail: `snoozed until ${new Date(until).toISOString()} via ${via}${this.with(m, leader)}`,
        },
        deadline,
      ),
    );
    return this.after(leader, before, 'snoozed', `snoozed by ${by} via ${via}`, via, String(until));
  }

  /** What an action on `id` acts on: its group (the leader first) when it is in one, else itself. */
  private async targets(id: string): Promise<{ leader: string; ids: string[] }> {
    const leader = await this.deps.store.groupOf(id);
    if (!leader) return { leader: id, ids: [id] };
    const members = await this.deps.store.members(leader);
    return { leader, ids: [leader, ...members.map((m) => m.id).filter((m) => m !== leader)] };
  }

  /** Acts on each incident; the status before is 'firing' when any of them was (the action was done), else the first's. */
  private async each(ids: readonly string[], act: (id: string) => Promise<string>): Promise<string> {
    const before: string[] = [];
    for (const id of ids) before.push(await act(id));
    return before.includes('firing') ? 'firing' : before[0]!;
  }

  /** The audit note of a member acted on with its group. */
  private with(id: string, leader: string): string {
    return id === leader ? '' : ` with its group (incident ${leader})`;
  }

  private async after(
    id: string,
    before: string,
    update: UpdateJob['update'],
    what: string,
    origin: string,
    seq = 'manual',
  ): Promise<IncidentAction> {
    if (before === 'missing' || before === 'expired') return before;
    if (before !== 'firing') return 'already';
    const incident = await this.deps.store.get(id);
    this.deps.log.info(
      { event: `incident-${update}`, incidentId: id, traceId: incident?.traceId, slo: incident?.sloId },
      what,
    );
    // A re-armed incident is acknowledged once per arming.
    const arming = update === 'acknowledged' && incident?.rearms ? `.${incident.rearms}` : '';
    await this.deps.queueUpdate({ incidentId: id, update, seq: `${seq}${arming}`, origin });
    return 'done';
  }
}
