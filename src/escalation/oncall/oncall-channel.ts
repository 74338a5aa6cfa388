/**
 * The `oncall` step: pages the member on call at that moment — a direct Slack message with the Ack button (the
 * incident's thread gets a note from the escalator), and, with a PagerDuty API token and the member's PagerDuty id,
 * the PagerDuty incident reassigned to them. Every page records who was paged.
 */
import type { Config } from '../../rules/model.js';
import type { Channel, DeliveryResult, StepContext, UpdateContext } from '../notifier.js';
import { type PagerDutyConfig, reassign } from '../pagerduty/client.js';
import { incidentMessage } from '../slack/blocks.js';
import { escapeText } from '../slack/mrkdwn.js';
import type { SlackApi } from '../slack/slack-channel.js';
import { logNotification } from '../log-channel.js';
import { onCallAt } from './schedule.js';

export class OnCallChannel implements Channel {
  readonly name = 'oncall';
  readonly logOnly: string | undefined;

  constructor(
    private readonly config: () => Config,
    private readonly slack?: SlackApi,
    private readonly pagerduty?: PagerDutyConfig,
  ) {
    this.logOnly = slack ? undefined : 'Slack is not configured: who is paged is written to the log';
  }

  async step({ incident, step, stepKey, log, now, group }: StepContext): Promise<DeliveryResult> {
    if (step.notify !== 'oncall') return { ok: false, retry: false, error: `not an on-call step: ${step.notify}` };
    const schedule = this.config().schedules.get(step.schedule);
    if (!schedule)
      return {
        ok: false,
        retry: false,
        error: `on-call schedule ${step.schedule} is not in the configuration any more`,
      };
    const onCall = onCallAt(schedule, now());
    const member = onCall.member;
    if (!member)
      return { ok: false, retry: false, error: `nobody is on call for ${schedule.name} and it has no fallback` };
    const why = onCall.source === 'rotation' ? `on call for ${schedule.name}` : `${onCall.source} of ${schedule.name}`;
    const refs: Record<string, string> = { 'oncall.member': member.name, 'oncall.source': onCall.source };
    const done: string[] = [];

    if (this.slack && member.slack) {
      const dm = await this.slack.openDm(member.slack);
      if (!dm.ok) return dm;
      const intro = `:pager: <@${member.slack}>, you are ${escapeText(why)}. Please look at this incident and press *Ack*.`;
      const posted = await this.slack.post(dm.channel!, incidentMessage(incident, intro, group));
      if (!posted.ok) return posted;
      refs['oncall.dm.channel'] = posted.channel!;
      refs['oncall.dm.ts'] = posted.ts!;
      // Plain text: this detail goes to the audit trail and, escaped, into the incident's thread.
      done.push(`paged ${member.name} (Slack user ${member.slack}, ${why}) by Slack DM`);
    } else {
      logNotification(log, this.name, stepKey, `oncall ${schedule.name}: ${member.name} (${onCall.source})`, incident, {
        member: member.name,
      });
      done.push(`paged ${member.name} (${why})${this.slack ? ': no Slack id on record' : ''}`);
    }

    const dedupKey = incident.refs['pagerduty.dedupKey'];
    if (this.pagerduty?.apiToken && member.pagerduty && dedupKey) {
      const r = await reassign(this.pagerduty, dedupKey, member.pagerduty, member.email ?? this.pagerduty.from);
      done.push(r.ok ? `PagerDuty incident reassigned to ${member.name}` : `PagerDuty reassignment failed: ${r.error}`);
      if (!r.ok)
        log.warn(
          { event: 'reassign-failed', member: member.name, error: r.error },
          `could not reassign the PagerDuty incident to ${member.name}`,
        );
    }
    return { ok: true, refs, detail: done.join('; ') };
  }

  async update({ incident, update, group }: UpdateContext): Promise<DeliveryResult | undefined> {
    const channel = incident.refs['oncall.dm.channel'];
    const ts = incident.refs['oncall.dm.ts'];
    if (!this.slack || !channel || !ts || update === 'note') return undefined;
    return this.slack.update(channel, ts, incidentMessage(incident, undefined, group));
  }
}
