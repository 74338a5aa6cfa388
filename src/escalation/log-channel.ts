/** The channel used when a real one is not configured: what would be sent, as one structured log line. */
import type { Incident } from '../incident/model.js';
import type { Logger } from '../observability/log.js';
import { formatLabels } from '../evaluator/labels.js';
import type { Channel, DeliveryResult, StepContext, UpdateContext } from './notifier.js';
import { describeStep } from '../rules/plan.js';

/** The log line of a notification that is written instead of sent: the same fields from every channel. */
export function logNotification(
  log: Logger,
  channel: string,
  step: string,
  target: string,
  incident: Incident,
  extra: Record<string, unknown> = {},
): void {
  log.info(
    {
      event: 'notification',
      channel,
      delivery: 'log',
      step,
      target,
      severity: incident.severity,
      slo: incident.sloId,
      labels: incident.labels,
      owner: incident.dashboard.owner,
      dashboard: incident.dashboard.url ?? incident.dashboard.id,
      runbook: incident.runbook,
      ...extra,
    },
    `${channel} (log only): ${incident.severity} ${incident.sloId}${formatLabels(incident.labels)}: ${incident.message}`,
  );
}

export class LogChannel implements Channel {
  /** `conversation`: this stands in for the channel where the incident is discussed (Slack), which takes notes. */
  constructor(
    readonly name: string,
    private readonly conversation = false,
    readonly logOnly = `${name} is not configured`,
  ) {}

  async step({ incident, step, stepKey, round, log }: StepContext): Promise<DeliveryResult> {
    logNotification(log, this.name, stepKey, describeStep(step), incident, round ? { round } : {});
    return { ok: true, refs: { [`${this.name}.logged`]: '1' }, detail: 'written to the log (channel not configured)' };
  }

  async update({ incident, update, text, origin, log }: UpdateContext): Promise<DeliveryResult | undefined> {
    if (!incident.refs[`${this.name}.logged`]) return undefined;
    if (update === 'note' && (!this.conversation || origin === this.name)) return undefined;
    log.info(
      { event: 'notification-update', channel: this.name, delivery: 'log', update, slo: incident.sloId },
      `${this.name} (log only): incident ${update}${text ? `: ${text}` : ''}`,
    );
    return { ok: true, detail: 'logged' };
  }
}
