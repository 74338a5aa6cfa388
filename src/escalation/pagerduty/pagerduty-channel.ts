/**
 * PagerDuty as a channel: a `pagerduty` step triggers an Events API v2 event whose dedup key is stable for the
 * incident; acknowledging and resolving the incident in sloe acknowledge and resolve it there (unless the change
 * came from PagerDuty itself).
 */
import type { Incident } from '../../engine/incident.js';
import { formatLabels } from '../../evaluator/labels.js';
import { expandReferences } from '../../rules/env.js';
import type { Step } from '../../rules/model.js';
import type { Channel, DeliveryResult, StepContext, UpdateContext } from '../notifier.js';
import { type PagerDutyConfig, sendEvent } from './client.js';

const DEDUP_PREFIX = 'sloe-';

/** The dedup key of an incident: PagerDuty groups every event of it into one PagerDuty incident. */
export function dedupKey(incident: Pick<Incident, 'id'>): string {
  return `${DEDUP_PREFIX}${incident.id}`;
}

/** The incident id behind a dedup key, or undefined for keys sloe did not make. */
export function incidentIdOf(key: string | undefined): string | undefined {
  return key?.startsWith(DEDUP_PREFIX) ? key.slice(DEDUP_PREFIX.length) : undefined;
}

export class PagerDutyChannel implements Channel {
  readonly name = 'pagerduty';

  constructor(
    private readonly config: PagerDutyConfig,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /**
   * The routing key of a step: its own `${VAR}`, filled in now, or PAGERDUTY_ROUTING_KEY. A reference to a variable
   * specs may not read (a policy frozen into an incident by an older configuration, say) is never filled in: the
   * step fails, visibly, instead of sending that variable to PagerDuty.
   */
  private routingKey(step: Step | undefined): { key?: string; error?: string } {
    if (step?.notify === 'pagerduty' && step.routingKey) {
      const { value, missing, refused } = expandReferences(step.routingKey, this.env);
      if (refused.length > 0) return { error: `routingKey ${step.routingKey} names a variable that specs may not read: ${refused.join(', ')}` };
      if (missing.length === 0 && value) return { key: value };
    }
    return { key: this.config.routingKey };
  }

  async step({ incident, step, stepKey }: StepContext): Promise<DeliveryResult> {
    if (step.notify !== 'pagerduty') return { ok: false, retry: false, error: `not a PagerDuty step: ${step.notify}` };
    const { key: routingKey, error } = this.routingKey(step);
    if (error) return { ok: false, retry: false, error };
    if (!routingKey) return { ok: false, retry: false, error: "no routing key: set PAGERDUTY_ROUTING_KEY or the step's routingKey variable" };
    const summary = `[${incident.severity}] ${incident.sloId}${formatLabels(incident.labels)}: ${incident.message}`.slice(0, 1024);
    const links = [
      ...(incident.dashboard.url ? [{ href: incident.dashboard.url, text: `Dashboard: ${incident.dashboard.title} (owner ${incident.dashboard.owner})` }] : []),
      ...(incident.runbook ? [{ href: incident.runbook, text: 'Runbook' }] : []),
      ...(incident.refs['slack.permalink'] ? [{ href: incident.refs['slack.permalink'], text: 'Slack thread' }] : []),
    ];
    const result = await sendEvent(this.config, {
      routing_key: routingKey,
      event_action: 'trigger',
      dedup_key: dedupKey(incident),
      payload: {
        summary,
        source: incident.service,
        severity: step.severity,
        timestamp: new Date(incident.firedAt).toISOString(),
        component: incident.service,
        group: incident.slo,
        class: incident.signal,
        custom_details: {
          slo: incident.sloId,
          labels: incident.labels,
          value: incident.message,
          condition: incident.condition,
          objective: incident.objective,
          owner: incident.dashboard.owner,
          team: incident.owner,
          dashboard: incident.dashboard.url ?? incident.dashboard.id,
          runbook: incident.runbook,
          sloe_incident: incident.id,
        },
      },
      links,
    });
    return result.ok ? { ok: true, refs: { 'pagerduty.dedupKey': dedupKey(incident), 'pagerduty.step': stepKey }, detail: `PagerDuty incident triggered (${step.severity})` } : result;
  }

  async update({ incident, update, origin }: UpdateContext): Promise<DeliveryResult | undefined> {
    if (!incident.refs['pagerduty.dedupKey'] || origin === this.name) return undefined;
    if (update !== 'acknowledged' && update !== 'resolved') return undefined;
    const [severity, index] = (incident.refs['pagerduty.step'] ?? '').split('.');
    const step = severity === 'page' || severity === 'ticket' ? incident.policy[severity][Number(index)] : undefined;
    const { key: routingKey, error } = this.routingKey(step);
    if (error) return { ok: false, retry: false, error };
    if (!routingKey) return { ok: false, retry: false, error: 'no routing key to tell PagerDuty' };
    const result = await sendEvent(this.config, {
      routing_key: routingKey,
      event_action: update === 'acknowledged' ? 'acknowledge' : 'resolve',
      dedup_key: incident.refs['pagerduty.dedupKey'],
      payload: { summary: incident.message, source: incident.service, severity: 'info' },
    });
    return result.ok ? { ok: true, detail: `PagerDuty incident ${update}` } : result;
  }
}
