/** The channel used when a real one is not configured: what would be sent, as one structured log line. */
import { formatLabels } from '../evaluator/labels.js';
import type { Channel, DeliveryResult, StepContext, UpdateContext } from './notifier.js';
import { describeStep } from './plan.js';

export class LogChannel implements Channel {
  constructor(readonly name: string) {}

  async step({ incident, step, stepKey, log }: StepContext): Promise<DeliveryResult> {
    log.info(
      {
        event: 'notification',
        channel: this.name,
        delivery: 'log',
        step: stepKey,
        target: describeStep(step),
        severity: incident.severity,
        slo: incident.sloId,
        labels: incident.labels,
        owner: incident.dashboard.owner,
        dashboard: incident.dashboard.url ?? incident.dashboard.id,
        runbook: incident.runbook,
      },
      `${this.name} (log only): ${incident.severity} ${incident.sloId}${formatLabels(incident.labels)}: ${incident.message}`,
    );
    return { ok: true, refs: { [`${this.name}.logged`]: '1' }, detail: 'written to the log (channel not configured)' };
  }

  async update({ incident, update, text, log }: UpdateContext): Promise<DeliveryResult | undefined> {
    if (!incident.refs[`${this.name}.logged`]) return undefined;
    log.info({ event: 'notification-update', channel: this.name, delivery: 'log', update, slo: incident.sloId }, `${this.name} (log only): incident ${update}${text ? `: ${text}` : ''}`);
    return { ok: true, detail: 'logged' };
  }
}
